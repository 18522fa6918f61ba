"""tracking=mlflow: each written run is also an MLflow run, nested under one parent run per sweep.

Logged from the run folder (so MLflow holds what the folder holds, never a second computation): the resolved
config as parameters (nested keys joined by dots), every metric as its mean with ``<name>.ci_low``,
``<name>.ci_high`` and ``<name>.n`` beside it, the run's summary counts as ``summary.<field>``, the run's files as
artifacts, and tags for the sweep, run folder, config hash, data identity, git sha and each judged column's judge
and calibration. MLflow metric names allow no ``@``: ``doc_ndcg@10`` is logged as ``doc_ndcg_at_10`` (the
``ragsweep.metric_names`` tag maps them back).

The sweep's parent run is created once by the command's process (``start_sweep``) and its id written into the
sweep folder, where every job, in whatever process or node, finds it. The MLflow client is imported only here.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from ragsweep.errors import ConfigError, DataError, RagsweepError
from ragsweep.registry import TRACKERS
from ragsweep.store.cache import atomic_write_bytes
from ragsweep.store.run_folder import RunFolder

log = logging.getLogger("ragsweep.tracking")
PARENT_FILE = "mlflow_parent.json"
RUN_FILES = ("config.yaml", "metrics.json", "run.json")
MAX_PARAM_CHARS = 6000  # MLflow's limit on a parameter value


class TrackingError(RagsweepError):
    """The tracker could not record a run that is written: one line naming the tracker and what failed."""


def metric_key(name: str) -> str:
    """An MLflow metric name for a ragsweep one: ``@`` (not allowed by MLflow) becomes ``_at_``."""
    return name.replace("@", "_at_")


def flat_params(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config keys joined by dots; lists as JSON; values cut to MLflow's limit, the cut marked."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_params(value, f"{name}."))
            continue
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, bool)) or value is None else str(value)
        out[name] = text if len(text) <= MAX_PARAM_CHARS else text[: MAX_PARAM_CHARS - 1] + "…"
    return out


def run_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """metrics.json as MLflow metrics: each metric's mean, interval bounds and n, and the numeric summary."""
    out: dict[str, float] = {}
    for name, stat in metrics["metrics"].items():
        if stat.get("mean") is None:
            continue
        key = metric_key(name)
        out[key] = float(stat["mean"])
        for field in ("ci_low", "ci_high", "n"):
            if stat.get(field) is not None:
                out[f"{key}.{field}"] = float(stat[field])
    for field, value in metrics.get("summary", {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"summary.{metric_key(field)}"] = float(value)
    return out


def run_tags(metrics: dict[str, Any], info: dict[str, Any]) -> dict[str, str]:
    git = info.get("git") or {}
    tags = {
        "ragsweep.sweep": str(info.get("sweep")), "ragsweep.run": str(info.get("run")), "ragsweep.config_hash": str(info.get("config_hash")),
        "ragsweep.data_identity": str(metrics.get("data_identity")), "ragsweep.headline": str(metrics.get("headline")),
        "ragsweep.git_sha": str(git.get("sha") if isinstance(git, dict) else git) + ("+dirty" if isinstance(git, dict) and git.get("dirty") else ""),
        "ragsweep.metric_names": json.dumps({metric_key(n): n for n in metrics["metrics"] if metric_key(n) != n}),
        **{f"ragsweep.component.{group}": str(label) for group, label in metrics.get("components", {}).items()},
    }
    for column, judge in (metrics.get("judges") or {}).items():  # a judged number never goes without its judge
        calibration = judge.get("calibration")
        tags[f"ragsweep.judge.{metric_key(column)}"] = json.dumps({"judge_id": judge.get("judge_id"), "calibrated": calibration is not None,
                                                                  "calibration": calibration}, default=str)[:MAX_PARAM_CHARS]
    return tags


DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
PROBE_TIMEOUT_S = 5.0


@TRACKERS.register("mlflow")
class MlflowTracker:
    def __init__(self, tracking_uri: str | None = None, experiment: str = "ragsweep", log_records: bool = True, results_root: str = "results"):
        self.uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or (Path(results_root).resolve() / "mlruns").as_uri()
        self.experiment, self.log_records = experiment, log_records
        try:  # when the tracker is built, before any work: a run without the client stops in one line, not after it
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise ConfigError("tracking=mlflow needs the MLflow client: pip install 'ragsweep[mlflow]' (or mlflow)") from None
        self.client_class = MlflowClient
        scheme = self.uri.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme in DATABASE_SCHEMES and importlib.util.find_spec("alembic") is None:
            raise ConfigError(f"tracking.tracking_uri={self.uri!r}: a database store needs the full mlflow package (its server side), which the "
                              "mlflow extra does not install (it pins pyarrow < 26); give a tracking server's URI (mlflow server --backend-store-uri "
                              f"{self.uri}) or leave tracking_uri null for the local store")
        self.reachable = False

    def probe(self) -> None:
        """A tracking server that does not answer is one line within seconds: MLflow's client would retry for minutes."""
        if self.reachable or not self.uri.startswith(("http://", "https://")):
            return
        from urllib.parse import urlsplit

        parts = urlsplit(self.uri)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname or "localhost", port), timeout=PROBE_TIMEOUT_S).close()
        except OSError as err:
            raise TrackingError(f"mlflow tracking at {self.uri}: the server does not answer ({err.strerror or err}); start it, or point "
                                "tracking.tracking_uri (or MLFLOW_TRACKING_URI) at one that runs, or use tracking=none") from None
        self.reachable = True

    def client(self) -> Any:
        self.probe()
        if self.uri.startswith("file:"):
            # MLflow 3 keeps its file store in maintenance mode behind this switch; it is what works offline with the
            # client alone (a database store needs the full mlflow package). `mlflow migrate-filestore` moves it.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        return self.client_class(tracking_uri=self.uri)

    def experiment_id(self, client: Any) -> str:
        found = client.get_experiment_by_name(self.experiment)
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(client.create_experiment(self.experiment))
        except Exception:  # another job created it first
            found = client.get_experiment_by_name(self.experiment)
            if found is None:
                raise
            return str(found.experiment_id)

    def guarded(self, what: str, fn: Any) -> Any:
        """Run ``fn``; an MLflow failure (server down, refused write) becomes one line naming the tracker."""
        try:
            return fn()
        except RagsweepError:
            raise
        except Exception as err:
            raise TrackingError(f"mlflow tracking at {self.uri}: {what} failed ({type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''})") from None

    def start_sweep(self, sweep_name: str, sweep_dir: Path) -> None:
        def start() -> None:
            client = self.client()
            run = client.create_run(self.experiment_id(client), run_name=f"sweep {sweep_name}",
                                    tags={"ragsweep.sweep": sweep_name, "ragsweep.sweep_dir": str(sweep_dir)})
            sweep_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(sweep_dir / PARENT_FILE, json.dumps({"run_id": run.info.run_id, "tracking_uri": self.uri}).encode("utf-8"))
            log.info("mlflow: sweep %s is run %s at %s", sweep_name, run.info.run_id, self.uri)

        self.guarded(f"starting the sweep {sweep_name}", start)

    def parent_id(self, sweep_dir: Path | None) -> str | None:
        path = sweep_dir / PARENT_FILE if sweep_dir is not None else None
        if path is None or not path.is_file():
            return None
        try:
            run_id = json.loads(path.read_text("utf-8")).get("run_id")
        except (ValueError, UnicodeDecodeError, AttributeError) as err:
            raise DataError(path, f"not the sweep's parent-run record ({type(err).__name__}); remove it and run the sweep again "
                                  "to start a new parent run") from None
        if not isinstance(run_id, str) or not run_id.strip():
            raise DataError(path, f"expected the parent run's id, got {run_id!r}; remove the file and run the sweep again", field="run_id")
        return run_id

    def log_run(self, run_dir: Path, sweep_dir: Path | None) -> None:
        from mlflow.entities import Metric, Param

        from omegaconf import OmegaConf

        folder = RunFolder.read(run_dir, ("metrics", "summary"))  # the one reader of what a run wrote
        metrics, info = folder.metrics, folder.info

        config = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"), resolve=False)
        parent = self.parent_id(sweep_dir)

        def record() -> None:
            client = self.client()
            tags = {**run_tags(metrics, info), **({"mlflow.parentRunId": parent} if parent else {})}
            run = client.create_run(self.experiment_id(client), run_name=run_dir.name, tags=tags)
            now = int(time.time() * 1000)
            client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in flat_params(config).items()])  # type: ignore[arg-type]
            client.log_batch(run.info.run_id, metrics=[Metric(k, v, now, 0) for k, v in run_metrics(metrics).items()])
            for name in (*RUN_FILES, *(("records.parquet",) if self.log_records else ())):
                client.log_artifact(run.info.run_id, str(run_dir / name))
            client.set_terminated(run.info.run_id, "FINISHED")
            log.info("mlflow: %s logged as run %s%s", run_dir.name, run.info.run_id, f" under {parent}" if parent else "")

        self.guarded(f"logging {run_dir.name} (its folder is written: {run_dir})", record)

    def end_sweep(self, sweep_dir: Path, ok: bool, report: Path | None) -> None:
        parent = self.parent_id(sweep_dir)
        if parent is None:
            return

        def end() -> None:
            client = self.client()
            if report is not None and report.is_file():
                client.log_artifact(parent, str(report))
            client.set_terminated(parent, "FINISHED" if ok else "FAILED")

        self.guarded("closing the sweep's run", end)
