"""Fault injection, stale results (issue 20 part 1): after each change below, a finished sweep is not
reported up to date, it is run again, and its numbers follow the change. Each case changes one input that
decides an output and asserts that the run was recomputed and what it now says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import rank_bm25
from ragsweep.paths import SOURCE_ROOT

pytestmark = pytest.mark.process

UP_TO_DATE = "sweep up to date"
BASE = ["run", "-m", "hydra/launcher=basic", "retriever=bm25", "generator=none", "sweep_name=stale"]


def ragsweep(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    env = {**os.environ, "RAGSWEEP_RESULTS": str(cwd / "results"), "RAGSWEEP_CACHE": str(cwd / "cache"), **(env or {})}
    out = subprocess.run([sys.executable, "-m", "ragsweep", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    return out.stdout + out.stderr


def only_run(cwd: Path) -> tuple[dict, pd.DataFrame]:
    [run_dir] = (cwd / "results" / "runs" / "stale").iterdir()
    return json.loads((run_dir / "run.json").read_text()), pd.read_parquet(run_dir / "records.parquet")


def stage(info: dict, name: str) -> str:
    return info["stages"][name]["status"]


def span_suite(folder: Path) -> Path:
    shutil.copytree(SOURCE_ROOT / "tasks" / "data" / "span_mini", folder)
    return folder


def drop_questions(suite: Path, keep: int) -> None:
    """Keep the first ``keep`` questions (the runs then need task.keywords=null: the bundled keywords name all 14)."""
    path = suite / "questions_df.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: keep + 1]))


def test_a_document_added_to_a_folder_corpus_runs_the_sweep_again(tmp_path):
    suite = tmp_path / "suite"
    (suite / "docs").mkdir(parents=True)
    for i, text in enumerate(["Pumps move water.", "Valves stop water.", "Pipes carry water."]):
        (suite / "docs" / f"d{i}.txt").write_text(text)
    (suite / "questions.jsonl").write_text('{"id": "q1", "question": "What moves water?", "gold_doc_ids": ["d0.txt"]}\n')
    sweep = [*BASE, "task=generic", f"task.path={suite}", "task.corpus=docs", "chunker=fixed_tokens"]
    ragsweep(tmp_path, *sweep)
    info, _ = only_run(tmp_path)
    assert sorted(info["data_hashes"]) == ["docs/d0.txt", "docs/d1.txt", "docs/d2.txt", "questions.jsonl"]
    assert UP_TO_DATE in ragsweep(tmp_path, *sweep)
    (suite / "docs" / "d3.txt").write_text("Pumps that move water are called water pumps.")
    log = ragsweep(tmp_path, *sweep)
    assert UP_TO_DATE not in log and f"data {suite / 'docs'} changed" in log
    info, records = only_run(tmp_path)
    assert "docs/d3.txt" in info["data_hashes"] and stage(info, "load") == "computed"
    assert any(cid.startswith("d3.txt") for cid in records["ranked_chunk_ids"][0])  # the new document is searched


def test_a_home_relative_path_under_another_home_runs_the_sweep_again(tmp_path):
    for home, keep in (("home_a", 14), ("home_b", 5)):
        drop_questions(span_suite(tmp_path / home / "suite"), keep)
    sweep = [*BASE, "task=span_mini", "task.path='~/suite'", "task.keywords=null", "chunker=fixed_tokens"]
    ragsweep(tmp_path, *sweep, env={"HOME": str(tmp_path / "home_a")})
    assert len(only_run(tmp_path)[1]) == 14
    assert UP_TO_DATE in ragsweep(tmp_path, *sweep, env={"HOME": str(tmp_path / "home_a")})
    assert UP_TO_DATE not in ragsweep(tmp_path, *sweep, env={"HOME": str(tmp_path / "home_b")})
    info, records = only_run(tmp_path)
    assert len(records) == 5 and stage(info, "load") == "computed"


def test_a_retargeted_symlink_runs_the_sweep_again(tmp_path):
    drop_questions(span_suite(tmp_path / "v1"), 14)
    drop_questions(span_suite(tmp_path / "v2"), 3)
    link = tmp_path / "current"
    link.symlink_to(tmp_path / "v1")
    sweep = [*BASE, "task=span_mini", f"task.path={link}", "task.keywords=null", "chunker=fixed_tokens"]
    ragsweep(tmp_path, *sweep)
    assert UP_TO_DATE in ragsweep(tmp_path, *sweep)
    link.unlink()
    link.symlink_to(tmp_path / "v2")
    assert UP_TO_DATE not in ragsweep(tmp_path, *sweep)
    assert len(only_run(tmp_path)[1]) == 3


def test_a_symlink_inside_a_preset_path_retargeted_is_seen_by_the_manifest(tmp_path):
    """The path comes from a config file, not the command line: the manifest's real paths catch it."""
    drop_questions(span_suite(tmp_path / "v1"), 14)
    drop_questions(span_suite(tmp_path / "v2"), 4)
    (tmp_path / "current").symlink_to(tmp_path / "v1")
    conf = tmp_path / "conf" / "task"
    conf.mkdir(parents=True)
    (conf / "mine.yaml").write_text(f"defaults:\n  - span_mini\n  - _self_\npath: {tmp_path / 'current'}\nkeywords: null\n")
    sweep = [*BASE[:2], "--config-dir", str(tmp_path / "conf"), *BASE[2:], "task=mine", "chunker=fixed_tokens"]
    ragsweep(tmp_path, *sweep)
    assert UP_TO_DATE in ragsweep(tmp_path, *sweep)
    (tmp_path / "current").unlink()
    (tmp_path / "current").symlink_to(tmp_path / "v2")
    log = ragsweep(tmp_path, *sweep)
    assert UP_TO_DATE not in log and "changed (content, or where its path leads)" in log
    assert len(only_run(tmp_path)[1]) == 4


