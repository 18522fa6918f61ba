"""Fault injection, inputs that once passed silently or crashed (issue 20 part 3): each is now one line
naming file, record and field, or is counted, never scored as if it were fine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragsweep.errors import ConfigError, DataError
from ragsweep.registry import TASKS
from tests.helpers import run
from tests.test_formats import beir_suite

QRELS = "query-id\tcorpus-id\tscore\n"


def load(**task) -> tuple[list, list]:
    return TASKS.build(task).checked_load()


def write_jsonl(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), "utf-8")


def generic_suite(root: Path, questions: list, corpus: list | None = None) -> Path:
    write_jsonl(root / "questions.jsonl", questions)
    write_jsonl(root / "corpus.jsonl", corpus or [{"id": "a", "text": "Pumps move water."}, {"id": "b", "text": "Valves stop water."}])
    return root


# ---------------------------------------------------------------- BEIR


def test_beir_duplicate_query_id_is_an_error_not_a_replacement(tmp_path):
    suite = beir_suite(tmp_path / "beir", QRELS + "q1\td1\t1\n")
    with (suite / "queries.jsonl").open("a") as fh:
        fh.write(json.dumps({"_id": "q1", "text": "a second text"}) + "\n")
    with pytest.raises(DataError) as err:
        load(name="beir", path=str(suite))
    assert str(err.value) == f"{suite / 'queries.jsonl'}, record line 4, field '_id': query _id 'q1' appears twice (the later text would replace the earlier)"


def test_beir_qrels_whose_grades_are_all_zero_is_an_error(tmp_path):
    suite = beir_suite(tmp_path / "beir", QRELS + "q1\td1\t0\nq2\td3\t0\n")
    with pytest.raises(DataError) as err:
        load(name="beir", path=str(suite))
    assert str(err.value) == (f"{suite / 'qrels' / 'test.tsv'}: no query of the split has a document with a score above 0: "
                              "there is nothing to score (2 judged queries, all grades 0)")


def test_beir_queries_without_a_relevant_document_are_counted_unscored(tmp_path):
    suite = beir_suite(tmp_path / "beir", QRELS + "q1\td1\t1\nq2\td3\t0\n")
    _, info = run(tmp_path, "task=beir", f"task.path={suite}", "retriever=bm25", "generator=none")
    assert info["task"]["queries_without_relevant_documents"] == 1
    assert info["unscored_queries"]["doc_ndcg@10"] == 1  # of 2: q2 is counted, never scored as a miss


@pytest.mark.parametrize("split", ["../..", "../../corpus", "/etc/passwd"])
def test_beir_split_that_leaves_the_suite_is_refused(tmp_path, split):
    suite = beir_suite(tmp_path / "beir", QRELS + "q1\td1\t1\n")
    with pytest.raises(ConfigError, match=rf"task.split '{split}' names a file outside {suite / 'qrels'}$"):
        load(name="beir", path=str(suite), split=split)


# ---------------------------------------------------------------- generic / FlashRAG records


@pytest.mark.parametrize("answers, field", [(["  "], "answers[0]"), (["ok", ""], "answers[1]"), ("\t", "answers")])
def test_a_blank_gold_answer_is_an_error(tmp_path, answers, field):
    suite = generic_suite(tmp_path, [{"id": "q1", "question": "What moves water?", "answers": answers}])
    with pytest.raises(DataError) as err:
        load(name="generic", path=str(suite))
    assert str(err.value) == f"{suite / 'questions.jsonl'}, record line 1 (id q1), field '{field}': empty or whitespace only"


@pytest.mark.parametrize("record, file, message", [
    ({"id": "q1", "question": "q?", "answers": ["x"], "golden_answers": ["y"]}, "questions.jsonl",
     "record line 1 (id q1), field 'golden_answers': both 'answers' and 'golden_answers' are present (the same field under two names): keep one"),
    ({"id": "q1", "_id": "q2", "question": "q?"}, "questions.jsonl",
     "record line 1, field '_id': both 'id' and '_id' are present (the same field under two names): keep one"),
])
def test_a_question_with_two_alias_fields_is_an_error(tmp_path, record, file, message):
    suite = generic_suite(tmp_path, [record])
    with pytest.raises(DataError) as err:
        load(name="generic", path=str(suite))
    assert str(err.value) == f"{suite / file}, {message}"


def test_a_corpus_line_with_text_and_contents_is_an_error(tmp_path):
    suite = generic_suite(tmp_path, [{"id": "q1", "question": "q?"}], [{"id": "a", "text": "one", "contents": "two"}])
    with pytest.raises(DataError) as err:
        load(name="generic", path=str(suite))
    assert str(err.value) == f"{suite / 'corpus.jsonl'}, record line 1, field 'contents': both 'text' and 'contents' are present (the same field under two names): keep one"


# ---------------------------------------------------------------- folder corpora


def folder_suite(root: Path) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("Pumps move water.")
    write_jsonl(root / "questions.jsonl", [{"id": "q1", "question": "What moves water?", "gold_doc_ids": ["a.txt"]}])
    return root


def test_an_empty_document_in_a_folder_corpus_is_an_error(tmp_path):
    suite = folder_suite(tmp_path / "s")
    (suite / "docs" / "b.txt").write_text(" \n")
    with pytest.raises(DataError) as err:
        load(name="generic", path=str(suite), corpus="docs")
    assert str(err.value) == f"{suite / 'docs' / 'b.txt'}: empty or whitespace only: a document with no text could never be retrieved"


def test_a_dangling_symlink_in_a_folder_corpus_is_an_error(tmp_path):
    suite = folder_suite(tmp_path / "s")
    (suite / "docs" / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    with pytest.raises(DataError) as err:
        load(name="generic", path=str(suite), corpus="docs")
    assert str(err.value) == f"{suite / 'docs' / 'gone.txt'}: dangling symbolic link (to {tmp_path / 'nowhere.txt'}): remove it or restore its target"


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_symlink_leading_outside_a_folder_corpus_is_refused(tmp_path, kind):
    suite = folder_suite(tmp_path / "s")
    outside = tmp_path / "secret"
    if kind == "file":
        outside.write_text("not part of the corpus")
        (suite / "docs" / "leak.txt").symlink_to(outside)
        link = suite / "docs" / "leak.txt"
    else:
        outside.mkdir()
        (outside / "x.txt").write_text("not part of the corpus")
        (suite / "docs" / "leak").symlink_to(outside, target_is_directory=True)
        link = suite / "docs" / "leak"
    with pytest.raises(DataError) as err:
        load(name="generic", path=str(suite), corpus="docs")
    assert str(err.value) == f"{link}: symbolic link leads outside the corpus folder (to {outside}): refused"


def test_a_symlink_inside_a_folder_corpus_is_read(tmp_path):
    suite = folder_suite(tmp_path / "s")
    (suite / "docs" / "alias.txt").symlink_to(suite / "docs" / "a.txt")
    docs, _ = load(name="generic", path=str(suite), corpus="docs")
    assert [d.doc_id for d in docs] == ["a.txt", "alias.txt"]


# ---------------------------------------------------------------- text that is no text, structures too deep


@pytest.mark.parametrize("file, record, field", [
    ("questions.jsonl", {"id": "q1", "question": "bad \\ud800 text"}, "question"),
    ("questions.jsonl", {"id": "q1", "question": "q?", "metadata": {"note": ["ok", "\\udfff"]}}, "metadata.note[1]"),
    ("corpus.jsonl", {"id": "a", "text": "\\ud800"}, "text"),
])
def test_a_lone_surrogate_is_one_line_not_a_unicode_error(tmp_path, file, record, field):
    line = json.dumps(record).replace("\\\\u", "\\u")  # the escape as it stands in the file: valid JSON
    suite = generic_suite(tmp_path, [{"id": "q1", "question": "q?"}])
    write_jsonl(suite / file, [line])
    with pytest.raises(DataError) as err:
        load(name="generic", path=str(suite))
    assert str(err.value) == f"{suite / file}, record line 1, field '{field}': a lone surrogate escape (\\ud800-\\udfff without its pair) is not text"


def test_a_surrogate_pair_is_text(tmp_path):
    suite = generic_suite(tmp_path, ['{"id": "q1", "question": "emoji \\ud83d\\ude00?"}'])
    _, queries = load(name="generic", path=str(suite))
    assert queries[0].question == "emoji \U0001F600?"


def test_metadata_nested_too_deeply_to_parse_is_one_line(tmp_path):
    deep = '{"id": "q1", "question": "q?", "metadata": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}"
    suite = generic_suite(tmp_path, [deep])
    with pytest.raises(DataError) as err:
        load(name="generic", path=str(suite))
    assert str(err.value) == f"{suite / 'questions.jsonl'}, record line 1: JSON nested too deeply to read"


def test_metadata_nested_deeper_than_the_limit_is_one_line(tmp_path):
    metadata: dict = {}
    for _ in range(38):  # the innermost {} is a level too: 38 + 1 + the outer object = 40
        metadata = {"a": metadata}
    suite = generic_suite(tmp_path, [{"id": "q1", "question": "q?", "metadata": {"a": metadata}}])
    with pytest.raises(DataError) as err:
        load(name="generic", path=str(suite))
    assert str(err.value) == f"{suite / 'questions.jsonl'}, record 1 (id q1), field 'metadata': nested 40 levels deep (at most 32)"


# ---------------------------------------------------------------- where an error points


def test_a_corpus_fault_names_the_corpus_file(tmp_path):
    suite = generic_suite(tmp_path, [{"id": "q1", "question": "q?"}], [{"id": "a", "text": "one"}, {"id": "a", "text": "two"}])
    with pytest.raises(DataError) as err:
        load(name="generic", path=str(suite))
    assert str(err.value) == f"{suite / 'corpus.jsonl'}, record document 'a': document id appears twice in the corpus (one text would replace the other)"


# ---------------------------------------------------------------- config values checked before any work


@pytest.mark.parametrize("override, message", [
    ("chunker.size=abc", "chunker 'fixed_tokens': parameter 'size' must be int, got 'abc' (str)"),
    ("chunker.size=1.5", "chunker 'fixed_tokens': parameter 'size' must be int, got 1.5 (float)"),
    ("chunker.encoding=5", "chunker 'fixed_tokens': parameter 'encoding' must be str, got 5 (int)"),
])
def test_a_parameter_of_the_wrong_type_stops_the_run_before_any_work(tmp_path, override, message):
    with pytest.raises(ConfigError) as err:
        run(tmp_path, "task=span_mini", "chunker=fixed_tokens", "retriever=bm25", "generator=none", override)
    assert str(err.value) == message
    assert not (tmp_path / "cache" / "load").exists()  # stopped before the first stage


# ---------------------------------------------------------------- a full disk, a read-only folder


def disk_full_under(monkeypatch, folder: Path) -> None:
    """Every file written under ``folder`` fails as on a full disk (ENOSPC when its data is flushed)."""
    import errno
    import os

    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_in_the_cache_is_one_line_and_leaves_no_temp_file(tmp_path, monkeypatch):
    from ragsweep.errors import CacheError

    disk_full_under(monkeypatch, tmp_path / "cache")
    with pytest.raises(CacheError) as err:
        run(tmp_path, "task=span_mini", "retriever=bm25", "generator=none")
    assert str(err.value).startswith(f"cannot write to {tmp_path / 'cache' / 'load'}/")
    assert str(err.value).endswith("(No space left on device): point cache_dir (or RAGSWEEP_CACHE) at a writable folder")
    assert not [p for p in (tmp_path / "cache").rglob("*.tmp")]


def test_a_full_disk_in_the_results_is_one_line_and_leaves_no_run_folder(tmp_path, monkeypatch):
    from ragsweep.errors import WriteError

    disk_full_under(monkeypatch, tmp_path / "runs")
    with pytest.raises(WriteError) as err:
        run(tmp_path, "task=span_mini", "retriever=bm25", "generator=none")
    assert str(err.value).endswith("(No space left on device): free space there or point results_root (or RAGSWEEP_RESULTS) at a writable folder")
    assert not list((tmp_path / "runs").rglob("*.*"))  # no run folder, whole or half, and no staging folder


def test_a_full_disk_while_writing_the_report_is_one_line_and_keeps_the_old_leaderboard(tmp_path, monkeypatch, capsys):
    from ragsweep.commands.cli import main

    run(tmp_path, "task=span_mini", "retriever=bm25", "generator=none", "sweep_name=s")
    out = tmp_path / "board" / "leaderboard.md"
    assert main(["report", "--runs", str(tmp_path / "runs"), "--sweep", "s", "--out", str(out)]) == 0
    before = out.read_bytes()
    disk_full_under(monkeypatch, tmp_path / "board")
    assert main(["report", "--runs", str(tmp_path / "runs"), "--sweep", "s", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().endswith("(No space left on device): free space there or point results_root (or RAGSWEEP_RESULTS) at a writable folder")
    assert out.read_bytes() == before


@pytest.mark.process
def test_a_read_only_results_root_is_one_line_before_hydra(tmp_path):
    import os
    import subprocess
    import sys

    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o555)
    try:
        if os.access(root, os.W_OK):  # root ignores permission bits: make the path a file instead
            root.chmod(0o755)
            root.rmdir()
            root.write_text("not a folder")
        out = subprocess.run([sys.executable, "-m", "ragsweep", "run", "task=span_mini", "generator=none", f"results_root={root}"],
                             capture_output=True, text=True, timeout=120)
    finally:
        if root.is_dir():
            root.chmod(0o755)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith(f"cannot write to {root} (") and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr


# ---------------------------------------------------------------- report and command-line typos


def test_a_report_of_an_unknown_sweep_is_an_error_and_never_empties_the_leaderboard(tmp_path, capsys):
    from ragsweep.commands.cli import main

    run(tmp_path, "task=span_mini", "retriever=bm25", "generator=none", "sweep_name=default")
    out = tmp_path / "leaderboard.md"
    assert main(["report", "--runs", str(tmp_path / "runs"), "--sweep", "default", "--out", str(out)]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["report", "--runs", str(tmp_path / "runs"), "--sweep", "defualt", "--out", str(out)]) == 2
    assert capsys.readouterr().err == "ragsweep report: no runs of sweep 'defualt': did you mean 'default'? (sweeps with runs: default)\n"
    assert main(["report", "--runs", str(tmp_path / "runs"), "--sweep", "default", "--sort", "span_iuo@5", "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith("ragsweep report: no run shown has metric 'span_iuo@5': did you mean 'span_iou@5'? (known: ")
    assert main(["report", "--runs", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert "a report never replaces a leaderboard with an empty one" in capsys.readouterr().err
    assert out.read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["run", "retriever=bm52"], "unknown retriever 'bm52': did you mean 'bm25'? (known: "),
    (["run", "task=spam_mini"], "unknown task 'spam_mini': did you mean 'span_mini'? (known: "),
    (["run", "-m", "chunker=fixed_tokens,recursiv"], "unknown chunker 'recursiv': did you mean 'recursive'? (known: "),
])
def test_a_typo_in_a_config_choice_is_one_line_with_a_suggestion(args, message, capsys):
    from ragsweep.commands.cli import main

    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_hydra_groups_and_plain_values_are_left_to_hydra():
    from ragsweep.engine.config_names import unknown_choice

    assert unknown_choice(["hydra/launcher=basic", "chunker.size=200", "seed=3", "task=null", "+sweep=default"], []) is None
