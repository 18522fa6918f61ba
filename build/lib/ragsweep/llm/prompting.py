"""Prompt configs -> chat messages: one system turn, optional few-shot example turns, the user turn.

A prompt config is ``{system, user, examples: [{user, assistant}], ...}``; ``user`` is a template
with ``{placeholders}``. Few-shot turns are what makes a small model answer in the asked-for format
(NitiBench's judge prompt is few-shot too).
"""

from __future__ import annotations

from typing import Any

from ragsweep.llm.base import Messages


def render(prompt: dict[str, Any], **fields: Any) -> Messages:
    messages = [{"role": "system", "content": prompt["system"]}]
    for example in prompt.get("examples") or ():
        messages += [{"role": "user", "content": example["user"]}, {"role": "assistant", "content": example["assistant"]}]
    messages.append({"role": "user", "content": prompt["user"].format(**fields)})
    return messages
