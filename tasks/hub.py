"""Loading a suite from the Hugging Face hub by id, for users with internet.

Offline (the default, ragsweep.offline), a hub id fails at once with a message that says how to point
the task at local files instead; nothing is attempted over the network.
"""

from __future__ import annotations

from typing import Any

from ragsweep.errors import DataError, OfflineError
from ragsweep.offline import hub_offline


def load_hub_rows(repo_id: str | None, config: str | None, split: str, local_hint: str) -> list[dict[str, Any]]:
    """Rows of one split of a hub dataset as plain dicts; a task with neither local files nor a hub id
    stops here."""
    if repo_id is None:
        raise DataError("task config", "needs task.path (local files) or task.hub_id")
    name = f"{repo_id}" + (f" (config {config})" if config else "") + f", split {split}"
    if hub_offline():
        raise OfflineError(
            f"task needs the hub dataset {name} but hub downloads are off. Point the task at local files "
            f"with task.path=<folder holding {local_hint}>, or set RAGSWEEP_ALLOW_DOWNLOADS=1 on a machine with internet."
        )
    from datasets import load_dataset

    return [dict(row) for row in load_dataset(repo_id, config, split=split)]
