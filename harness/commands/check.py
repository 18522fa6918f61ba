"""``ragsweep check [overrides]``: every model, tokenizer and data file that a run or a
sweep preset needs, and whether it is present, before any work starts.

    ragsweep check +sweep=default
    ragsweep check task=chroma_general retriever=dense

Exits 1 when anything is missing, with what to do about it.
"""

from __future__ import annotations

import itertools
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from omegaconf import OmegaConf, open_dict

from ragsweep.paths import CONFIG_DIR
from ragsweep.errors import RagsweepError
from ragsweep.models.weights import availability
from ragsweep.tasks.base import build_task, resolve_path
from ragsweep.tasks.keyword_file import split_task_config
from ragsweep.help_text import plain_doc
from ragsweep.logs import setup_logging

log = logging.getLogger("ragsweep.commands.check")


@dataclass(frozen=True)
class Requirement:
    kind: str  # model | tokenizer | data
    name: str
    present: bool
    where: str


@dataclass(frozen=True)
class ComposedRun:
    config: dict[str, Any]  # resolved
    choices: dict[str, str]  # config group -> the file chosen
    overrides: list[str]  # the job's own overrides, as its run name reads them


def compose_runs(overrides: list[str]) -> list[ComposedRun]:
    """Every run that ``overrides`` (a sweep preset included) would launch."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from ragsweep.plugins import with_search_path

    search = with_search_path([])  # the installed plugins' config folders: kept apart, its commas are no sweep
    parser = OverridesParser.create()
    fixed = [o.input_line for o in parser.parse_overrides(overrides) if not o.is_sweep_override()]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        base = compose("config", overrides=[*fixed, *search], return_hydra_config=True)  # the preset's axes; a swept key is no value
        params = OmegaConf.to_container(base.hydra.sweeper.params) if base.hydra.sweeper.params else {}
        # As Hydra's basic sweeper does: the preset's params, then the command line; a key given again replaces
        # its earlier values (``retriever=bm25`` narrows a preset that sweeps three retrievers to one).
        axes: dict[str, list[str]] = {}
        for o in parser.parse_overrides([f"{k}={v}" for k, v in params.items()] + overrides):
            key = o.get_key_element()
            axes[key] = [f"{key}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override() else [o.input_line]
        runs = []
        for combo in itertools.product(*axes.values()):
            cfg = compose("config", overrides=list(combo) + search, return_hydra_config=True)
            choices = {str(k): str(v) for k, v in cfg.hydra.runtime.choices.items() if not str(k).startswith("hydra")}
            with open_dict(cfg):
                del cfg["hydra"]
            runs.append(ComposedRun(OmegaConf.to_container(cfg, resolve=True), choices, list(combo)))
    return runs


def _values_of(node: Any, key: str) -> Iterator[str]:
    """Every string value stored under ``key`` anywhere in a nested config, except inside a backend
    config served by a remote server (``backend: openai``: its model lives on the server)."""
    if isinstance(node, dict) and node.get("backend") == "openai":
        return
    if isinstance(node, dict):
        for k, value in node.items():
            if k == key and isinstance(value, str):
                yield value
            else:
                yield from _values_of(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _values_of(item, key)


def requirements(runs: list[dict[str, Any]]) -> list[Requirement]:
    from ragsweep.text import tiktoken_encoding

    found: dict[tuple[str, str], Requirement] = {}
    for run in runs:
        components = {g: run[g] for g in ("chunker", "retriever", "reranker", "selector", "generator", "judge", "assessor") if g in run}
        for model_id in [*_values_of(components, "model"), *_values_of(components, "embedder")]:
            if ("model", model_id) not in found:
                present, where = availability(model_id)
                found[("model", model_id)] = Requirement("model", model_id, present, where)
        for encoding in _values_of(components, "encoding"):
            if ("tokenizer", encoding) not in found:
                try:
                    tiktoken_encoding(encoding)
                    found[("tokenizer", encoding)] = Requirement("tokenizer", encoding, True, "tiktoken")
                except Exception as err:  # tiktoken raises network errors when it must download
                    found[("tokenizer", encoding)] = Requirement("tokenizer", encoding, False, f"{type(err).__name__}")
        try:
            task_parts = split_task_config(run["task"])
            files = build_task(task_parts.own).data_files() + task_parts.annotation_files()
        except RagsweepError as err:
            found[("data", str(run["task"]))] = Requirement("data", run["task"].get("path", "?"), False, str(err))
            continue
        for f in files:
            found.setdefault(("data", str(f)), Requirement("data", str(f), Path(f).exists(), "file"))
        if outputs := (run.get("outputs") or {}).get("path"):
            f = resolve_path(str(outputs))
            found.setdefault(("data", str(f)), Requirement("data", str(f), f.is_file(), "file (outputs.path)"))
        if (run.get("tracking") or {}).get("name") == "mlflow" and ("package", "mlflow") not in found:
            import importlib.util

            present = importlib.util.find_spec("mlflow") is not None
            found[("package", "mlflow")] = Requirement("package", "mlflow", present, "installed" if present else "pip install 'ragsweep[mlflow]'")
    return list(found.values())


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    overrides = list(sys.argv[1:] if argv is None else argv)
    if {"-h", "--help"} & set(overrides):
        print("usage: ragsweep check [HYDRA_OVERRIDES ...]\n\n" + plain_doc(__doc__).strip())
        return 0
    runs = compose_runs(overrides)
    reqs = requirements([r.config for r in runs])
    width = max(len(r.name) for r in reqs) if reqs else 10
    lines = [f"{len(runs)} run(s) need {len(reqs)} item(s):"]
    for r in sorted(reqs, key=lambda r: (r.kind, r.name)):
        lines.append(f"  {'ok     ' if r.present else 'MISSING'} {r.kind:9} {r.name:{width}}  {r.where}")
    missing = [r for r in reqs if not r.present]
    if missing:
        advice = []
        if any(r.kind == "model" and r.name.startswith("bundled:") for r in missing):
            advice.append("Bundled models: run the pip command on their line.")
        if any(r.kind == "model" and not r.name.startswith("bundled:") for r in missing):
            advice.append("Hub models: set RAGSWEEP_ALLOW_DOWNLOADS=1 on a machine with internet, or point the config at a local folder.")
        if any(r.kind == "data" and r.where == "file" for r in missing):
            advice.append("Data: set task.path (or RAGSWEEP_DATA) to the suite's folder.")
        if any(r.kind == "data" and r.where == "file (outputs.path)" for r in missing):
            advice.append("Outputs: outputs.path must name the system's outputs file.")
        if any(r.kind not in ("model", "data") for r in missing):
            advice.append("Tokenizers and packages: the line says what failed or what to install.")
        lines.append(f"{len(missing)} missing. " + " ".join(advice))
    print("\n".join(lines), flush=True)  # a table: stdout (`ragsweep check | grep MISSING`); logs stay on stderr
    return 1 if missing else 0
