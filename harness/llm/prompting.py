"""Prompt configs -> chat messages: one system turn, optional few-shot example turns, the user turn.

A prompt config is ``{system, user, examples: [{user, assistant}], ...}``; ``user`` is a template
with ``{placeholders}``. Few-shot turns are what makes a small model answer in the asked-for format
(NitiBench's judge prompt is few-shot too).
"""

from __future__ import annotations

import string
from typing import Any, Iterable

from ragsweep.errors import ConfigError
from ragsweep.llm.base import Messages


def check_template(template: str, fields: Iterable[str], where: str) -> None:
    """A user template's ``{placeholders}`` checked when the prompt is built, not when the first item is rendered:
    an unknown name or an unbalanced brace is one ConfigError naming ``where`` and the fields it may use."""
    allowed = sorted(fields)
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as err:
        raise ConfigError(f"{where}: the template does not parse ({err}); write a literal brace as {{{{ or }}}}") from None
    for name in names:
        base = name.split(".", 1)[0].split("[", 1)[0]
        if base not in allowed:
            shown = "{" + name + "}"
            raise ConfigError(f"{where}: unknown placeholder {shown}; it may use {', '.join('{' + f + '}' for f in allowed)}")


def render(prompt: dict[str, Any], **fields: Any) -> Messages:
    messages = [{"role": "system", "content": prompt["system"]}] if prompt.get("system") else []
    for example in prompt.get("examples") or ():
        messages += [{"role": "user", "content": example["user"]}, {"role": "assistant", "content": example["assistant"]}]
    messages.append({"role": "user", "content": prompt["user"].format(**fields)})
    return messages
