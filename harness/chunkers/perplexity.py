"""Meta-Chunking's perplexity (PPL) chunking (metrics-reference.md 4.2), on a small causal LM.

Each sentence is tokenised on its own (no special tokens) and the pieces concatenated; one causal pass
(harness.lm.token_nlls: windows with the KV cache carried) gives every token's NLL conditioned on all
preceding text. A sentence's score is the mean token NLL (natural log, not exponentiated, as in the
reference; the first sentence has no prediction for its first token). Interior local minima whose drop on
either side is at least ``threshold`` are boundaries, and a chunk ends *after* its minimum sentence.
``dynamic_threshold`` is the reference's find_minima_dynamic: once 100 accepted drops are recorded, the
threshold becomes their minimum (carried across documents). ``merge_target`` applies the dynamic
combination to a target length.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.chunkers.base import Chunker
from harness.chunkers.merge import group_spans, merge_to_target
from harness.lm import load_causal_lm, pick_device, token_nlls
from harness.registry import CHUNKERS
from harness.text import sentence_spans
from harness.types import Document


def find_minima(ppl: Sequence[float], threshold: float, drops: list[float] | None = None) -> list[int]:
    """Indices i (1 <= i <= n-2) that are boundaries; accepted drops are appended to ``drops``."""
    minima = []
    for i in range(1, len(ppl) - 1):
        left, mid, right = ppl[i - 1] - ppl[i], ppl[i], ppl[i + 1] - ppl[i]
        if mid < ppl[i - 1] and mid < ppl[i + 1]:
            accepted = left >= threshold or right >= threshold
        elif mid < ppl[i - 1] and mid == ppl[i + 1]:
            accepted = left >= threshold
        else:
            continue
        if accepted:
            minima.append(i)
            if drops is not None:
                drops.append(min(left, right))
    return minima


def sentence_scores(nll: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
    """Mean NLL over each sentence's tokens, ignoring tokens without a prediction."""
    scores, pos = [], 0
    for n in lengths:
        values = nll[pos : pos + n]
        values = values[~np.isnan(values)]
        scores.append(float(values.mean()) if values.size else float("nan"))
        pos += n
    return np.array(scores)


@CHUNKERS.register("perplexity")
class PerplexityChunker(Chunker):
    label_params = ("threshold", "merge_target")

    def __init__(
        self,
        model: str = "bundled:SmolLM2-135M-Instruct",
        threshold: float = 0.0,
        dynamic_threshold: bool = False,
        merge_target: int | None = None,
        language: str = "en",
        window_tokens: int = 512,
        max_context: int = 4096,
        context_overlap: int = 256,
        device: str = "cpu",
    ):
        self.model, self.threshold, self.dynamic_threshold = model, threshold, dynamic_threshold
        self.merge_target, self.language, self.device = merge_target, language, device
        self.window_tokens, self.max_context, self.context_overlap = window_tokens, max_context, context_overlap
        self._drops: list[float] = []

    def sentence_ppl(self, text: str, sentences: Sequence[tuple[int, int]]) -> np.ndarray:
        tokenizer, model = load_causal_lm(self.model, pick_device(self.device))
        pieces = [tokenizer.encode(text[s:e], add_special_tokens=False) for s, e in sentences]
        ids = [t for p in pieces for t in p]
        nll = token_nlls(model, ids, self.window_tokens, self.max_context, self.context_overlap)
        return sentence_scores(nll, [len(p) for p in pieces])

    def spans(self, doc: Document) -> list[tuple[int, int]]:
        sentences = sentence_spans(doc.text, self.language)  # type: ignore[arg-type]
        if len(sentences) < 3:
            spans = [(sentences[0][0], sentences[-1][1])] if sentences else []
        else:
            ppl = self.sentence_ppl(doc.text, sentences)
            minima = find_minima(ppl, self.threshold, self._drops if self.dynamic_threshold else None)
            if self.dynamic_threshold and len(self._drops) >= 100:
                self.threshold = min(self._drops)
            spans = group_spans(sentences, minima)
        return merge_to_target(doc.text, spans, self.merge_target, self.language) if self.merge_target else spans