HELPER_PLUGIN = '''
from ragsweep.chunkers.base import Chunker
from utplug.helper import SIZE


class C(Chunker):
    def spans(self, doc):
        return [(s, min(s + SIZE, len(doc.text))) for s in range(0, len(doc.text), SIZE)]
'''


def plugin(root: Path, chunker_source: str) -> dict[str, str]:
    """Package utplug (module ch, class C) in a plugin folder, a config folder naming it, and the environment."""
    plug = root / "plugins" / "utplug"
    plug.mkdir(parents=True, exist_ok=True)
    (plug / "__init__.py").write_text("")
    (plug / "ch.py").write_text(chunker_source)
    (root / "conf" / "chunker").mkdir(parents=True, exist_ok=True)
    (root / "conf" / "chunker" / "c.yaml").write_text("_target_: utplug.ch.C\n")
    return {"PYTHONPATH": str(root / "plugins")}


def test_a_changed_constant_in_a_plugin_helper_module_recomputes_the_chunks(tmp_path):
    env = plugin(tmp_path, HELPER_PLUGIN)
    plug = tmp_path / "plugins" / "utplug"
    (plug / "helper.py").write_text("SIZE = 300\n")
    sweep = [*BASE[:2], "--config-dir", str(tmp_path / "conf"), *BASE[2:], "task=span_mini", "chunker=c"]
    ragsweep(tmp_path, *sweep, env=env)
    first = only_run(tmp_path)[1]
    assert UP_TO_DATE in ragsweep(tmp_path, *sweep, env=env)
    (plug / "helper.py").write_text("SIZE = 120\n")
    log = ragsweep(tmp_path, *sweep, env=env)
    assert UP_TO_DATE not in log
    info, records = only_run(tmp_path)
    assert stage(info, "chunk") == "computed" and "utplug.ch" in info["code"]
    assert max(len(c["text"]) for c in records["ranked_chunks"][0]) <= 120 < max(len(c["text"]) for c in first["ranked_chunks"][0])


def test_a_component_edited_without_a_version_bump_is_not_served_from_the_stage_cache(tmp_path):
    env = plugin(tmp_path, HELPER_PLUGIN.replace("from utplug.helper import SIZE", "SIZE = 300"))
    plug = tmp_path / "plugins" / "utplug"
    run = ["run", "--config-dir", str(tmp_path / "conf"), "task=span_mini", "chunker=c", "retriever=bm25", "generator=none", "sweep_name=stale"]
    ragsweep(tmp_path, *run, env=env)
    (plug / "ch.py").write_text(HELPER_PLUGIN.replace("from utplug.helper import SIZE", "SIZE = 150"))  # version still "1"
    ragsweep(tmp_path, *run, env=env)
    info, records = only_run(tmp_path)
    assert stage(info, "chunk") == "computed"
    assert max(len(c["text"]) for c in records["ranked_chunks"][0]) <= 150


