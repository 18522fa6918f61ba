"""Run folders are typed and versioned: a run writes format 2 through its models, a folder written by the main of
2026-12-07 (format 1, tests/data/run_format1, copied from a CI run at 4051830) reads back upgraded, a field of the
wrong type or a newer format is one line naming file and field, and the gate pairs runs by their stored identity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ragsweep.errors import DataError
from ragsweep.run_results import RUN_FORMAT, checked_info, checked_metrics, configuration_of
from ragsweep.store.run_folder import RunFolder

FORMAT1 = Path(__file__).parent / "data" / "run_format1" / "multihop_mini__fixed_tokens__bm25__none__extractive__none__bf62b72a"


def test_a_run_folder_written_by_the_previous_format_reads_back_upgraded(tmp_path):
    folder = RunFolder.read(FORMAT1)
    stored = json.loads((FORMAT1 / "metrics.json").read_text("utf-8"))
    assert "format" not in stored and "configuration" not in stored  # what main wrote before formats
    assert folder.metrics["format"] == folder.info["format"] == RUN_FORMAT == 2
    assert folder.configuration == "multihop_mini__fixed_tokens__bm25__none__extractive__none"
    assert folder.info["configuration"] == folder.configuration
    assert {k: v for k, v in folder.metrics.items() if k not in ("format", "configuration")} == stored  # nothing else changed
    assert folder.metrics["metrics"]["doc_recall@5"]["n"] == 16 and len(folder.records()) == 16
    # Without run.json, a format-1 folder is identified by its folder name, as such runs named themselves.
    bare = tmp_path / FORMAT1.name
    shutil.copytree(FORMAT1, bare)
    (bare / "run.json").unlink()
    assert RunFolder.read(bare).configuration == folder.configuration


def test_a_written_run_carries_the_format_and_its_identity(tmp_path):
    from tests.helpers import run

    run_dir, _ = run(tmp_path, "task=multihop_mini", "retriever=bm25")
    metrics = json.loads((run_dir / "metrics.json").read_text("utf-8"))
    info = json.loads((run_dir / "run.json").read_text("utf-8"))
    assert metrics["format"] == info["format"] == 2
    assert metrics["configuration"] == info["configuration"] == configuration_of(run_dir.name) == run_dir.name[:-10]
    assert RunFolder.read(run_dir).metrics == metrics  # a format-2 file reads back as written


@pytest.mark.parametrize("file, edit, field, message", [
    ("metrics.json", {"format": 3}, "format", "written in run format 3, newer than the 2 this ragsweep reads: upgrade ragsweep"),
    ("metrics.json", {"format": "2"}, "format", "expected a run format version (a whole number >= 1), got '2'"),
    ("metrics.json", {"headline_metrics": "doc_recall@5"}, "headline_metrics", "expected a list, got str"),
    ("metrics.json", {"sweep": None}, "sweep", "expected a string, got NoneType"),
    ("metrics.json", {"headline": 5}, "headline", "expected a string or null, got int"),
    ("metrics.json", {"metrics": {"doc_recall@5": {"mean": "0.5", "n": 3, "std": 0, "ci_low": 0, "ci_high": 1}}},
     "metrics.doc_recall@5.mean", "expected a number, got str"),
    ("metrics.json", {"metrics": {"doc_recall@5": {"mean": 0.5, "n": 3.0, "std": 0, "ci_low": 0, "ci_high": 1}}},
     "metrics.doc_recall@5.n", "expected a whole number, got float"),
    ("metrics.json", {"metrics": {"doc_recall@5": [0.5]}}, "metrics.doc_recall@5", "expected an object, got list"),
    ("run.json", {"seed": True}, "seed", "expected a whole number, got bool"),
    ("run.json", {"stages": []}, "stages", "expected an object, got list"),
])
def test_a_wrong_field_is_one_line_naming_file_and_field(tmp_path, file, edit, field, message):
    folder = tmp_path / FORMAT1.name
    shutil.copytree(FORMAT1, folder)
    data = json.loads((folder / file).read_text("utf-8"))
    (folder / file).write_text(json.dumps({**data, **edit}), "utf-8")
    with pytest.raises(DataError) as err:
        RunFolder.read(folder)
    assert str(err.value) == str(DataError(folder / file, message, field=field))


def test_a_format_2_file_missing_a_field_is_refused(tmp_path):
    folder = tmp_path / FORMAT1.name
    shutil.copytree(FORMAT1, folder)
    data = json.loads((folder / "metrics.json").read_text("utf-8"))
    (folder / "metrics.json").write_text(json.dumps({**data, "format": 2}), "utf-8")  # format 2 without configuration
    with pytest.raises(DataError) as err:
        RunFolder.read(folder)
    assert str(err.value) == str(DataError(folder / "metrics.json", "missing", field="configuration"))


def test_a_run_cannot_write_a_document_its_reader_would_refuse():
    metrics = json.loads((FORMAT1 / "metrics.json").read_text("utf-8"))
    info = json.loads((FORMAT1 / "run.json").read_text("utf-8"))
    with pytest.raises(DataError, match=r"metrics\.json, field 'configuration': missing"):
        checked_metrics(metrics)
    assert checked_metrics({**metrics, "configuration": "x"})["format"] == 2
    with pytest.raises(DataError, match=r"run\.json, field 'wall_s': expected a number, got str"):
        checked_info({**info, "configuration": "x", "wall_s": "1.0"})


def test_the_gate_pairs_runs_by_their_stored_identity_not_their_folder_name(tmp_path):
    from ragsweep.analysis.gate import latest_runs

    renamed = tmp_path / "runs" / "multihop_mini" / "someone_renamed_this_folder"
    shutil.copytree(FORMAT1, renamed)  # run.json still names the run
    assert list(latest_runs(tmp_path / "runs", "multihop_mini")[0]) == ["multihop_mini__fixed_tokens__bm25__none__extractive__none"]
    metrics = json.loads((renamed / "metrics.json").read_text("utf-8"))
    (renamed / "metrics.json").write_text(json.dumps({**metrics, "format": 2, "configuration": "chosen__by__the__run"}), "utf-8")
    info = json.loads((renamed / "run.json").read_text("utf-8"))
    (renamed / "run.json").write_text(json.dumps({**info, "format": 2, "configuration": "chosen__by__the__run"}), "utf-8")
    runs, failed = latest_runs(tmp_path / "runs", "multihop_mini")
    assert list(runs) == ["chosen__by__the__run"] and runs["chosen__by__the__run"].path == renamed and failed == 0
