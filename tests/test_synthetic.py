"""Synthetic QA generation: locating excerpts, rejecting attempts, Chroma's filters, and a whole suite
generated (model behind the loopback endpoint) and then run as a task."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ragsweep.annotate.synthetic import build_suite, duplicate_mask, locate, poor_excerpt_mask, read_attempt, write_suite
from tests.helpers import CONFIGS, run
from tests.loopback_openai import LoopbackServer

CORPUS = "The pump moves 300 litres.\nIt weighs  12 kg.\nThe tank holds 1.6 litres."


def test_locate_exact_then_case_and_whitespace_insensitive():
    assert locate(CORPUS, "It weighs  12 kg.") == (27, 44)
    start, end = locate(CORPUS, "it weighs 12 KG.")
    assert CORPUS[start:end] == "It weighs  12 kg."
    assert locate(CORPUS, "It weighs 13 kg.") is None and locate(CORPUS, "  ") is None


@pytest.mark.parametrize(
    "reply, reason",
    [
        ('{"question": "How heavy is it?", "references": ["It weighs 12 kg."]}', "ok"),
        ('{"question": "Q?", "references": [{"content": "The tank holds 1.6 litres."}]}', "ok"),
        ("I cannot", "unreadable"),
        ('{"question": "Q?", "references": []}', "no references"),
        ('{"question": "Q?", "references": ["a", "b", "c"]}', "too many references"),
        ('{"question": "Q?", "references": ["The pump flies."]}', "reference not in corpus"),
    ],
)
def test_read_attempt_accepts_or_names_the_reason(reply, reason):
    item, got = read_attempt(reply, CORPUS, max_references=2)
    assert got == reason and (item is not None) == (reason == "ok")
    if item:
        for ref in item["references"]:
            assert CORPUS[ref["start_index"] : ref["end_index"]] == ref["content"]


def test_filters_hand_computed():
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    refs = [np.array([[1.0, 0.0], [0.6, 0.8]]), np.array([[0.0, 1.0]])]
    assert poor_excerpt_mask(q, refs, 0.7) == [True, False]  # min cosine 0.6 < 0.7
    vecs = np.array([[1.0, 0.0], [0.8, 0.6], [1.0, 0.0], [0.0, 1.0]])
    # "b" is 0.8 from "a" (> 0.78): dropped; the second "a" is an exact repeat; "c" is kept.
    assert duplicate_mask(["a", "b", "a", "c"], vecs, 0.78) == [False, True, True, False]
    assert duplicate_mask(["a", "b"], vecs[:2], 0.9) == [False, False]


def _first_sentence_model(body):
    """A stand-in question writer: asks about the window's first sentence and quotes it exactly."""
    text = body["messages"][-1]["content"].split("Text: ", 1)[1].split("\n\nQuestions already asked", 1)[0]
    sentence = re.split(r"(?<=[.!?])\s+", text.strip())[0]
    return '{"question": "What does this say: %s?", "references": ["%s"]}' % (sentence[:40].replace('"', ""), sentence.replace('"', '\\"'))


@pytest.mark.model
def test_generated_suite_runs_as_a_task(tmp_path):
    with LoopbackServer(_first_sentence_model) as server:
        with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
            cfg = compose("synthetic", overrides=[
                f"synthetic.out_dir={tmp_path}/suite", f"cache_dir={tmp_path}/cache",
                "annotator.backend=openai", "+annotator.base_url=" + server.url, "annotator.model=m",
                "~annotator.device", "synthetic.queries_per_corpus=3", "synthetic.max_attempts_per_corpus=6",
                "synthetic.window_chars=300", "annotator.batch_size=3",
            ])
        plain = OmegaConf.to_container(cfg, resolve=True)
        from ragsweep.runtime import RunContext

        with RunContext(tmp_path / "cache").active():
            built = build_suite(plain)
    assert built["counts"]["attempts"] >= 6 and built["counts"]["ok"] >= 2
    assert built["counts"]["kept"] == len(built["rows"]) >= 1
    write_suite(tmp_path / "suite", built["rows"], built["files"], {"counts": built["counts"]})
    run_dir, info = run(tmp_path, "task=synthetic", f"task.path={tmp_path}/suite", "generator=none")
    assert info["task"] == {} or isinstance(info["task"], dict)
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["summary"]["n_queries"] == len(built["rows"]) and "span_iou@5" in metrics["metrics"]
