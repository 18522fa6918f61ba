from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from harness.cache import atomic_write_bytes
from harness.provenance import git_revision, machine, package_versions

log = logging.getLogger("harness.bench")


def write_result(path: Path, result: dict[str, Any]) -> None:
    """A benchmark result with the machine and versions it was measured on."""
    record = {**result, "machine": machine(), "git": git_revision(Path(__file__).resolve().parents[2]), "packages": package_versions()}
    atomic_write_bytes(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    log.info("%s\nwrote %s", json.dumps(result, indent=2), path)
