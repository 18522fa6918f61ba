"""A finished sweep is not run again: re-running it does nothing unless something it depends on changed.

Before Hydra starts a sweep, the command computes the sweep's fingerprint from everything its runs can
depend on: the command line with the real path of every path it names, the working folder, every config
file (ours and ``--config-dir`` folders), the ragsweep source and the code identity (ragsweep.engine.code_identity)
of any component named by import path, the installed distributions and Python, and the environment variables
the configs read (``oc.env``), the libraries read (RAGSWEEP_, HF_, OPENAI_, ...) or that move paths and
imports (HOME, PYTHONPATH). After a sweep in which every run was written with no failed LLM result, a
manifest under ``<results_root>/sweeps/`` records the fingerprint, each run folder's file hashes, each data
file's and folder's real path and content hash, and the code identity of every component the runs used. A
later sweep with the same fingerprint is up to date when its manifest names at least one run, every run
folder still holds its results with the same hashes, every data path still leads to the same real path with
the same content, and every component's code identity is unchanged: the command logs so and exits 0
without starting Hydra. Anything else (a changed or unknown input, a
Hydra option this module does not model, a run folder edited or gone, ``--rerun``) runs the sweep as before,
where the stage cache serves what it holds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from ragsweep.engine.code_identity import code_identity, installed
from ragsweep.errors import DataError
from ragsweep.store.run_folder import read_run_info
from ragsweep.hashing import sha256_file, sha256_json, sha256_paths
from ragsweep.paths import CONFIG_DIR, results_root

log = logging.getLogger("ragsweep.sweep")

ENV_PREFIXES = ("RAGSWEEP_", "HF_", "TRANSFORMERS_", "SENTENCE_TRANSFORMERS_", "VLLM_", "OPENAI_", "CUDA_VISIBLE_DEVICES")
ENV_NAMES = ("HOME", "PYTHONPATH")  # ``~`` in a path, and which modules an import finds
ENV_IGNORED = ("RAGSWEEP_LOG_LEVEL",)  # how much a sweep prints (ragsweep -q / -v), never what it writes
MANIFEST_FORMAT = 2
RUN_RESULTS = ("run.json", "metrics.json", "records.parquet")  # what a run folder must hold to be trusted
CONFIG_DIR_FLAGS = ("--config-dir", "-cd")
MULTIRUN_FLAGS = ("-m", "--multirun")
ENV_REFERENCE = re.compile(r"oc\.env\s*:\s*([A-Za-z_][A-Za-z0-9_]*)")
IMPORT_PATH = re.compile(r"(?:_target_|name)\s*[:=]\s*['\"]?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)")
YAML_COMMENT = re.compile(r"(^|\s)#.*$", re.MULTILINE)  # an example in a comment names no component


def parse_command_line(argv: Sequence[str]) -> tuple[list[str], list[Path], bool] | None:
    """(overrides, config folders: the user's then the installed plugins', multirun flag) of a ``run``/``sweep``
    command line; None when it holds
    a Hydra option this module does not model (``--cfg``, ``--config-name``, ...) or redirects the config
    search path: such a sweep is always run."""
    overrides: list[str] = []
    folders: list[Path] = []
    multirun = False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in MULTIRUN_FLAGS:
            multirun = True
        elif arg in CONFIG_DIR_FLAGS and args:
            folders.append(Path(args.pop(0)).resolve())
        elif arg.startswith("--config-dir="):
            folders.append(Path(arg.split("=", 1)[1]).resolve())
        elif arg.startswith("-") or "=" not in arg or "hydra.searchpath" in arg:
            return None
        else:
            overrides.append(arg)
    from ragsweep.plugins import config_folders

    return overrides, [*folders, *(f for f in config_folders() if f not in folders)], multirun


def _hash_tree(h: Any, label: str, root: Path, pattern: str) -> None:
    for path in sorted(root.rglob(pattern)):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(f"{label}:{path.relative_to(root)}\0{sha256_file(path)}\n".encode())


def _source_roots() -> list[Path]:
    roots = []
    for name in ("ragsweep", "ragsweep.tasks", "ragsweep.metrics"):
        spec = importlib.util.find_spec(name)
        roots += [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    return sorted(set(roots))


def _component_identity(dotted: str) -> str | None | bool:
    """The code identity of the module an import path names (``pkg.mod.Class`` -> pkg.mod, with the helpers it
    imports); True for a ragsweep one (covered by the source hash); None when it cannot be found (then no
    fingerprint)."""
    if dotted.startswith("ragsweep."):
        return True
    parts = dotted.split(".")
    for end in range(len(parts) - 1, 0, -1):
        identity = code_identity(".".join(parts[:end]))
        if identity is not None:
            return identity
    return None


def _path_like(value: str) -> bool:
    return value.startswith(("~", "/", "./", "../")) or os.sep in value


def _real_paths(overrides: Sequence[str]) -> dict[str, str]:
    """The real path of every override value that names a path: ``~`` and links resolve differently under
    another HOME or after a link is retargeted, while the command line reads the same."""
    out = {}
    for override in overrides:
        value = override.split("=", 1)[1].strip("'\"")
        if _path_like(value):
            out[override] = os.path.realpath(os.path.expanduser(value))
    return out


def _installed_distributions() -> list[str]:
    """Every ``name-version.dist-info`` in this interpreter's site-packages folders (not the rest of sys.path,
    which depends on how the command was started): a changed library version changes the fingerprint."""
    return sorted(d.info.name for d in installed())


def fingerprint(argv: Sequence[str]) -> str | None:
    """The sweep's fingerprint, or None when its command line is one this module does not model."""
    parsed = parse_command_line(argv)
    if parsed is None:
        return None
    overrides, folders, _ = parsed
    h = hashlib.sha256()
    h.update(json.dumps({"argv": list(argv), "cwd": os.getcwd(), "python": sys.version, "real_paths": _real_paths(overrides)}).encode())
    config_roots = [("ragsweep", CONFIG_DIR)] + [(f"user{i}", f) for i, f in enumerate(folders)]
    texts = list(overrides)
    for label, root in config_roots:
        if not root.is_dir():
            return None
        _hash_tree(h, label, root, "*")
        texts += [YAML_COMMENT.sub("", p.read_text("utf-8", errors="replace")) for p in sorted(root.rglob("*.yaml"))]
    for i, root in enumerate(_source_roots()):
        _hash_tree(h, f"src{i}", root, "*.py")
    for dotted in sorted({m for text in texts for m in IMPORT_PATH.findall(text)}):
        identity = _component_identity(dotted)
        if identity is None:
            log.info("no up-to-date check: the source of %s, named in a config, cannot be found; the sweep runs", dotted)
            return None
        if isinstance(identity, str):
            h.update(f"component:{dotted}\0{identity}\n".encode())
    named = {m for text in texts for m in ENV_REFERENCE.findall(text)}
    env = {k: v for k, v in os.environ.items() if (k in named or k in ENV_NAMES or k.startswith(ENV_PREFIXES)) and k not in ENV_IGNORED}
    h.update(json.dumps({"env": env, "distributions": _installed_distributions()}, sort_keys=True).encode())
    return h.hexdigest()


