"""``ragsweep export-model MODEL_ID [--out DIR]``: a bundled GGUF model written as a plain
transformers folder (safetensors + tokenizer), which vLLM loads.

vLLM cannot read the bundled SmolLM2 GGUF, and transformers refuses to save a GGUF-loaded model ("quantized
with gguf and is not serializable"). What works: load the GGUF de-quantised in bf16, drop the config's
quantization_config, build a fresh model from that config, load the de-quantised weights into it, save it.
The vllm backend does this on first use of a ``bundled:`` id (under the cache folder, once, under a lock).
"""

from __future__ import annotations

import argparse
import fcntl
import logging
from pathlib import Path

from ragsweep.paths import results_root
from ragsweep.models.weights import resolve
from ragsweep.logs import setup_logging
from ragsweep.help_text import plain_doc

log = logging.getLogger("ragsweep.models.export")


def export_folder(model_id: str, out: Path) -> Path:
    """Write ``model_id`` (a bundled GGUF) to ``out`` as safetensors + tokenizer; returns ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved = resolve(model_id)
    if not resolved.gguf_file:
        raise ValueError(f"{model_id} is not a GGUF model: load it directly")
    log.info("exporting %s from %s/%s to %s", model_id, resolved.path, resolved.gguf_file, out)
    tokenizer = AutoTokenizer.from_pretrained(resolved.path, gguf_file=resolved.gguf_file)
    loaded = AutoModelForCausalLM.from_pretrained(resolved.path, gguf_file=resolved.gguf_file, dtype=torch.bfloat16)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    fresh.load_state_dict(loaded.state_dict())
    tmp = out.with_name(out.name + ".partial")
    fresh.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(out)
    return out


def exported_folder(model_id: str, root: Path) -> Path:
    """The exported folder of a bundled GGUF model under ``root``, written once (other processes wait)."""
    out = root / model_id.removeprefix("bundled:")
    if (out / "config.json").exists():
        return out
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{out.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "config.json").exists():
            export_folder(model_id, out)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ragsweep export-model", description=plain_doc(__doc__))
    parser.add_argument("model_id", nargs="?", default="bundled:SmolLM2-135M-Instruct", help="the bundled model to export (default: the bundled SmolLM2)")
    parser.add_argument("--out", type=Path, default=results_root() / "models", help="folder that receives <name>/")
    args = parser.parse_args(argv)
    setup_logging()
    print(exported_folder(args.model_id, args.out))
