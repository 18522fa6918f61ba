"""Where ragsweep's own files are, in a source checkout and in an installed wheel alike.

A checkout keeps the card's layout (harness/ beside configs/); a wheel puts the configs inside the
package (ragsweep/configs). Everything that needs the config folder or the source tree asks here.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_DIR = next((p for p in (PACKAGE_DIR / "configs", PACKAGE_DIR.parent / "configs") if p.is_dir()), PACKAGE_DIR / "configs")
# The source tree whose git revision a run records: the checkout's root, or the installed package.
SOURCE_ROOT = PACKAGE_DIR.parent if CONFIG_DIR.parent == PACKAGE_DIR.parent else PACKAGE_DIR


def results_root() -> Path:
    """Where runs, reports, caches and benches go: ``$RAGSWEEP_RESULTS``, else ``results`` under the working
    directory (the config's ``results_root`` reads the same variable, so both sides agree)."""
    return Path(os.environ.get("RAGSWEEP_RESULTS") or "results")