def manifest_path(argv: Sequence[str], fp: str) -> Path:
    """Under the sweep's results root (ragsweep.paths.results_root)."""
    return manifest_file(results_root(argv), fp)


def manifest_file(results_root: Path, fp: str) -> Path:
    """Where the manifest of the sweep with fingerprint ``fp`` lives under ``results_root``."""
    return results_root / "sweeps" / f"{fp[:32]}.json"


def content_hash(path: Path) -> str | None:
    """sha256 of a file, or of a folder's file hashes; None when it cannot be read."""
    try:
        return sha256_json(sha256_paths([path])) if path.is_dir() else sha256_file(path)
    except OSError:
        return None


def data_state(path: str) -> dict[str, str | None]:
    """What a data path leads to now: its real path (links and ``~`` resolved) and its content hash."""
    return {"real": os.path.realpath(path), "sha256": content_hash(Path(path))}


def _changed_code(code: dict[str, str]) -> str | None:
    """The first component module whose code identity differs from the recorded one, else None."""
    return next((module for module, identity in sorted(code.items()) if code_identity(module) != identity), None)


def up_to_date_runs(path: Path, fp: str) -> list[str] | None:
    """The run folders of the sweep the manifest at ``path`` records, if it is current: same fingerprint, at
    least one run, every run folder holding its results unchanged, every data path leading to the same real
    path and content, every component's code unchanged. None otherwise (with a line saying why, where a
    manifest exists)."""
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text("utf-8"))
        if manifest.get("format") != MANIFEST_FORMAT:
            log.info("sweep manifest %s is of an older format: running the sweep", path)
            return None
        runs, data, code = manifest["runs"], manifest["data"], manifest["code"]
        well_formed = (
            isinstance(data, dict) and isinstance(code, dict) and isinstance(runs, list)
            and all(isinstance(r, dict) and isinstance(r["dir"], str) and isinstance(r["files"], dict) for r in runs)
            and all(isinstance(v, dict) for v in data.values())
        )
        if not well_formed:
            raise TypeError("not a sweep manifest")
        if manifest["fingerprint"] != fp:
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        log.warning("unreadable sweep manifest %s (%s): running the sweep", path, err)
        return None
    if not runs:
        log.warning("sweep manifest %s names no run: running the sweep", path)
        return None
    for run in runs:
        missing = [name for name in RUN_RESULTS if name not in run["files"]]
        if missing or any(content_hash(Path(run["dir"], name)) != h for name, h in run["files"].items()):
            log.info("run folder %s changed or is gone since the sweep finished: running the sweep", run["dir"])
            return None
    changed = next((p for p, state in sorted(data.items()) if data_state(p) != state), None)
    if changed is not None:
        log.info("data %s changed (content, or where its path leads) since %s: running the sweep", changed, manifest.get("finished", "its last run"))
        return None
    module = _changed_code(code)
    if module is not None:
        log.info("the code of component module %s (or of a module it imports) changed: running the sweep", module)
        return None
    return [run["dir"] for run in runs]


