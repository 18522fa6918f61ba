"""Meta-Chunking's perplexity (PPL) chunking (docs/metrics.md#meta-chunking), on a small causal LM.

Each sentence is tokenised on its own (no special tokens) and the pieces concatenated; one causal pass
(ragsweep.models.causal_lm.token_nlls: windows with the KV cache carried) gives every token's NLL conditioned on all
preceding text. A sentence's score is the mean token NLL (natural log, not exponentiated, as in the
reference; the first sentence has no prediction for its first token). Interior local minima whose drop on
either side is at least ``threshold`` are boundaries, and a chunk ends *after* its minimum sentence.
``dynamic_threshold`` is the reference's find_minima_dynamic: once 100 accepted drops are recorded, the
threshold becomes their minimum, updated inside the scan as each minimum is found and carried across
documents; a plateau minimum records its left drop. ``splitter=punkt`` splits English sentences as the
reference (NLTK sent_tokenize); ``truncate_long_sentences`` scores over-long sentences as the reference does. ``merge_target`` applies the dynamic
combination to a target length.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ragsweep.chunkers.base import Chunker
from ragsweep.chunkers.merge import group_spans, merge_to_target
from ragsweep.models.causal_lm import load_causal_lm, pick_device, token_nlls
from ragsweep.registry import CHUNKERS
from ragsweep.text import check_splitter, sentence_spans
from ragsweep.types import Document


def find_minima(ppl: Sequence[float], threshold: float, drops: list[float] | None = None) -> tuple[list[int], float]:
    """(boundary indices i, 1 <= i <= n-2; the threshold after the scan). With ``drops`` (a list carried across
    documents) this is the reference's find_minima_dynamic: each accepted minimum records its drop (the
    smaller side drop of a strict minimum, the left drop on a plateau), and as soon as 100 drops are recorded
    the threshold becomes their minimum, inside the scan, so later candidates of the same document already
    face it."""
    minima = []
    for i in range(1, len(ppl) - 1):
        left, right = ppl[i - 1] - ppl[i], ppl[i + 1] - ppl[i]
        if ppl[i] < ppl[i - 1] and ppl[i] < ppl[i + 1]:
            accepted, drop = left >= threshold or right >= threshold, min(left, right)
        elif ppl[i] < ppl[i - 1] and ppl[i] == ppl[i + 1]:
            accepted, drop = left >= threshold, left
        else:
            accepted, drop = False, 0.0
        if accepted:
            minima.append(i)
            if drops is not None:
                drops.append(drop)
        if drops is not None and len(drops) >= 100:
            threshold = min(drops)
    return minima, threshold


def truncate_sentence(sentence: str) -> str:
    """The Meta-Chunking reference's guard for very long "sentences": over 512 space-separated words, keep
    the first 512 (the first 256 past 1,024 words) and append "..."."""
    words = sentence.strip().split(" ")
    if len(words) <= 512:
        return sentence
    return " ".join(words[: 256 if len(words) > 1024 else 512]) + "..."


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
    version = "2"  # dynamic threshold: plateau drops and in-scan updates as the reference
    label_params = ("threshold", "dynamic_threshold", "merge_target", "splitter")

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
        splitter: str = "default",
        truncate_long_sentences: bool = False,
    ):
        self.model, self.threshold, self.dynamic_threshold = model, threshold, dynamic_threshold
        self.merge_target, self.language, self.device = merge_target, language, device
        self.window_tokens, self.max_context, self.context_overlap = window_tokens, max_context, context_overlap
        self.splitter, self.truncate_long_sentences = check_splitter(splitter, language), truncate_long_sentences
        self._drops: list[float] = []

    def sentence_ppl(self, text: str, sentences: Sequence[tuple[int, int]]) -> np.ndarray:
        """Each sentence's score; with ``truncate_long_sentences`` the scored text of a sentence over 512 words
        is cut as the reference cuts it (the chunk still spans the whole sentence)."""
        tokenizer, model = load_causal_lm(self.model, pick_device(self.device))
        scored = [truncate_sentence(text[s:e]) if self.truncate_long_sentences else text[s:e] for s, e in sentences]
        pieces = [tokenizer.encode(t, add_special_tokens=False) for t in scored]
        ids = [t for p in pieces for t in p]
        nll = token_nlls(model, ids, self.window_tokens, self.max_context, self.context_overlap)
        return sentence_scores(nll, [len(p) for p in pieces])

    def spans(self, doc: Document) -> list[tuple[int, int]]:
        sentences = sentence_spans(doc.text, self.language, self.splitter)  # type: ignore[arg-type]
        if len(sentences) < 3:
            spans = [(sentences[0][0], sentences[-1][1])] if sentences else []
        else:
            ppl = self.sentence_ppl(doc.text, sentences)
            minima, self.threshold = find_minima(ppl, self.threshold, self._drops if self.dynamic_threshold else None)
            spans = group_spans(sentences, minima)
        return merge_to_target(doc.text, spans, self.merge_target, self.language) if self.merge_target else spans