def test_a_library_shadowed_on_pythonpath_recomputes_retrieval(tmp_path):
    """Another rank_bm25 first on PYTHONPATH (here: the real one with its term-frequency weight changed): the sweep runs again and the
    retrieve stage is recomputed, never served the scores of the installed library; editing the shadow in
    place (same PYTHONPATH) is seen too."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    source = Path(rank_bm25.__file__).read_text()
    assert source.count("(self.k1 + 1)") >= 2
    sweep = [*BASE, "task=span_mini", "chunker=fixed_tokens", "retriever.backend=rank_bm25"]
    ragsweep(tmp_path, *sweep)
    installed = only_run(tmp_path)[1]["ranked_scores"][0][0]
    (shadow / "rank_bm25.py").write_text(source.replace("(self.k1 + 1)", "(self.k1 + 2)"))
    env = {"PYTHONPATH": str(shadow)}
    assert UP_TO_DATE not in ragsweep(tmp_path, *sweep, env=env)
    info, records = only_run(tmp_path)
    assert stage(info, "retrieve") == "computed" and records["ranked_scores"][0][0] != installed
    assert UP_TO_DATE in ragsweep(tmp_path, *sweep, env=env)
    (shadow / "rank_bm25.py").write_text(source.replace("(self.k1 + 1)", "(self.k1 + 3)"))
    log = ragsweep(tmp_path, *sweep, env=env)
    assert UP_TO_DATE not in log and "the code of component module ragsweep.retrievers.bm25" in log
    assert stage(only_run(tmp_path)[0], "retrieve") == "computed"


def test_a_manifest_edited_to_name_no_runs_is_not_trusted(tmp_path):
    suite = span_suite(tmp_path / "suite")
    sweep = [*BASE, "task=span_mini", f"task.path={suite}", "chunker=fixed_tokens"]
    ragsweep(tmp_path, *sweep)
    [manifest] = (tmp_path / "results" / "sweeps").iterdir()
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "runs": []}))
    log = ragsweep(tmp_path, *sweep)
    assert UP_TO_DATE not in log and "names no run: running the sweep" in log
    run_dir = Path(data["runs"][0]["dir"])
    (run_dir / "metrics.json").unlink()
    manifest.write_text(json.dumps({**data, "runs": [{"dir": str(run_dir), "files": {"run.json": data["runs"][0]["files"]["run.json"]}}]}))
    log = ragsweep(tmp_path, *sweep)  # a run named without its results is not a finished run
    assert UP_TO_DATE not in log and f"run folder {run_dir} changed or is gone" in log
    assert (run_dir / "metrics.json").is_file()


SCRIPTED_BACKEND = '''
from ragsweep.llm.base import ChatBackend, Completion


class Scripted(ChatBackend):
    def complete(self, conversations, json_schema=None, desc="llm", max_tokens=None):
        return [Completion(VERDICT, 5, 3) for _ in conversations]
'''


def test_an_edited_llm_backend_recomputes_the_judge_stage(tmp_path, monkeypatch):
    """A judge builds its backend by name, so no import links their code: the backend's module is named in the
    judge's code_modules and its edit changes the judge stage's key (not only a version bump would)."""
    from tests.helpers import run as run_in_process

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "plugbackend.py").write_text('VERDICT = \'{"verdict": "YES"}\'\n' + SCRIPTED_BACKEND)
    judge = ["generator=extractive", "judge=llm", "judge.rubrics=[faithfulness]", "judge.models=[{backend: plugbackend.Scripted, model: s}]"]
    _, first = run_in_process(tmp_path, *judge)
    _, again = run_in_process(tmp_path, *judge)
    (tmp_path / "plugbackend.py").write_text('VERDICT = \'{"verdict": "NO"}\'\n' + SCRIPTED_BACKEND)
    _, edited = run_in_process(tmp_path, *judge)
    assert [stage(i, "judge") for i in (first, again, edited)] == ["computed", "hit", "computed"]
    assert "plugbackend" in edited["code"] and edited["code"]["plugbackend"] != first["code"]["plugbackend"]


def test_an_edited_llm_backend_recomputes_the_generate_stage(tmp_path, monkeypatch):
    from tests.helpers import run as run_in_process

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "plugbackend2.py").write_text("VERDICT = 'an answer'\n" + SCRIPTED_BACKEND)
    generator = ["generator=hf", "generator.backend=plugbackend2.Scripted", "generator.model=s", "~generator.device"]
    _, first = run_in_process(tmp_path, *generator)
    (tmp_path / "plugbackend2.py").write_text("VERDICT = 'another answer'\n" + SCRIPTED_BACKEND)
    _, edited = run_in_process(tmp_path, *generator)
    assert [stage(i, "generate") for i in (first, edited)] == ["computed", "computed"]
