"""Registries from a component name to the class that builds it.

A component module registers itself with ``@CHUNKERS.register("name")``; each family package imports
all of its modules on first use, so adding a component is one module plus one YAML file.

A component outside the repository needs no registration: a config names its class by import path,
Hydra style (``_target_: my_pkg.chunkers.MyChunker``, or ``name: my_pkg.chunkers.MyChunker``). The class
is imported wherever the run executes, so it works in every launcher's worker processes too.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable, Generic, TypeVar

from ragsweep.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, family: str, package: str):
        self.family = family
        self._package = package
        self._entries: dict[str, type[T]] = {}
        self._discovered = False

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def decorator(cls: type[T]) -> type[T]:
            if name in self._entries and self._entries[name] is not cls:
                raise ConfigError(f"{self.family} {name!r} is registered twice")
            self._entries[name] = cls
            cls.registry_name = name  # type: ignore[attr-defined]
            return cls

        return decorator

    def _discover(self) -> None:
        if self._discovered:
            return
        package = importlib.import_module(self._package)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{self._package}.{info.name}")
        self._discovered = True

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._entries)

    def get(self, name: str) -> type[T]:
        self._discover()
        if name in self._entries:
            return self._entries[name]
        if "." in name:
            return self._import(name)
        raise ConfigError(
            f"unknown {self.family} {name!r}; known: {', '.join(self.names()) or 'none'}, or a class by import path (pkg.module.Class)"
        )

    def _import(self, target: str) -> type[T]:
        module_name, _, attr = target.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except ImportError as err:
            raise ConfigError(f"{self.family} {target!r}: cannot import {module_name!r} ({err}); is its folder on PYTHONPATH?") from None
        except AttributeError:
            raise ConfigError(f"{self.family} {target!r}: module {module_name!r} has no {attr!r}") from None
        if not isinstance(cls, type):
            raise ConfigError(f"{self.family} {target!r} is not a class")
        return cls

    def build(self, config: dict[str, Any]) -> T:
        """Build from a config dict whose ``name`` picks the entry and whose other keys are kwargs."""
        params = with_target_name(config)
        try:
            name = params.pop("name")
        except KeyError:
            raise ConfigError(f"{self.family} config has neither 'name' nor '_target_': {config}") from None
        cls = self.get(name)
        try:
            return cls(**params)
        except TypeError as err:
            raise ConfigError(f"{self.family} {name!r}: {err}") from None


def with_target_name(config: dict[str, Any]) -> dict[str, Any]:
    """A component config with Hydra's ``_target_`` moved into ``name``: one key names the component for
    the registries, the stage keys, the labels and the leaderboard."""
    params = dict(config)
    target = params.pop("_target_", None)
    if target is not None:
        if params.get("name") not in (None, target):
            raise ConfigError(f"component config has both name {params['name']!r} and _target_ {target!r}: keep one")
        params["name"] = target
    return params


CHUNKERS: Registry[Any] = Registry("chunker", "ragsweep.chunkers")
RETRIEVERS: Registry[Any] = Registry("retriever", "ragsweep.retrievers")
RERANKERS: Registry[Any] = Registry("reranker", "ragsweep.rerankers")
GENERATORS: Registry[Any] = Registry("generator", "ragsweep.generators")
JUDGES: Registry[Any] = Registry("judge", "ragsweep.judges")
TASKS: Registry[Any] = Registry("task", "ragsweep.tasks")

# The Hydra config group each registry serves.
BY_GROUP: dict[str, Registry[Any]] = {
    "task": TASKS, "chunker": CHUNKERS, "retriever": RETRIEVERS, "reranker": RERANKERS, "generator": GENERATORS, "judge": JUDGES,
}
