"""Registries from a component name to the class that builds it.

A component module registers itself with ``@CHUNKERS.register("name")``; each family package imports
all of its modules on first use, so adding a component is one module plus one YAML file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable, Generic, TypeVar

from harness.errors import ConfigError

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
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.family} {name!r}; known: {', '.join(self.names()) or 'none'}"
            ) from None

    def build(self, config: dict[str, Any]) -> T:
        """Build from a config dict whose ``name`` picks the entry and whose other keys are kwargs."""
        params = dict(config)
        try:
            name = params.pop("name")
        except KeyError:
            raise ConfigError(f"{self.family} config has no 'name': {config}") from None
        cls = self.get(name)
        try:
            return cls(**params)
        except TypeError as err:
            raise ConfigError(f"{self.family} {name!r}: {err}") from None


CHUNKERS: Registry[Any] = Registry("chunker", "harness.chunkers")
RETRIEVERS: Registry[Any] = Registry("retriever", "harness.retrievers")
RERANKERS: Registry[Any] = Registry("reranker", "harness.rerankers")
GENERATORS: Registry[Any] = Registry("generator", "harness.generators")
JUDGES: Registry[Any] = Registry("judge", "harness.judges")
TASKS: Registry[Any] = Registry("task", "tasks")

# The Hydra config group each registry serves.
BY_GROUP: dict[str, Registry[Any]] = {
    "task": TASKS, "chunker": CHUNKERS, "retriever": RETRIEVERS, "reranker": RERANKERS, "generator": GENERATORS, "judge": JUDGES,
}
