"""The `ragsweep` command: help, dispatch, usage errors, and where outputs go."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from ragsweep.commands.cli import bench_names, main, sweep_presets
from ragsweep.paths import CONFIG_DIR
from ragsweep.store.results import named_overrides, run_name


def ragsweep(*args: str, cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ragsweep", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.process
def test_help_lists_every_command(tmp_path):
    out = ragsweep("--help", cwd=tmp_path)
    assert out.returncode == 0
    for command in ("run", "sweep", "report", "gate", "check", "list", "bench", "pairwise", "keywords", "synthetic", "serve-vllm", "export-model"):
        assert f"    {command}" in out.stdout, command


@pytest.mark.process
def test_usage_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert main(["sweep"]) == 2
    assert "usage: ragsweep sweep NAME [overrides]; presets: chroma_general, chunking_study, ci, default" in capsys.readouterr().err
    assert main(["bench", "nope"]) == 2
    assert f"benchmarks: {', '.join(bench_names())}" in capsys.readouterr().err
    assert {"bm25", "dense", "spans", "sweep_cache"} <= set(bench_names()) and "default" in sweep_presets()
    out = ragsweep("frobnicate", cwd=tmp_path)
    assert out.returncode == 2 and "invalid choice: 'frobnicate'" in out.stderr


@pytest.mark.process
def test_run_from_an_empty_folder_writes_under_results_and_logs_the_headline(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RAGSWEEP_RESULTS", "RAGSWEEP_CACHE")}
    out = ragsweep("run", "task=span_mini", "generator=none", "progress=false", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    [run_dir] = (tmp_path / "results" / "runs" / "adhoc").iterdir()
    headline = json.loads((run_dir / "metrics.json").read_text())["metrics"]["span_iou@5"]["mean"]
    assert f"14 queries: span_iou@5={headline:.4f}" in out.stdout + out.stderr
    assert (tmp_path / "results" / "cache").is_dir()
    moved = ragsweep("--results", str(tmp_path / "elsewhere"), "run", "task=span_mini", "generator=none", "progress=false", cwd=tmp_path, env=env)
    assert moved.returncode == 0 and len(list((tmp_path / "elsewhere" / "runs" / "adhoc").iterdir())) == 1


def test_run_names_show_overridden_parameters_only():
    assert named_overrides(["chunker=recursive", "chunker.size=128", "+sweep=ci", "results_dir=/x", "top_k=5", "hydra.job.chdir=true", "~judge.x"]) == [
        "chunker.size=128", "top_k=5",
    ]
    choices = {"task": "span_mini", "chunker": "fixed_tokens", "retriever": "bm25", "reranker": "none", "generator": "none", "judge": "none"}
    a = run_name(choices, {"top_k": 5}, ["chunker.size=64"])
    b = run_name(choices, {"top_k": 5}, ["chunker.size=128"])
    assert a.startswith("span_mini__fixed_tokens__bm25__none__none__none__chunker.size=64__") and a.rsplit("__", 1)[0] != b.rsplit("__", 1)[0]
    assert run_name(choices, {}, ["chunker.separator=<a b>"]).split("__")[6] == "chunker.separator=_a_b"  # a file-name-safe name
    # where data lives is never part of a name (the hash tells such runs apart); a model id with a slash is
    assert named_overrides(["task.path=/tmp/x/flashrag_nq", "task.questions=test.jsonl", "+task.qrels=q.txt", "generator.model=/models/m",
                            "generator.model=Qwen/Qwen2-1.5B", "chunker.size=64"]) == ["generator.model=Qwen/Qwen2-1.5B", "chunker.size=64"]
    assert run_name(choices, {"task": {"path": "a"}}, ["task.path=/a"]) != run_name(choices, {"task": {"path": "b"}}, ["task.path=/b"])


@pytest.mark.parametrize("argv", [["check", "task=span_mini"], ["list"]])
def test_informational_commands_exit_0(argv, capsys):
    assert main(argv) == 0


@pytest.mark.process
def test_ctrl_c_in_a_sweep_says_what_was_written_and_resumes(tmp_path):
    """Ctrl-C (SIGINT to the command's process group, as a terminal sends it) mid-sweep: exit 130, two lines saying
    what was written and how to resume, no traceback, no leaked-semaphore warning; the same command then finishes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "RAGSWEEP_RESULTS": str(tmp_path / "results")}
    command = [sys.executable, "-m", "ragsweep", "run", "-m", "task=multihop_mini", "chunker=fixed_tokens,recursive,sentences",
               "retriever=bm25,dense", "generator=none", "sweep_name=interrupt"]
    # As a terminal's command starts: Ctrl-C's default action, even where this test runs with SIGINT ignored (a
    # background job of a non-interactive shell inherits SIG_IGN, and Python then keeps it ignored)
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "sweep progress: 1 of 6" in line:
            os.killpg(proc.pid, signal.SIGINT)
            break
    rest, _ = proc.communicate(timeout=120)
    output = "".join(lines) + rest
    assert proc.returncode == 130, output[-3000:]
    assert "ragsweep: interrupted. Every run that finished is written under" in output
    assert "Run the same command again to resume" in output
    assert "Traceback" not in output and "leaked semaphore" not in output, output[-3000:]
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(list((tmp_path / "results" / "runs" / "interrupt").glob("*/metrics.json"))) == 6


