"""A confusion matrix as a standalone SVG figure: human labels down, judge verdicts across, each cell shaded by
its share of its row (so a class-imbalanced set still shows where a judge errs) and labelled with its count.
Pure text out; every label is escaped, so a label from a user's file cannot inject markup."""

from __future__ import annotations

from html import escape
from typing import Sequence

CELL, LEFT, TOP = 72, 150, 70


def confusion_svg(counts: Sequence[Sequence[int]], human_labels: Sequence[str], judge_labels: Sequence[str], title: str) -> str:
    """``counts[i][j]``: items the humans labelled ``human_labels[i]`` and the judge ``judge_labels[j]``."""
    width, height = LEFT + CELL * len(judge_labels) + 20, TOP + CELL * len(human_labels) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<text x="{LEFT}" y="{TOP - 28}">judge</text>',
        f'<text x="10" y="{TOP - 10}">human</text>',
    ]
    for j, label in enumerate(judge_labels):
        parts.append(f'<text x="{LEFT + j * CELL + CELL / 2}" y="{TOP - 8}" text-anchor="middle">{escape(str(label))}</text>')
    for i, label in enumerate(human_labels):
        row_total = sum(counts[i]) or 1
        y = TOP + i * CELL
        parts.append(f'<text x="{LEFT - 8}" y="{y + CELL / 2 + 4}" text-anchor="end">{escape(str(label))}</text>')
        for j, count in enumerate(counts[i]):
            share = count / row_total
            shade = round(255 - 180 * share)
            x = LEFT + j * CELL
            parts.append(f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="rgb({shade},{shade},255)" stroke="#888"/>')
            colour = "white" if share > 0.6 else "black"
            parts.append(f'<text x="{x + CELL / 2}" y="{y + CELL / 2 + 4}" text-anchor="middle" fill="{colour}">{count}</text>')
    parts.append(f'<text x="10" y="{height - 12}" fill="#555">cells: item counts; shade: share of the human row</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
