"""The llama.cpp backend: the bundled GGUF model, through the chat template the file holds (the same
prompt tokens as transformers), answers and judge verdicts end to end, its calls planned to the token, and one line
where llama-cpp-python or the GGUF file is missing."""

from __future__ import annotations

import json
import sys

import pytest

from ragsweep.errors import ConfigError
from ragsweep.llm.base import build_backend
from ragsweep.llm.llamacpp import gguf_path, load_llama

CONVERSATIONS = [
    [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Who was mayor of Calder Bay in 1903? Context: Ames was mayor in 1903."}],
    [{"role": "user", "content": "สวัสดี ภาษีเงินได้คืออะไร"}],
]


@pytest.mark.model
def test_the_same_conversation_is_the_same_prompt_tokens_as_transformers():
    llama, hf = build_backend({"backend": "llamacpp", "max_tokens": 8}), build_backend({"backend": "hf", "max_tokens": 8})
    counted = [llama.count_prompt_tokens(m) for m in CONVERSATIONS]
    assert counted == [hf.count_prompt_tokens(m) for m in CONVERSATIONS]
    replies = llama.complete(CONVERSATIONS)
    assert [c.prompt_tokens for c in replies] == counted  # what llama.cpp reports having read
    assert all(c.text and c.error is None and 0 < c.completion_tokens for c in replies)
    assert llama.complete(CONVERSATIONS[:1])[0].text == replies[0].text  # greedy: the same answer again


@pytest.mark.model
def test_a_json_schema_is_a_grammar_so_every_verdict_reads():
    schema = {"type": "object", "properties": {"verdict": {"type": "string", "enum": ["YES", "NO"]}}, "required": ["verdict"]}
    replies = build_backend({"backend": "llamacpp", "max_tokens": 24}).complete(CONVERSATIONS, json_schema=schema)
    assert all(json.loads(c.text)["verdict"] in ("YES", "NO") for c in replies)


@pytest.mark.model
def test_a_run_and_its_plan_with_generator_llamacpp(tmp_path, monkeypatch, capsys):
    from ragsweep.commands.plan import main as plan
    from tests.helpers import run

    monkeypatch.setenv("RAGSWEEP_RESULTS", str(tmp_path))
    args = ["task=multihop_mini", "retriever=bm25", "task.limit=3", "generator=llamacpp", "judge=llamacpp", "judge.rubrics=[correctness]"]
    assert plan(["ci", *args]) == 0
    out = capsys.readouterr().out
    run_dir, info = run(tmp_path, *args)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    summary = metrics["summary"]
    assert f"3 calls to bundled:SmolLM2-135M-Instruct, {summary['prompt_tokens']:,} prompt + at most {3 * 32} completion tokens" in out
    assert summary["generation_errors"] == 0 and 0 < summary["completion_tokens"] <= 3 * 32
    assert metrics["metrics"]["judge_correctness"]["n"] == 3  # every verdict read: the grammar kept them JSON
    assert metrics["components"]["generator"].startswith("llm backend=llamacpp")


def test_without_llama_cpp_python_the_backend_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(ConfigError, match=r"^backend llamacpp needs llama-cpp-python, which is not installed: pip install llama-cpp-python==0\.3\.36"):
        load_llama.__wrapped__("/nowhere/model.gguf", None, 0)


def test_a_model_without_a_gguf_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"llamacpp model '.*missing\.gguf': no such GGUF file"):
        gguf_path(str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigError, match=r"llamacpp model 'bundled:all-MiniLM-L6-v2' has no GGUF file"):
        gguf_path("bundled:all-MiniLM-L6-v2")
    assert gguf_path("bundled:SmolLM2-135M-Instruct").endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


def test_each_parallel_sweep_job_gets_its_share_of_the_cores(monkeypatch):
    """Two jobs side by side on 4 cores: 2 llama.cpp threads each (not 4 each, which wait on one another)."""
    import os

    from ragsweep.llm import llamacpp
    from ragsweep.runtime import RunContext

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    asked = []
    monkeypatch.setattr(llamacpp, "load_llama", lambda path, threads, seed: asked.append(threads))
    backend = build_backend({"backend": "llamacpp"})
    backend._llama()  # a run on its own
    for jobs in (2, 8):
        with RunContext(jobs=jobs).active():  # one of a sweep's parallel jobs
            backend._llama()
    build_backend({"backend": "llamacpp", "n_threads": 3})._llama()
    assert asked == [4, 2, 1, 3]
