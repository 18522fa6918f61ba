"""A finished sweep is not run again unless something it depends on changed (ragsweep.engine.uptodate)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ragsweep.engine import uptodate
from ragsweep.paths import SOURCE_ROOT
from tests.test_plugins import user_project

pytestmark = pytest.mark.process

SWEEP = ["run", "-m", "task=span_mini", "chunker=fixed_tokens,recursive", "retriever=bm25", "generator=none", "hydra/launcher=basic"]
UP_TO_DATE = "sweep up to date: its 2 runs were written with the same configs, code, packages and data"


def ragsweep(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([sys.executable, "-m", "ragsweep", *args], capture_output=True, text=True, cwd=cwd, env=env or dict(os.environ), timeout=300)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    return out.stdout + out.stderr


def sweeps_started(cwd: Path) -> int:
    folder = cwd / "results" / "hydra" / "adhoc"
    return len(list(folder.iterdir())) if folder.is_dir() else 0


def test_a_finished_sweep_runs_again_only_when_an_input_or_output_changed(tmp_path):
    suite = tmp_path / "suite"
    shutil.copytree(SOURCE_ROOT / "tasks" / "data" / "span_mini", suite)
    sweep = [*SWEEP, f"task.path={suite}"]
    assert UP_TO_DATE not in ragsweep(tmp_path, *sweep) and sweeps_started(tmp_path) == 1
    [manifest] = (tmp_path / "results" / "sweeps").iterdir()
    recorded = json.loads(manifest.read_text())
    assert len(recorded["runs"]) == 2 and any(p.startswith(str(suite)) for p in recorded["data"])
    assert UP_TO_DATE in ragsweep(tmp_path, *sweep) and sweeps_started(tmp_path) == 1  # nothing started

    assert UP_TO_DATE not in ragsweep(tmp_path, *sweep, "--rerun") and sweeps_started(tmp_path) == 2

    run_dir = Path(recorded["runs"][0]["dir"])
    (run_dir / "metrics.json").write_text("{}")  # an edited result is not up to date
    log = ragsweep(tmp_path, *sweep)
    assert f"run folder {run_dir} changed or is gone since the sweep finished: running the sweep" in log and sweeps_started(tmp_path) == 3
    assert json.loads((run_dir / "metrics.json").read_text())["metrics"]  # written again

    data_file = next(p for p in sorted((suite / "corpora").iterdir()) if p.suffix == ".md")
    data_file.write_text(data_file.read_text() + " A changed sentence.")
    assert "changed (content, or where its path leads)" in ragsweep(tmp_path, *sweep) and sweeps_started(tmp_path) == 4
    assert UP_TO_DATE in ragsweep(tmp_path, *sweep) and sweeps_started(tmp_path) == 4

    changed_env = {**os.environ, "RAGSWEEP_CACHE": str(tmp_path / "other-cache")}
    assert UP_TO_DATE not in ragsweep(tmp_path, *sweep, env=changed_env) and sweeps_started(tmp_path) == 5


def test_a_changed_component_source_runs_the_sweep_again(tmp_path):
    env = user_project(tmp_path)
    sweep = ["run", "-m", "--config-dir", str(tmp_path / "conf"), "hydra/launcher=basic", "task=span_mini", "chunker=every_n",
             "chunker.size=200,450", "retriever=bm25", "generator=none"]
    ragsweep(tmp_path, *sweep, env=env)
    assert "sweep up to date: its 2 runs" in ragsweep(tmp_path, *sweep, env=env)
    plugin = tmp_path / "plugins" / "my_chunkers" / "every_n.py"
    plugin.write_text(plugin.read_text() + "\n# a change\n")
    assert "sweep up to date" not in ragsweep(tmp_path, *sweep, env=env)
    (tmp_path / "conf" / "chunker" / "every_n.yaml").write_text("_target_: my_chunkers.every_n.EveryNChars\nsize: 301\n")
    assert "sweep up to date" not in ragsweep(tmp_path, *sweep, env=env)


@pytest.mark.parametrize("argv", [
    ["--cfg", "job", "-m", "task=span_mini"],
    ["--config-name", "other", "-m"],
    ["-m", "hydra.searchpath=[file:///elsewhere]"],
    ["-m", "a_word_without_equals"],
])
def test_command_lines_it_does_not_model_are_always_run(argv):
    assert uptodate.parse_command_line(argv) is None and uptodate.fingerprint(argv) is None


def test_the_fingerprint_follows_what_runs_depend_on(tmp_path, monkeypatch):
    conf = tmp_path / "conf" / "task"
    conf.mkdir(parents=True)
    (conf / "mine.yaml").write_text("path: ${oc.env:MY_SUITE_DIR,here}\n")
    argv = ["-m", "--config-dir", str(tmp_path / "conf"), "task=mine"]
    base = uptodate.fingerprint(argv)
    assert base is not None and uptodate.fingerprint(argv) == base
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")
    assert uptodate.fingerprint(argv) == base
    monkeypatch.setenv("MY_SUITE_DIR", "/data")  # read by a config: part of the fingerprint
    assert uptodate.fingerprint(argv) != base
    monkeypatch.delenv("MY_SUITE_DIR")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a variable the model libraries read
    assert uptodate.fingerprint(argv) != base
    monkeypatch.delenv("HF_ENDPOINT")
    assert uptodate.fingerprint([*argv, "seed=1"]) != base
    (tmp_path / "elsewhere" / "some_tool-1.0.dist-info").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tmp_path / "elsewhere"))  # `python -m` puts the working folder first: same sweep
    assert uptodate.fingerprint(argv) == base
    monkeypatch.chdir(tmp_path)
    assert uptodate.fingerprint(argv) != base  # relative paths mean another thing elsewhere
    (conf / "mine.yaml").write_text("# e.g. _target_: nowhere_to_be_found.Task   (an example in a comment names nothing)\npath: x\n")
    assert uptodate.fingerprint(argv) is not None
    (conf / "mine.yaml").write_text("_target_: nowhere_to_be_found.Task\n")
    assert uptodate.fingerprint(argv) is None  # a component whose source cannot be found: always run


def _manifest_for(tmp_path: Path, failed_llm_results: int) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    data = tmp_path / "questions.jsonl"
    data.write_text("{}\n")
    (run_dir / "run.json").write_text(json.dumps({"failed_llm_results": failed_llm_results, "data_files": [str(data)], "code": {}}))
    (run_dir / "metrics.json").write_text("{}")
    (run_dir / "records.parquet").write_bytes(b"PAR1")
    path = tmp_path / "sweeps" / "m.json"
    uptodate.record(path, "f" * 64, [str(run_dir)])
    return path


def test_a_sweep_with_failed_llm_results_leaves_no_manifest(tmp_path):
    assert not _manifest_for(tmp_path, failed_llm_results=2).exists()


@pytest.mark.parametrize("run_json", [
    "{truncated", "{}", '{"failed_llm_results": 0}', '{"failed_llm_results": 0, "data_files": 5}', '{"failed_llm_results": 0, "data_files": []}',
])
def test_a_run_that_does_not_say_what_it_read_leaves_no_manifest(tmp_path, caplog, run_json):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text(run_json)
    caplog.set_level(logging.WARNING)
    uptodate.record(tmp_path / "m.json", "f" * 64, [str(tmp_path / "run")])
    assert not (tmp_path / "m.json").exists() and "does not say what the run read and ran" in caplog.text


def test_manifests_that_do_not_match_are_not_trusted(tmp_path, caplog):
    path = _manifest_for(tmp_path, failed_llm_results=0)
    assert uptodate.up_to_date_runs(path, "f" * 64) == [str(tmp_path / "run")]
    assert uptodate.up_to_date_runs(path, "e" * 64) is None  # another sweep's fingerprint
    caplog.set_level(logging.WARNING)
    path.write_text(path.read_text()[:-20])  # truncated
    assert uptodate.up_to_date_runs(path, "f" * 64) is None
    assert f"unreadable sweep manifest {path}" in caplog.text
    path.write_text(json.dumps({"format": 2, "fingerprint": "f" * 64, "runs": "not a list", "data": {}, "code": {}}))
    assert uptodate.up_to_date_runs(path, "f" * 64) is None
