"""Config files and config-group choices checked before Hydra starts: a YAML file that does not parse or is not
UTF-8 is one line naming the file and line, and ``retriever=bm52`` is one line with "did you mean", not Hydra's
traceback or 20-line listing. A choice is known when a YAML file of that name is in the group's folder of the
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


def unreadable_yaml(folders: Sequence[Path] = ()) -> str | None:
    """The one-line message for the first YAML file of the bundled configs or a ``--config-dir`` folder that is
    not UTF-8 or does not parse, else None."""
    import yaml

    for root in [CONFIG_DIR, *folders]:
        for path in sorted(Path(root).rglob("*.yaml")):
            try:
                text = path.read_bytes().decode("utf-8")
            except UnicodeDecodeError as err:
                line = path.read_bytes()[: err.start].count(b"\n") + 1
                return f"{path}, line {line}: not UTF-8 (byte 0x{err.object[err.start]:02x}): save the file as UTF-8"
            except OSError as err:
                return f"{path}: unreadable ({err.strerror or err})"
            try:
                yaml.safe_load(text)
            except yaml.YAMLError as err:
                mark = getattr(err, "problem_mark", None)
                where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
                problem = getattr(err, "problem", None) or str(err).splitlines()[0]
                return f"{path}{where}: not valid YAML ({problem})"
    return None


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


COMPONENT_GROUPS = ("task", "chunker", "retriever", "reranker", "selector", "generator", "judge", "assessor")


def unknown_parameter(overrides: Sequence[str], folders: Sequence[Path]) -> str | None:
    """The one-line message for the first ``group.key=value`` override (no ``+``) of a component group whose key no
    config of that group sets: Hydra would advise ``+`` and the component would then refuse the keyword. Says the
    closest key and the keys the group's configs set."""
    import yaml

    for override in overrides:
        key, sep, _ = override.partition("=")
        group, dot, param = key.partition(".")
        if not sep or not dot or group not in COMPONENT_GROUPS or key.startswith(("+", "~")):
            continue
        known: set[str] = set()
        for root in [CONFIG_DIR, *folders]:
            for path in sorted((Path(root) / group).rglob("*.yaml")):
                loaded = yaml.safe_load(path.read_text("utf-8"))
                known |= {k for k in loaded if k != "defaults"} if isinstance(loaded, dict) else set()  # Hydra's list, not a parameter
        first = param.split(".", 1)[0]
        if known and first not in known:
            return (f"unknown {group} parameter {first!r} in {override!r}: {did_you_mean(first, sorted(known))}"
                    f"(parameters the {group} configs set: {', '.join(sorted(k for k in known if not k.startswith('_')))}; "
                    f"a parameter none of them sets is added with +{key}=...)")
    return None
