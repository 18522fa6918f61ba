"""Config-group choices checked before Hydra starts: ``retriever=bm52`` is one line with "did you mean", not
Hydra's 20-line listing. A choice is known when a YAML file of that name is in the group's folder of the
bundled configs or of a ``--config-dir`` folder; Hydra's own groups (``hydra/...``, whose options also come
from Hydra and its plugins) are left to Hydra."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ragsweep.errors import did_you_mean
from ragsweep.paths import CONFIG_DIR


def group_options(group: str, folders: Sequence[Path]) -> list[str] | None:
    """The choices of config group ``group`` (``task``, ``hydra/launcher``, ...), or None when no folder has
    such a group (then Hydra decides)."""
    roots = [CONFIG_DIR, *folders]
    found = [root / group for root in roots if (root / group).is_dir()]
    if not found:
        return None
    return sorted({p.relative_to(folder).with_suffix("").as_posix() for folder in found for p in folder.rglob("*.yaml")})


def unknown_choice(overrides: Sequence[str], folders: Sequence[Path]) -> str | None:
    """The one-line message for the first override that picks a choice no config folder has, else None."""
    for override in overrides:
        key, sep, value = override.partition("=")
        group = key.lstrip("+~")
        if not sep or "." in group or group.startswith("hydra/") or not value or value == "null" or value.startswith(("${", "[", "{")):
            continue
        options = group_options(group, folders)
        if options is None:
            continue
        for choice in value.split(","):
            if choice not in options:
                return f"unknown {group} {choice!r}: {did_you_mean(choice, options)}(known: {', '.join(options)})"
    return None
