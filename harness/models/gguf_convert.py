"""A GGUF file converted to another tensor type with llama.cpp's own quantizer, once, into the cache.

Why: llama.cpp's faster matrix-multiply kernels (llamafile's tinyBLAS) have paths for F16, BF16, Q8_0 and Q4_0
weights and none for Q4_1, the bundled SmolLM2's type; evaluating prompts, most of the LLM stages' work, ran at about
half the speed on Q4_1 on this project's 2-core machine (docs/benchmarks.md). F16 holds every Q4_1 weight (a 4-bit level times a half-precision
scale plus a minimum) to within half-precision rounding, so the model is the same one.

The converted file's name carries the source file's sha256 and llama-cpp-python's version, so a changed source or a
new converter makes a new file; it is written under a temporary name and renamed, so parallel jobs converting at
once never read a half-written file. Its sha256, recorded beside it, is checked at every use: a file changed on disk
since is converted again, with a warning naming it.
"""

from __future__ import annotations

import ctypes
import logging
import os
from functools import lru_cache
from pathlib import Path

from ragsweep.errors import ConfigError
from ragsweep.hashing import sha256_file

log = logging.getLogger(__name__)
TYPES = {"f32": "LLAMA_FTYPE_ALL_F32", "f16": "LLAMA_FTYPE_MOSTLY_F16", "bf16": "LLAMA_FTYPE_MOSTLY_BF16",
         "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0"}


def file_sha256(path: str | Path) -> str:
    """A file's sha256, hashed once a process for each state of the file (its size, time and inode): every token
    count asks for the model's file."""
    state = Path(path).stat()
    return _sha256_at(str(path), state.st_size, state.st_mtime_ns, state.st_ino)


@lru_cache(maxsize=8)
def _sha256_at(path: str, size: int, mtime_ns: int, inode: int) -> str:
    return sha256_file(path)


def intact(target: Path) -> bool:
    """Whether ``target`` is the file the conversion wrote: its sha256 is the one recorded beside it then. A file
    changed on disk since (a lost block, a truncation) would otherwise load as a broken model, or fail in llama.cpp
    with no word of which file."""
    try:
        return target.with_name(target.name + ".sha256").read_text("ascii").strip() == file_sha256(target)
    except (OSError, UnicodeDecodeError):
        return False


def converted_gguf(source: str, tensor_type: str, folder: Path) -> str:
    """The path of ``source`` converted to ``tensor_type`` (one of TYPES), made in ``folder`` if not there yet."""
    import llama_cpp

    if tensor_type not in TYPES:
        raise ConfigError(f"llamacpp convert_to {tensor_type!r}: use one of {', '.join(TYPES)} or null (the file as stored)")
    stem = Path(source).name.removesuffix(".gguf")
    target = folder / f"{stem}.{file_sha256(source)[:16]}.llama-cpp-python-{llama_cpp.__version__}.{tensor_type}.gguf"
    if target.is_file():
        if intact(target):
            return str(target)
        log.warning("%s is not the file its conversion wrote (its sha256 differs from the one recorded then): converting again", target)
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, TYPES[tensor_type])
    params.allow_requantize = True
    log.info("converting %s to %s for llama.cpp (once; kept in %s)", Path(source).name, tensor_type, folder)
    from llama_cpp._utils import suppress_stdout_stderr

    with suppress_stdout_stderr(disable=False):
        status = llama_cpp.llama_model_quantize(source.encode("utf-8"), str(partial).encode("utf-8"), ctypes.byref(params))
    if status != 0:
        partial.unlink(missing_ok=True)
        raise ConfigError(f"llama.cpp could not convert {source} to {tensor_type} (status {status})")
    recorded = target.with_name(f"{target.name}.sha256")
    partial_recorded = recorded.with_name(f"{recorded.name}.{os.getpid()}.partial")
    partial_recorded.write_text(file_sha256(partial) + "\n", "ascii")
    os.replace(partial_recorded, recorded)  # the digest first: a job that sees the file sees its digest
    os.replace(partial, target)
    return str(target)
