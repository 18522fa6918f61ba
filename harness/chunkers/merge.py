"""Meta-Chunking's dynamic combination: greedily join consecutive chunks while the joined length stays
within a target (docs/metrics.md#meta-chunking). Length is counted in whitespace words for English and in
characters for languages written without spaces (Thai). The reference emits an empty chunk first when the
very first chunk already exceeds the target; with character spans an empty chunk means nothing, so it is
not emitted.
"""

from __future__ import annotations

from typing import Sequence


def unit_length(text: str, language: str) -> int:
    return len(text.split()) if language == "en" else len("".join(text.split()))


def merge_to_target(text: str, spans: Sequence[tuple[int, int]], target: int, language: str = "en") -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    current_len = 0
    for start, end in spans:
        n = unit_length(text[start:end], language)
        if current is not None and current_len + n <= target:
            current, current_len = (current[0], end), current_len + n
            continue
        if current is not None:
            out.append(current)
        current, current_len = (start, end), n
    if current is not None:
        out.append(current)
    return out


def group_spans(sentences: Sequence[tuple[int, int]], last_of_group: Sequence[int]) -> list[tuple[int, int]]:
    """Character spans of sentence groups that end at the given sentence indices (and at the last one)."""
    ends = sorted(set(last_of_group) | {len(sentences) - 1}) if sentences else []
    out, first = [], 0
    for last in ends:
        out.append((sentences[first][0], sentences[last][1]))
        first = last + 1
    return out
