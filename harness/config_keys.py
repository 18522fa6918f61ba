"""Which config keys decide results: one definition for stage keys, judge ids and run names alike.

- ``SERVING_KEYS`` say where and how fast a model is served and never change a reply: no stage key, judge id or
  run name holds them, so a server moved to another port serves the same cached answers under the same run name.
- ``RUN_DETAIL_KEYS`` can change a run's bytes (the sampling seed; batch composition, device and tensor
  parallelism change floating point) but not which model or judge it is: in stage keys and run names, left out
  of a judge's id (the same judge, run again elsewhere, keeps its calibration).
"""

from __future__ import annotations

from typing import Any

SERVING_KEYS = frozenset({"base_url", "api_key_env", "concurrency", "max_retries", "backoff_s", "timeout_s", "gpu_memory_utilization",
                          "cpu_kvcache_space_gib"})
RUN_DETAIL_KEYS = frozenset({"seed", "batch_size", "device", "tensor_parallel_size"})
NOT_IDENTITY = SERVING_KEYS | RUN_DETAIL_KEYS  # what a judge's or assessor's identity leaves out of its model configs


def without_keys(config: Any, keys: frozenset[str] = SERVING_KEYS) -> Any:
    """``config`` (a component config, its model configs nested in lists included) without ``keys`` at any depth."""
    if isinstance(config, dict):
        return {k: without_keys(v, keys) for k, v in config.items() if k not in keys}
    if isinstance(config, list):
        return [without_keys(v, keys) for v in config]
    return config
