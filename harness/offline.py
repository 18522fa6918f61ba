"""Offline by default: hub downloads off and third-party telemetry off, unless the user opts in.

This runs when ``harness`` is imported, before transformers or huggingface_hub read their settings.
``RAGSWEEP_ALLOW_DOWNLOADS=1`` lets runs fetch models and data sets from the Hugging Face hub.
Explicit values already in the environment are kept.
"""

from __future__ import annotations

import os

OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
TELEMETRY_OFF = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "RAGAS_DO_NOT_TRACK": "true",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def downloads_allowed() -> bool:
    return os.environ.get("RAGSWEEP_ALLOW_DOWNLOADS", "").lower() in {"1", "true", "yes"}


def configure_environment() -> None:
    for var, value in TELEMETRY_OFF.items():
        os.environ.setdefault(var, value)
    if not downloads_allowed():
        for var in OFFLINE_VARS:
            os.environ.setdefault(var, "1")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}