def test_missing_suite_files_say_what_to_set(tmp_path):
    from ragsweep.errors import DataError
    from tests.helpers import run as run_config

    with pytest.raises(DataError, match=r"this suite needs its folder, task.path=DIR"):
        run_config(tmp_path, "task=generic")
    nq = tmp_path / "nq"  # FlashRAG's NQ folder ships test.jsonl and train.jsonl, no dev.jsonl
    nq.mkdir()
    for name in ("test.jsonl", "train.jsonl"):
        (nq / name).write_text('{"id": "1", "question": "q?", "golden_answers": ["a"]}\n')
    (nq / "corpus.jsonl").write_text('{"id": "d", "contents": "\\"T\\"\\ntext"}\n')
    with pytest.raises(DataError, match=r"dev.jsonl: file not found; .*nq holds corpus.jsonl, test.jsonl, train.jsonl: name one, e.g. task.questions=test.jsonl"):
        run_config(tmp_path, "task=flashrag", f"task.path={nq}")


@pytest.mark.parametrize("argv", [["report"], ["gate"], ["pairwise"], ["study"], ["judge-eval"], ["judge-invariance"], ["trec-export"],
                                  ["check"], ["list"], ["bench", "bm25"], ["bench", "scale"], ["bench", "dense"], ["export-model"]])
def test_every_subcommand_help_names_its_command(argv, capsys):
    from ragsweep.commands.cli import main

    try:
        code = main([*argv, "--help"])
    except SystemExit as stop:  # argparse's --help
        code = stop.code
    out = capsys.readouterr().out
    assert code == 0 and out.startswith(f"usage: ragsweep {' '.join(argv)}"), out[:200]
    assert "``" not in out  # the docstrings' RST literals print plain


