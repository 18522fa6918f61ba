"""Text for the terminal: module docstrings as command help (the RST literals, ``x``, that read well in the source
print as plain x) and rows of cells in aligned columns."""

from __future__ import annotations

import re

_LITERAL = re.compile(r"``([^`]*)``")


def plain_doc(doc: str | None) -> str:
    return _LITERAL.sub(r"\1", doc or "")


def aligned(rows: list[list[str]] | list[tuple[str, ...]]) -> list[str]:
    """Rows as lines indented two spaces, each column padded to its widest cell, two spaces between columns."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
