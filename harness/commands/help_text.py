"""Module docstrings as command help: the RST literals (``x``) that read well in the source print as plain x."""

from __future__ import annotations

import re

_LITERAL = re.compile(r"``([^`]*)``")


def plain_doc(doc: str | None) -> str:
    return _LITERAL.sub(r"\1", doc or "")
