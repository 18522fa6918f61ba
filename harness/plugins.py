"""Plugins installed as packages, found the way pytest finds its own: an entry point in the ``ragsweep.plugins``
group names a module; importing it registers its components (``@CHUNKERS.register("name")`` and the like). A
package folder named ``configs`` beside that module holds its YAML files (``chunker/<name>.yaml``, ...), which
become choices on the command line: ``pip install my-chunkers`` and then ``ragsweep run chunker=every_n``.

    # the plugin's pyproject.toml
    [project.entry-points."ragsweep.plugins"]
    my_chunkers = "my_chunkers"

Plugins are imported only when a name is not found among the built-in ones (or when everything is listed), so a
broken plugin costs nothing until it is needed, and then it is one line naming its package.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Sequence

from ragsweep.errors import ConfigError

log = logging.getLogger(__name__)

GROUP = "ragsweep.plugins"


@dataclass(frozen=True)
class Plugin:
    entry: str  # the entry point's name
    module: str  # the module it names, imported to register the plugin's components
    distribution: str  # "<package> <version>", where `ragsweep list` says a component came from
    configs: Path | None  # the module's configs/ folder, added to Hydra's search path

    def owns(self, module: str) -> bool:
        return module == self.module or module.startswith(self.module + ".")


def _configs_folder(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or ()) if spec else ():
        folder = Path(location) / "configs"
        if folder.is_dir():
            return folder.resolve()
    return None


@functools.lru_cache(maxsize=1)
def installed() -> tuple[Plugin, ...]:
    """Every plugin the environment's installed packages declare, by entry point name (read once per process:
    installing a package does not happen under a running sweep)."""
    plugins = []
    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        module = ep.value.split(":", 1)[0].strip()
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else ep.name
        plugins.append(Plugin(ep.name, module, dist, _configs_folder(module)))
    return tuple(plugins)


@functools.lru_cache(maxsize=1)
def load_all() -> tuple[str, ...]:
    """Import every plugin's module once (registering its components); one warning line for each that cannot be
    imported, whose names then stay unknown. Returns the lines, for an unknown name's message."""
    broken = []
    for plugin in installed():
        try:
            importlib.import_module(plugin.module)
        except Exception as err:  # noqa: BLE001 - a broken plugin breaks only its own names
            line = f"plugin {plugin.entry} ({plugin.distribution}) cannot be imported: {type(err).__name__}: {err}"
            log.warning("%s", line)
            broken.append(line)
    return tuple(broken)


def origin(module: str) -> str:
    """Where a component class comes from: ``built-in``, ``plugin <package> <version>`` or ``import path``."""
    if module == "ragsweep" or module.startswith("ragsweep."):
        return "built-in"
    for plugin in installed():
        if plugin.owns(module):
            return f"plugin {plugin.distribution}"
    return "import path"


def config_folders() -> list[Path]:
    """The plugins' configs/ folders, in entry point order."""
    return [p.configs for p in installed() if p.configs is not None]


def with_search_path(overrides: Sequence[str]) -> list[str]:
    """``overrides`` with the plugins' config folders on Hydra's search path (after any the user gave with
    ``hydra.searchpath=[...]``); unchanged when no installed plugin ships configs."""
    folders = [f"file://{folder}" for folder in config_folders()]
    if not folders:
        return list(overrides)
    given = [o for o in overrides if o.split("=", 1)[0].lstrip("+") == "hydra.searchpath"]
    if len(given) > 1:
        raise ConfigError("hydra.searchpath is given more than once")
    user: list[str] = []
    if given:
        value = given[0].split("=", 1)[1].strip()
        if not (value.startswith("[") and value.endswith("]")):
            raise ConfigError(f"hydra.searchpath must be a list ([file:///a,pkg://b]), not {value!r}")
        user = [v.strip() for v in value[1:-1].split(",") if v.strip()]
    rest = [o for o in overrides if o not in given]
    return [*rest, f"hydra.searchpath=[{','.join([*user, *folders])}]"]
