"""``ragsweep list [SECTION]``: every name a config can choose, with what it is, and for suites whether their data
is here (lm-eval's ``ls tasks`` and MTEB's task table do both).

Descriptions come from each YAML file's leading comment (its first sentence), so a new component's YAML
describes itself here with no edit elsewhere.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ragsweep.help_text import aligned
from ragsweep.paths import CONFIG_DIR

DESCRIPTION_CHARS = 110
SECTIONS = ("task", "chunker", "retriever", "reranker", "generator", "judge", "assessor", "tracking", "metrics", "scoring", "sweep")


def description(path: Path) -> str:
    """The first sentence of the file's leading comment block (``# @package`` lines skipped), cut to one line."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if not text.startswith("@package"):
            lines.append(text)
    text = " ".join(lines)
    sentence = re.split(r"(?<!e\.g\.)(?<!i\.e\.)(?<=\.)\s", text, maxsplit=1)[0].rstrip(".") if text else ""
    return sentence if len(sentence) <= DESCRIPTION_CHARS else sentence[: DESCRIPTION_CHARS - 1].rstrip() + "…"


def task_data(path: Path) -> tuple[str, str]:
    """Where a suite's data comes from and whether it is here: (status, detail). ``bundled``: shipped in the
    package; ``here``/``not here``: a folder the config names (``RAGSWEEP_DATA`` or ``task.path``); ``hub``: downloaded
    with RAGSWEEP_ALLOW_DOWNLOADS=1; ``yours``: a format reader that needs ``task.path``."""
    from omegaconf import OmegaConf

    from ragsweep.tasks.base import resolve_path

    cfg = OmegaConf.load(path)
    if OmegaConf.is_missing(cfg, "path"):
        return "yours", "task.path=FOLDER"
    raw = OmegaConf.to_container(cfg, resolve=False).get("path")  # type: ignore[union-attr]
    if raw is None:
        return ("hub", str(cfg.get("hub_id"))) if cfg.get("hub_id") else ("yours", "task.path=FOLDER")
    if str(raw).startswith("bundled:"):
        return "bundled", ""
    folder = resolve_path(str(OmegaConf.create({"path": raw}).path))
    return ("here" if folder.is_dir() else "not here"), str(folder)


def plugin_files(group: str) -> list[tuple[Path, str]]:
    """The YAML files of ``group`` that installed plugins ship, each with its plugin (``plugin <package> <version>``)."""
    from ragsweep.plugins import installed

    return [(f, f"plugin {p.distribution}") for p in installed() if p.configs is not None for f in sorted((p.configs / group).glob("*.yaml"))]


def group_section(group: str) -> list[str]:
    from ragsweep.registry import BY_GROUP, TRACKERS

    files = sorted((CONFIG_DIR / group).glob("*.yaml"))
    from_plugins = plugin_files(group)
    lines = [f"{group} configs ({group}=NAME):"]
    if group == "task":
        data = {p.stem: task_data(p) for p in files}
        lines += aligned([(p.stem, data[p.stem][0], description(p)) for p in files])
        missing = sorted({detail for status, detail in data.values() if status == "not here"})
        if missing:
            lines.append("  not here: looked for " + ", ".join(missing) + "; set RAGSWEEP_DATA=<folder holding them> or task.path=<folder>")
        lines.append("  hub: downloaded from the Hugging Face hub with RAGSWEEP_ALLOW_DOWNLOADS=1; yours: a reader for your data, task.path=<folder>")
        lines += aligned([(p.stem, where, description(p)) for p, where in from_plugins])
    else:
        lines += aligned([(p.stem, description(p)) for p in files] + [(p.stem, f"({where}) {description(p)}") for p, where in from_plugins])
    registry = TRACKERS if group == "tracking" else BY_GROUP[group]
    names = [n if where == "built-in" else f"{n} ({where})" for n, where in registry.origins().items()]
    lines.append(f"{group} classes ({group}.name=NAME, or {group}._target_=pkg.module.Class): {', '.join(names)}")
    return lines


def metrics_section() -> list[str]:
    from ragsweep.registry import METRICS

    lines = ["metric families (scoring.metrics.<key>.name=NAME, or _target_=pkg.module.Class):"]
    return lines + aligned([(n, f"needs {METRICS.get(n).needs}") for n in METRICS.names()])


def presets_section(group: str, title: str) -> list[str]:
    return [title] + aligned([(p.stem, description(p)) for p in sorted((CONFIG_DIR / group).glob("*.yaml"))])


def listing(section: str | None = None) -> str:
    blocks = []
    for name in [section] if section else SECTIONS:
        if name == "metrics":
            blocks.append(metrics_section())
        elif name == "scoring":
            blocks.append(presets_section("scoring", "scoring configs (scoring=NAME):"))
        elif name == "sweep":
            blocks.append(presets_section("sweep", "sweep presets (ragsweep sweep NAME):"))
        else:
            blocks.append(group_section(name))
    return "\n\n".join("\n".join(b) for b in blocks)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ragsweep list", description="Every suite, component, metric family and sweep preset by name, "
                                     "with what it is; for suites, whether their data is here.")
    parser.add_argument("section", nargs="?", choices=SECTIONS, help="only this section")
    args = parser.parse_args(argv)
    print(listing(args.section))
    return 0
