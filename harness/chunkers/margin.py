"""Meta-Chunking's margin-sampling (MSP) chunking (docs/metrics.md#meta-chunking), on a small chat LM.

For the current chunk A (variant ``chunk``, the reference's ``prob``) or the previous sentence A (variant
``pair``, the reference's ``prob_onlytwo``) and the next sentence B, the model is asked whether to split
"A" and "B" (option 1) or keep "A B" together (option 2); margin = P("2") - P("1") from the next-token
softmax. B joins the chunk when the margin exceeds the threshold, which starts at 0 and, once five
margins exist, is the mean of the last five. In the ``pair`` variant margins do not depend on earlier
decisions, so they are computed in batches; the ``chunk`` variant walks one sentence at a time.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ragsweep.chunkers.base import Chunker
from ragsweep.chunkers.merge import group_spans, merge_to_target
from ragsweep.errors import ConfigError
from ragsweep.models.causal_lm import load_causal_lm, pick_device
from ragsweep.registry import CHUNKERS
from ragsweep.text import check_splitter, sentence_spans
from ragsweep.types import Document

PROMPT = (
    "This is a text chunking task. As an expert in text analysis, decide from the logical structure and the "
    'meaning of the text which option is better:\n1. Split "{a}" and "{b}" into two separate chunks;\n'
    '2. Keep "{a} {b}" together in one chunk.\nAnswer with 1 or 2.'
)


def walk(margins_for, n_sentences: int) -> list[int]:
    """Indices of sentences that end a chunk. ``margins_for(i, first_of_chunk)`` gives the margin for
    adding sentence i to the chunk that starts at ``first_of_chunk``."""
    theta, history, ends, first = 0.0, [], [], 0
    for i in range(1, n_sentences):
        margin = margins_for(i, first)
        if margin <= theta:
            ends.append(i - 1)
            first = i
        history.append(margin)
        if len(history) >= 5:
            theta = float(np.mean(history[-5:]))
    return ends


@CHUNKERS.register("margin")
class MarginChunker(Chunker):
    label_params = ("variant", "merge_target", "splitter")

    def __init__(
        self,
        model: str = "bundled:SmolLM2-135M-Instruct",
        variant: str = "pair",
        merge_target: int | None = None,
        language: str = "en",
        max_prompt_chars: int = 2000,
        batch_size: int = 16,
        device: str = "cpu",
        splitter: str = "default",
    ):
        if variant not in {"pair", "chunk"}:
            raise ConfigError(f"margin variant must be 'pair' or 'chunk', got {variant!r}")
        self.model, self.variant, self.merge_target, self.language = model, variant, merge_target, language
        self.max_prompt_chars, self.batch_size, self.device = max_prompt_chars, batch_size, device
        self.splitter = check_splitter(splitter, language)

    def margins(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """P("2") - P("1") for each (A, B) pair."""
        import torch

        device = pick_device(self.device)
        tokenizer, model = load_causal_lm(self.model, device)
        one = tokenizer.encode("1", add_special_tokens=False)[0]
        two = tokenizer.encode("2", add_special_tokens=False)[0]
        prompts = [
            tokenizer.apply_chat_template(
                [
                    {"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": PROMPT.format(a=a[-self.max_prompt_chars :], b=b[: self.max_prompt_chars])},
                ],
                add_generation_prompt=True,
                tokenize=False,
            )
            for a, b in pairs
        ]
        out = []
        with torch.no_grad():
            for start in range(0, len(prompts), self.batch_size):
                enc = tokenizer(prompts[start : start + self.batch_size], return_tensors="pt", padding=True, add_special_tokens=False).to(device)
                probs = torch.softmax(model(**enc).logits[:, -1].float(), dim=-1)
                out.extend((probs[:, two] - probs[:, one]).cpu().tolist())
        return np.array(out)

    def spans(self, doc: Document) -> list[tuple[int, int]]:
        text = doc.text
        sentences = sentence_spans(text, self.language, self.splitter)  # type: ignore[arg-type]
        if len(sentences) < 2:
            spans = [(sentences[0][0], sentences[0][1])] if sentences else []
        else:
            sent = [text[s:e] for s, e in sentences]
            if self.variant == "pair":
                pair_margins = self.margins([(sent[i - 1], sent[i]) for i in range(1, len(sent))])
                ends = walk(lambda i, first: float(pair_margins[i - 1]), len(sent))
            else:
                ends = walk(lambda i, first: float(self.margins([(text[sentences[first][0] : sentences[i - 1][1]], sent[i])])[0]), len(sent))
            spans = group_spans(sentences, ends)
        return merge_to_target(text, spans, self.merge_target, self.language) if self.merge_target else spans
