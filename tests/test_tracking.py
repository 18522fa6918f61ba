"""tracking=mlflow with the real MLflow client: a local store offline, and a real `mlflow server` on 127.0.0.1 that
the test starts and stops (the server from make mlflow-env's environment)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ragsweep.errors import ConfigError
from ragsweep.tracking.mlflow import MAX_PARAM_CHARS, MlflowTracker, flat_params, metric_key, run_metrics, run_tags

REPO = Path(__file__).resolve().parents[1]
MLFLOW_SERVER = REPO / ".venv-mlflow" / "bin" / "mlflow"


def test_names_params_and_metrics_as_mlflow_takes_them():
    assert metric_key("doc_ndcg@10") == "doc_ndcg_at_10" and metric_key("judge_faithfulness") == "judge_faithfulness"
    params = flat_params({"chunker": {"name": "recursive", "size": 400, "separators": ["\n\n", " "]}, "seed": 0, "x": None, "ok": True,
                          "long": "a" * (MAX_PARAM_CHARS + 5)})
    assert params["chunker.name"] == "recursive" and params["chunker.size"] == "400" and params["chunker.separators"] == '["\\n\\n", " "]'
    assert params["seed"] == "0" and params["x"] == "null" and params["ok"] == "true"
    assert len(params["long"]) == MAX_PARAM_CHARS and params["long"].endswith("…")
    metrics = {"metrics": {"span_iou@5": {"mean": 0.25, "ci_low": 0.2, "ci_high": 0.3, "n": 14}, "judge_x": {"mean": None, "n": 0}},
               "summary": {"n_queries": 14, "mean_latency_s": 0.5, "note": "text", "flag": True}}
    assert run_metrics(metrics) == {"span_iou_at_5": 0.25, "span_iou_at_5.ci_low": 0.2, "span_iou_at_5.ci_high": 0.3, "span_iou_at_5.n": 14.0,
                                    "summary.n_queries": 14.0, "summary.mean_latency_s": 0.5}
    tags = run_tags({**metrics, "data_identity": "abc", "components": {"chunker": "recursive size=400"},
                     "judges": {"judge_x": {"judge_id": "j1", "calibration": None}}},
                    {"sweep": "s", "run": "r", "config_hash": "h", "git": {"sha": "f00", "dirty": True}})
    assert tags["ragsweep.git_sha"] == "f00+dirty" and tags["ragsweep.data_identity"] == "abc"
    assert tags["ragsweep.component.chunker"] == "recursive size=400" and json.loads(tags["ragsweep.metric_names"]) == {"span_iou_at_5": "span_iou@5"}
    assert json.loads(tags["ragsweep.judge.judge_x"]) == {"judge_id": "j1", "calibrated": False, "calibration": None}  # shown as uncalibrated


def test_without_the_client_one_line_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(ConfigError, match=r"tracking=mlflow needs the MLflow client: pip install 'ragsweep\[mlflow\]'"):
        MlflowTracker(tracking_uri="file:///nowhere").client()


@pytest.mark.parametrize("content, expected", [
    ("", r"mlflow_parent.json: not the sweep's parent-run record \(JSONDecodeError\); remove it and run the sweep again"),
    ('{"run_id": "ab', r"mlflow_parent.json: not the sweep's parent-run record \(JSONDecodeError\)"),
    ('["ab"]', r"mlflow_parent.json: not the sweep's parent-run record \(AttributeError\)"),
    ('{"run_id": 7}', r"mlflow_parent.json, field 'run_id': expected the parent run's id, got 7"),
    ('{"tracking_uri": "file:///x"}', r"mlflow_parent.json, field 'run_id': expected the parent run's id, got None"),
    (b"\xff\xfe<html>", r"mlflow_parent.json: not the sweep's parent-run record \(UnicodeDecodeError\)"),
])
def test_a_damaged_parent_run_record_is_one_line_naming_it(tmp_path, content, expected):
    from ragsweep.errors import DataError
    from ragsweep.tracking.mlflow import PARENT_FILE

    path = tmp_path / PARENT_FILE
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError, match=expected):
        MlflowTracker(tracking_uri=(tmp_path / "mlruns").as_uri()).parent_id(tmp_path)
    path.write_text('{"run_id": "abc", "tracking_uri": "file:///x"}')
    assert MlflowTracker(tracking_uri=(tmp_path / "mlruns").as_uri()).parent_id(tmp_path) == "abc"


def test_a_run_without_the_client_stops_before_any_work(tmp_path, monkeypatch):
    from tests.helpers import run

    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(ConfigError, match=r"tracking=mlflow needs the MLflow client"):
        run(tmp_path, "task=span_mini", "retriever=bm25", "tracking=mlflow")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cache").exists()  # nothing computed, nothing written


def ragsweep(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAGSWEEP_RESULTS": str(tmp_path / "results"), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
           "MLFLOW_HTTP_REQUEST_TIMEOUT": "10", **(env or {})}
    return subprocess.run([sys.executable, "-m", "ragsweep", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def logged_runs(uri: str) -> dict[str, object]:
    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("ragsweep")
    return {r.info.run_name: (r, client) for r in client.search_runs([experiment.experiment_id])}


def check_run_matches_its_folder(run, client, folder: Path) -> None:
    metrics = json.loads((folder / "metrics.json").read_text())
    info = json.loads((folder / "run.json").read_text())
    for name, stat in metrics["metrics"].items():
        if stat["mean"] is not None:
            key = metric_key(name)
            assert run.data.metrics[key] == pytest.approx(stat["mean"]) and run.data.metrics[f"{key}.n"] == stat["n"]
            assert run.data.metrics[f"{key}.ci_low"] == pytest.approx(stat["ci_low"]) and run.data.metrics[f"{key}.ci_high"] == pytest.approx(stat["ci_high"])
    assert run.data.params["retriever.name"] == "bm25" and run.data.params["seed"] == "0"
    assert run.data.tags["ragsweep.data_identity"] == metrics["data_identity"] and run.data.tags["ragsweep.git_sha"].startswith(str(info["git"]["sha"]))
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == ["config.yaml", "metrics.json", "records.parquet", "run.json"]
    assert run.info.status == "FINISHED"


@pytest.mark.process
def test_a_sweep_is_a_parent_run_with_one_child_per_run_in_a_local_store(tmp_path):
    out = ragsweep(tmp_path, "run", "-m", "task=span_mini", "chunker=fixed_tokens,recursive", "retriever=bm25", "generator=none",
                   "tracking=mlflow", "sweep_name=tracked")
    assert out.returncode == 0, out.stderr[-3000:]
    folders = sorted((tmp_path / "results" / "runs" / "tracked").iterdir())
    assert len(folders) == 2 and all("mlflow" not in f.name and "tracking" not in f.name for f in folders)  # never part of a name
    runs = logged_runs((tmp_path / "results" / "mlruns").as_uri())
    parent, client = runs["sweep tracked"]
    assert parent.info.status == "FINISHED" and [a.path for a in client.list_artifacts(parent.info.run_id)] == ["results.txt"]
    for folder in folders:
        run, client = runs[folder.name]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        check_run_matches_its_folder(run, client, folder)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def mlflow_server(tmp_path):
    if not MLFLOW_SERVER.exists():
        pytest.skip("no MLflow server environment: make mlflow-env (make test builds it)")
    port = free_port()
    server = subprocess.Popen([str(MLFLOW_SERVER), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                               "--backend-store-uri", f"sqlite:///{tmp_path}/mlflow.db", "--artifacts-destination", str(tmp_path / "artifacts")],
                              stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "w"), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"{url}/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start: " + (tmp_path / "server.log").read_text()[-2000:])
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its workers, by the process group of the pid we started
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.mark.process
def test_a_run_logged_to_a_real_mlflow_server(tmp_path, mlflow_server):
    out = ragsweep(tmp_path, "run", "task=span_mini", "retriever=bm25", "generator=none", "tracking=mlflow", f"tracking.tracking_uri={mlflow_server}")
    assert out.returncode == 0, out.stderr[-3000:]
    (folder,) = (tmp_path / "results" / "runs" / "adhoc").iterdir()
    run, client = logged_runs(mlflow_server)[folder.name]
    assert "mlflow.parentRunId" not in run.data.tags  # a single run stands alone
    check_run_matches_its_folder(run, client, folder)


@pytest.mark.process
def test_an_unreachable_tracker_stops_the_sweep_before_any_work_in_one_line(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    out = ragsweep(tmp_path, "run", "-m", "task=span_mini", "chunker=fixed_tokens,recursive", "retriever=bm25", "generator=none",
                   "tracking=mlflow", f"tracking.tracking_uri={url}", "sweep_name=down")
    assert out.returncode == 2, out.stderr[-3000:]
    text = out.stdout + out.stderr
    assert f"mlflow tracking at {url}: the server does not answer (" in text and "Traceback" not in text
    assert not (tmp_path / "results" / "runs" / "down").exists()
