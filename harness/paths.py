"""Where ragsweep's own files are, in a source checkout and in an installed wheel alike.

A checkout keeps the card's layout (harness/ beside configs/); a wheel puts the configs inside the
package (ragsweep/configs). Everything that needs the config folder or the source tree asks here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_DIR = next((p for p in (PACKAGE_DIR / "configs", PACKAGE_DIR.parent / "configs") if p.is_dir()), PACKAGE_DIR / "configs")
# The source tree whose git revision a run records: the checkout's root, or the installed package.
SOURCE_ROOT = PACKAGE_DIR.parent if CONFIG_DIR.parent == PACKAGE_DIR.parent else PACKAGE_DIR


def results_root(overrides: Sequence[str] = ()) -> Path:
    """Where runs, reports, caches and benches go: a ``results_root=`` override of a run's command line, else
    ``$RAGSWEEP_RESULTS``, else ``results`` under the working directory (the config's ``results_root`` reads the
    same variable, so both sides agree)."""
    given = [o.split("=", 1)[1] for o in overrides if o.startswith("results_root=")]
    return Path(given[-1] if given else os.environ.get("RAGSWEEP_RESULTS") or "results")
