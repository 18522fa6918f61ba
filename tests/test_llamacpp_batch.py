"""Conversations decoded together in one llama.cpp context (llamacpp_batch) and the GGUF conversion (gguf_convert):
llama-cpp-python's own one-at-a-time path is the reference for a single conversation; a batch keeps each
conversation's own prompt, limit, grammar, order and failure; the converted file is made once and named by what it
came from."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ragsweep.errors import ConfigError
from ragsweep.llm.base import build_backend
from ragsweep.llm.llamacpp import gguf_path
from ragsweep.runtime import RunContext

QUESTION = "Who was mayor of Calder Bay in 1903? Context: Ames was mayor in 1903; Brill in 1904."
CONVERSATIONS = [
    [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": QUESTION}],
    [{"role": "user", "content": "สวัสดี ภาษีเงินได้คืออะไร"}],
    [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Name a colour."}],
    [{"role": "user", "content": "Count from one to five in words."}],
    [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is the capital of France?"}],
]
SCHEMA = {"type": "object", "properties": {"verdict": {"type": "string", "enum": ["YES", "NO"]}}, "required": ["verdict"]}


def backend(**params):
    return build_backend({"backend": "llamacpp", "max_tokens": 16, "n_threads": 2, **params})


@pytest.mark.model
def test_one_conversation_is_what_llama_cpp_pythons_own_chat_call_answers():
    """The reference: Llama.create_chat_completion, greedy, the file as stored; the same text, prompt and reply tokens."""
    ours = backend(batch_size=1)
    llama = ours._llama()
    for messages in CONVERSATIONS[:2]:
        reference = llama.create_chat_completion(messages=messages, max_tokens=16, temperature=0.0, seed=0)
        reply = ours.complete([messages])[0]
        assert reply.text == reference["choices"][0]["message"]["content"].strip()
        assert (reply.prompt_tokens, reply.completion_tokens) == (reference["usage"]["prompt_tokens"], reference["usage"]["completion_tokens"])
        schema_reference = llama.create_chat_completion(messages=messages, max_tokens=16, temperature=0.0, seed=0,
                                                        response_format={"type": "json_object", "schema": SCHEMA})
        assert ours.complete([messages], json_schema=SCHEMA)[0].text == schema_reference["choices"][0]["message"]["content"].strip()


@pytest.mark.model
def test_a_batch_keeps_each_conversations_order_prompt_limit_and_grammar():
    together = backend(batch_size=2)  # five conversations: groups of 2, 2 and 1
    replies = together.complete(CONVERSATIONS)
    assert [r.prompt_tokens for r in replies] == [together.count_prompt_tokens(m) for m in CONVERSATIONS]
    assert len({r.prompt_tokens for r in replies}) == 5  # distinct lengths: the order is checked, not assumed
    assert all(r.error is None and r.text and 0 < r.completion_tokens <= 16 for r in replies)
    verdicts = together.complete(CONVERSATIONS, json_schema=SCHEMA)
    assert all(json.loads(r.text)["verdict"] in ("YES", "NO") for r in verdicts)
    short = together.complete(CONVERSATIONS, max_tokens=1)
    assert all(r.completion_tokens == 1 for r in short)


@pytest.mark.model
def test_greedy_under_a_grammar_is_the_same_whether_the_free_choice_is_checked_first_or_never(monkeypatch):
    """The fast path (the grammar asked about the unconstrained greedy token alone) against the constrained chain on
    every token: the same replies, and the fast path was taken (and so was the chain, where the grammar refused)."""
    from ragsweep.llm.llamacpp_batch import BatchDecoder

    schema = {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 40}, "verdict": {"type": "string", "enum": ["YES", "NO"]}},
              "required": ["reason", "verdict"]}
    answers: list[bool] = []
    allows = BatchDecoder._allows
    monkeypatch.setattr(BatchDecoder, "_allows", lambda self, grammar, token: answers.append(allows(self, grammar, token)) or answers[-1])
    fast = [r.text for r in backend(batch_size=3, max_tokens=40).complete(CONVERSATIONS, json_schema=schema)]
    assert True in answers and False in answers
    monkeypatch.setattr(BatchDecoder, "_allows", lambda self, grammar, token: False)
    assert [r.text for r in backend(batch_size=3, max_tokens=40).complete(CONVERSATIONS, json_schema=schema)] == fast
    assert all(set(json.loads(t, strict=False)) == {"reason", "verdict"} for t in fast if t.endswith("}"))  # the rest cut at 40 tokens


@pytest.mark.model
def test_the_same_call_gives_the_same_bytes_and_twins_in_one_batch_the_same_answer():
    """Deterministic: the same batch twice is the same replies (latency aside). Two copies of one conversation in a
    batch share their whole prompt but its last token (the common prefix, evaluated once and copied): same answer."""
    together = backend(batch_size=4)
    first = [r.text for r in together.complete(CONVERSATIONS)]
    assert [r.text for r in together.complete(CONVERSATIONS)] == first
    twins = together.complete([CONVERSATIONS[0], CONVERSATIONS[0]])
    assert twins[0].text == twins[1].text and twins[0].completion_tokens == twins[1].completion_tokens


@pytest.mark.model
def test_a_conversation_too_long_fails_alone_and_a_refused_decode_fails_its_conversations(monkeypatch):
    small = backend(batch_size=3, n_ctx=64)
    long = [{"role": "user", "content": "word " * 200}]
    replies = small.complete([CONVERSATIONS[2], long, CONVERSATIONS[4]])
    assert replies[1].error is not None and "does not fit the context of 64" in replies[1].error and replies[1].text == ""
    assert replies[1].prompt_tokens == small.count_prompt_tokens(long)  # counted, though not answered
    assert replies[0].error is None and replies[0].text and replies[2].error is None and replies[2].text

    import llama_cpp

    monkeypatch.setattr(llama_cpp, "llama_decode", lambda ctx, batch: 1)  # "no KV slot": llama.cpp refuses
    refused = backend(batch_size=2).complete(CONVERSATIONS[:3])
    assert [r.error for r in refused] == ["llama_decode returned 1"] * 3 and all(r.text == "" for r in refused)


@pytest.mark.model
def test_each_conversation_reports_progress_as_it_ends(monkeypatch):
    updates = []

    class Bar:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            updates.append(n)

    monkeypatch.setattr(RunContext, "progress_bar", lambda self, desc, total=None: Bar())
    backend(batch_size=4).complete(CONVERSATIONS)
    assert updates == [1] * len(CONVERSATIONS)


@pytest.mark.model
def test_a_converted_file_is_made_once_named_by_its_source_and_holds_the_same_model(tmp_path):
    with RunContext(cache_dir=tmp_path).active():
        f16 = backend(convert_to="f16")
        f16._llama()
        made = list((tmp_path / "gguf").glob("*.gguf"))
        assert len(made) == 1 and made[0].name.startswith("SmolLM2-135M-Instruct.Q4_1.") and made[0].name.endswith(".f16.gguf")
        source = gguf_path("bundled:SmolLM2-135M-Instruct")
        with open(source, "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest()[:16] in made[0].name
        stamp = made[0].stat().st_mtime_ns
        backend(convert_to="f16", n_threads=1)._llama()  # another load: the file is reused, not made again
        assert made[0].stat().st_mtime_ns == stamp and not list((tmp_path / "gguf").glob("*.partial"))
        reply = f16.complete(CONVERSATIONS[:1])[0]
        stored = backend().complete(CONVERSATIONS[:1])[0]
        assert reply.prompt_tokens == stored.prompt_tokens and reply.text


@pytest.mark.model
def test_a_converted_file_changed_on_disk_is_converted_again_with_a_line_naming_it(tmp_path, caplog):
    from ragsweep.models.gguf_convert import converted_gguf

    source = gguf_path("bundled:SmolLM2-135M-Instruct")
    made = Path(converted_gguf(source, "q8_0", tmp_path))
    whole = made.read_bytes()
    assert made.with_name(made.name + ".sha256").read_text().strip() == hashlib.sha256(whole).hexdigest()
    for damage in (lambda: made.write_bytes(whole[: len(whole) // 2]),  # truncated
                   lambda: made.write_bytes(whole[:4096] + bytes(4096) + whole[8192:]),  # a block lost, the same size
                   lambda: made.with_name(made.name + ".sha256").unlink()):  # no digest recorded
        damage()
        caplog.clear()
        assert converted_gguf(source, "q8_0", tmp_path) == str(made)
        assert made.read_bytes() == whole
        assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
            f"{made} is not the file its conversion wrote (its sha256 differs from the one recorded then): converting again"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [made.name, made.name + ".sha256"]  # no partial file left


def test_an_unknown_tensor_type_is_one_line(tmp_path):
    from ragsweep.models.gguf_convert import converted_gguf

    with pytest.raises(ConfigError, match=r"^llamacpp convert_to 'q3_k': use one of f32, f16, bf16, q8_0 or null"):
        converted_gguf(gguf_path("bundled:SmolLM2-135M-Instruct"), "q3_k", tmp_path)
    assert not tmp_path.joinpath("gguf").exists()


@pytest.mark.model
def test_a_sweep_jobs_share_of_the_cores_gets_a_context_on_its_own_loaded_model(monkeypatch):
    """The same backend called alone (2 threads) and then as one of two parallel jobs (1 thread): the second call
    decodes on the model loaded for its thread count, not on the first call's context."""
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    shared = build_backend({"backend": "llamacpp", "max_tokens": 4, "batch_size": 2})
    shared.complete(CONVERSATIONS[:2])
    alone = shared._batch_decoder
    assert alone.model is shared._llama() and alone.model.n_threads == 2
    with RunContext(jobs=2).active():
        shared.complete(CONVERSATIONS[:1])
        assert shared._batch_decoder.model is shared._llama() and shared._batch_decoder.model.n_threads == 1