def test_every_command_line_option_has_help():
    import ast
    from pathlib import Path

    missing = []
    for path in sorted((Path(__file__).resolve().parents[1] / "harness").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument" and not any(k.arg == "help" for k in node.keywords):
                missing.append(f"{path.name}:{node.lineno}")
    assert missing == []


@pytest.mark.process
@pytest.mark.model
def test_a_sweep_prints_no_library_progress_bars(tmp_path):
    """A sweep's jobs log one line per finished run; a model's loading bars (GGUF conversion, weights) from
    parallel workers would interleave, so a sweep shows none."""
    import os
    import sys

    env = {**os.environ, "RAGSWEEP_RESULTS": str(tmp_path / "results")}
    out = subprocess.run([sys.executable, "-m", "ragsweep", "run", "-m", "task=span_mini", "task.limit=1", "retriever=bm25", "generator=hf",
                          "chunker=fixed_tokens,recursive", "sweep_name=quiet", "progress_every_s=0"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    assert "sweep progress: 2 of 2 runs done" in text
    assert re.search(r"job [01]: generate\[hf\]: 1 of 1 \(100%\), \d+ s", text), text[-2000:]
    assert "Converting and de-quantizing" not in text and "Loading weights" not in text and "it/s]" not in text


def test_list_describes_every_config_and_says_where_suite_data_is(tmp_path, monkeypatch, capsys):
    from ragsweep.commands.listing import SECTIONS, description

    (tmp_path / "hotpotqa_sample").mkdir()  # one suite's folder present under RAGSWEEP_DATA, the others absent
    monkeypatch.setenv("RAGSWEEP_DATA", str(tmp_path))
    assert main(["list", "task"]) == 0
    rows = {line.split()[0]: line.split()[1] if line.split()[1] != "not" else "not here" for line in capsys.readouterr().out.splitlines()
            if line.startswith("  ") and not line.startswith(("  not here:", "  hub:"))}
    assert rows["multihop_mini"] == "bundled" and rows["hotpotqa_sample"] == "here" and rows["chroma_general"] == "not here"
    assert rows["hotpotqa_distractor"] == "hub" and rows["beir"] == "yours" and rows["generic"] == "yours"
    assert main(["list", "task"]) == 0 and f"not here: looked for {tmp_path}/2wikimultihopqa, {tmp_path}/chroma_general" in capsys.readouterr().out
    # every config file of every section describes itself (its first comment sentence)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(section.rstrip("s") in out for section in SECTIONS)
    for path in CONFIG_DIR.glob("*/*.yaml"):
        if path.parent.name in SECTIONS:
            assert description(path), f"{path} has no leading comment describing it"
            assert f"  {path.stem} " in out


def test_list_description_is_the_first_sentence_of_the_leading_comment(tmp_path):
    from ragsweep.commands.listing import DESCRIPTION_CHARS, description

    yaml = tmp_path / "x.yaml"
    yaml.write_text("# @package _global_\n# Any server, e.g. vLLM, i.e. local. More here.\n# And more.\nname: x  # not this\n")
    assert description(yaml) == "Any server, e.g. vLLM, i.e. local"
    yaml.write_text("# " + "word " * 40 + "\nname: x\n")
    assert len(description(yaml)) == DESCRIPTION_CHARS and description(yaml).endswith("…")
    yaml.write_text("name: x\n")
    assert description(yaml) == ""


def test_verbosity_flags_are_taken_anywhere_before_double_dash():
    from ragsweep.commands.cli import verbosity_flags

    assert verbosity_flags(["sweep", "default", "-q"]) == (["sweep", "default"], "WARNING")
    assert verbosity_flags(["-v", "report", "--", "-q"]) == (["report", "--", "-q"], "DEBUG")
    assert verbosity_flags(["report", "--sweep", "all"]) == (["report", "--sweep", "all"], None)
    with pytest.raises(SystemExit, match="-q and -v cannot be combined"):
        verbosity_flags(["-q", "run", "-v"])


@pytest.mark.process
def test_quiet_sweep_prints_its_table_only_and_verbose_adds_debug_lines(tmp_path):
    env = {**os.environ, "RAGSWEEP_RESULTS": str(tmp_path / "results")}
    sweep = [sys.executable, "-m", "ragsweep", "run", "-m", "task=span_mini", "chunker=fixed_tokens,recursive", "retriever=bm25", "generator=none",
             "sweep_name=quiet"]
    quiet = subprocess.run([*sweep, "-q"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert "[INFO]" not in quiet.stdout + quiet.stderr and "[HYDRA]" not in quiet.stdout + quiet.stderr
    assert "span_mini (14 queries, 2 runs)" in quiet.stdout  # the results table still shows
    # how much a sweep prints is not part of what it computed: the same sweep, not quiet, is up to date
    again = subprocess.run(sweep, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert "sweep up to date: its 2 runs" in again.stdout + again.stderr
    env["RAGSWEEP_RESULTS"] = str(tmp_path / "fresh")
    loud = subprocess.run([sys.executable, "-m", "ragsweep", "-v", "run", "task=span_mini", "retriever=bm25", "generator=none"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert loud.returncode == 0 and re.search(r"\[ragsweep.store.cache\]\[DEBUG\] - cached chunk [0-9a-f]{12}", loud.stdout + loud.stderr)


def test_a_command_leaves_the_environment_as_it_found_it(tmp_path, monkeypatch, capsys):
    """-q, --results and the offline switches reach a command's worker processes through their environment; once the
    command returns, the process's environment is what it was, so the next command (or test) starts the same."""
    monkeypatch.delenv("RAGSWEEP_RESULTS", raising=False)
    monkeypatch.delenv("RAGSWEEP_LOG_LEVEL", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    before = dict(os.environ)
    import logging

    level = logging.getLogger("ragsweep").level
    assert main(["-q", "--results", str(tmp_path / "elsewhere"), "report"]) in (0, 2)
    assert dict(os.environ) == before
    assert logging.getLogger("ragsweep").level == level  # -q left the package's logger at WARNING for later tests