def record(path: Path, fp: str, run_dirs: Sequence[str]) -> None:
    """Write the manifest of a sweep whose runs all finished; runs holding failed LLM results (which the next
    run retries), or whose run.json does not say what they read and ran, leave no manifest, so the sweep runs
    again."""
    from ragsweep.store.cache import atomic_write_bytes

    runs, data_files, code = [], set(), {}
    for run_dir in run_dirs:
        folder = Path(run_dir)
        try:
            info = read_run_info(folder)
            failed, read, used = int(info["failed_llm_results"]), list(info["data_files"]), dict(info["code"])
        except (DataError, ValueError, KeyError, TypeError) as err:
            log.warning("no sweep manifest: %s/run.json does not say what the run read and ran (%s)", folder, err)
            return
        if failed:
            log.info("%s holds failed LLM results: the sweep stays due to run again", folder.name)
            return
        if None in used.values():
            log.info("%s used a component whose source cannot be found: the sweep stays due to run again", folder.name)
            return
        files = {p.name: content_hash(p) for p in sorted(folder.iterdir()) if p.is_file()}
        if None in files.values() or any(name not in files for name in RUN_RESULTS):
            return
        runs.append({"dir": str(folder.resolve()), "files": files})
        data_files.update(read)
        code.update(used)
    if not runs:
        return
    data = {p: data_state(p) for p in sorted(data_files)}  # each file once, however many runs read it
    if any(state["sha256"] is None for state in data.values()):
        return
    manifest = {
        "format": MANIFEST_FORMAT, "fingerprint": fp, "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "runs": runs, "data": data, "code": dict(sorted(code.items())),
    }
    atomic_write_bytes(path, json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"))
