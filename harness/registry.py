"""Registries from a component name to the class that builds it.

A component module registers itself with ``@CHUNKERS.register("name")``; the registry finds which module of
its family package registers a name by reading their source, and imports only that module when the name is
asked for, so adding a component is one module plus one YAML file, and a broken module breaks only itself.

A component outside the repository needs no registration: a config names its class by import path,
Hydra style (``_target_: my_pkg.chunkers.MyChunker``, or ``name: my_pkg.chunkers.MyChunker``). The class
is imported wherever the run executes, so it works in every launcher's worker processes too. A package installed
with an entry point in the ``ragsweep.plugins`` group registers its components by name (ragsweep.plugins): a name
not found among the built-in ones is looked for there.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import types
import typing
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

from ragsweep.errors import ConfigError, RagsweepError, did_you_mean
from ragsweep.roles import (AssessorRole, ChunkerRole, GeneratorRole, JudgeRole, MetricRole, RerankerRole, RetrieverRole, SelectorRole, TaskRole,
                            TrackerRole, check_role)

T = TypeVar("T")
REGISTERED = re.compile(r"""@\w+\.register\(\s*["']([^"']+)["']\s*\)""")


NONE = "none"  # the absent component of a family: built, never called, so it provides no role


class Registry(Generic[T]):
    """``role``: the Protocol (ragsweep.roles) every class of the family is checked against when it is registered
    or named by import path."""

    def __init__(self, family: str, package: str, role: type):
        self.family = family
        self.role = role
        self._package = package
        self._entries: dict[str, type[T]] = {}
        self._modules: dict[str, str] | None = None

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def decorator(cls: type[T]) -> type[T]:
            if name in self._entries and self._entries[name] is not cls:
                raise ConfigError(f"{self.family} {name!r} is registered twice")
            if name != NONE:
                check_role(self.family, name, cls, self.role)
            self._entries[name] = cls
            cls.registry_name = name  # type: ignore[attr-defined]
            return cls

        return decorator

    def _index(self) -> dict[str, str]:
        """Name -> the module of the family package that registers it, read from the modules' source
        (``@X.register("name")``) without importing any of them: asking for one name imports one module, so a
        broken module of the family breaks only its own names."""
        if self._modules is None:
            package = importlib.import_module(self._package)
            self._modules = {}
            for info in pkgutil.iter_modules(package.__path__):
                path = Path(info.module_finder.path, f"{info.name}.py")  # type: ignore[union-attr]
                source = path.read_text("utf-8", errors="replace") if path.is_file() else ""
                for name in REGISTERED.findall(source):
                    self._modules.setdefault(name, f"{self._package}.{info.name}")
        return self._modules

    def modules(self) -> set[str]:
        """The family's own modules that register a component (found without importing them)."""
        return set(self._index().values())

    def names(self) -> list[str]:
        """Every registered name, the installed plugins' included."""
        from ragsweep.plugins import load_all

        load_all()
        return sorted(set(self._index()) | set(self._entries))

    def origins(self) -> dict[str, str]:
        """Each registered name -> where its class comes from (built-in, or the plugin package and version)."""
        from ragsweep.plugins import origin

        return {n: origin(self._entries[n].__module__) if n in self._entries else "built-in" for n in self.names()}

    def get(self, name: str) -> type[T]:
        broken: tuple[str, ...] = ()
        if name not in self._entries and name not in self._index() and "." not in name:
            from ragsweep.plugins import load_all  # an installed plugin may register it

            broken = load_all()
        if name not in self._entries and name in self._index():
            try:
                importlib.import_module(self._index()[name])
            except Exception as err:  # the one module that defines it is broken: say which, not a traceback
                raise ConfigError(f"{self.family} {name!r}: its module {self._index()[name]} cannot be imported ({type(err).__name__}: {err})") from None
        if name in self._entries:
            return self._entries[name]
        if "." in name:
            return self._import(name)
        raise ConfigError(
            f"unknown {self.family} {name!r}; known: {', '.join(self.names()) or 'none'}, or a class by import path (pkg.module.Class)"
            + "".join(f"; {line}" for line in broken)
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
        check_role(self.family, target, cls, self.role)
        return cls

    def build(self, config: dict[str, Any]) -> T:
        """Build from a config dict whose ``name`` picks the entry and whose other keys are kwargs."""
        params = with_target_name(config)
        params.pop(DISPLAY_NAME, None)
        try:
            name = params.pop("name")
        except KeyError:
            raise ConfigError(f"{self.family} config has neither 'name' nor '_target_': {config}") from None
        cls = self.get(name)
        check_parameters(f"{self.family} {name!r}", cls, params)
        try:
            return cls(**params)
        except RagsweepError:
            raise
        except TypeError as err:
            unexpected = re.search(r"unexpected keyword argument '([^']+)'", str(err))
            if unexpected:  # a **kwargs passed on to a base that does not take it
                raise unknown_keyword(f"{self.family} {name!r}", cls, unexpected.group(1)) from None
            raise ConfigError(f"{self.family} {name!r}: {err}") from None
        except Exception as err:  # a constructor that fails on its config: one line, not a traceback
            shown = repr(params)
            shown = shown if len(shown) <= 200 else shown[:200] + "...}"
            raise ConfigError(f"{self.family} {name!r} ({cls.__module__}.{cls.__qualname__}) could not be built from {shown}: {type(err).__name__}: {err}") from None


SCALARS = (bool, int, float, str, type(None))


def _accepts(hint: Any, value: Any) -> bool | None:
    """Whether ``value`` fits a scalar type hint (int, float, bool, str, None, or a union of them); None for a
    hint this check does not judge (lists, mappings, Any, classes)."""
    members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if not all(m in SCALARS for m in members):
        return None
    for member in members:
        if member is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if member is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if member in (bool, str, type(None)) and type(value) is member:
            return True
    return False


def constructor_parameters(cls: type, through_kwargs: bool = False) -> list[str] | None:
    """The keyword parameters ``cls(...)`` accepts, or None when its ``__init__`` takes ``**kwargs`` (anything may be
    meant for what it builds). ``through_kwargs``: follow ``**kwargs`` into the bases' ``__init__`` in MRO order
    instead, up to one without it (the names a TypeError's message lists)."""
    import inspect

    accepted: list[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        if klass is object:
            return accepted
        try:
            parameters = inspect.signature(klass.__init__).parameters.values()
        except (TypeError, ValueError):
            return None
        accepted += [p.name for p in parameters if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in accepted]
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return accepted
        if not through_kwargs:
            return None
    return None


def unknown_keyword(what: str, cls: type, key: str) -> ConfigError:
    accepted = constructor_parameters(cls, through_kwargs=True) or []
    return ConfigError(f"{what}: unknown parameter {key!r}: {did_you_mean(key, accepted)}(its parameters: {', '.join(accepted) or 'none'})")


def check_parameters(what: str, cls: type, params: dict[str, Any]) -> None:
    """Each parameter must be one the constructor takes (``+chunker.sise=300``: the closest name and the list), and
    each whose annotation is a scalar type must have that type, so that ``chunker.size=abc`` is one line before any
    work, not a TypeError deep inside a stage."""
    accepted = constructor_parameters(cls)
    if accepted is not None:
        for key in params:
            if key not in accepted:
                raise unknown_keyword(what, cls, str(key))
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # annotations that do not resolve here (names imported only for type checkers)
        return
    for key, value in params.items():
        if key in hints and _accepts(hints[key], value) is False:
            expected = " or ".join(getattr(m, "__name__", str(m)).replace("NoneType", "null") for m in (typing.get_args(hints[key]) or (hints[key],)))
            raise ConfigError(f"{what}: parameter {key!r} must be {expected}, got {value!r} ({type(value).__name__})")


DISPLAY_NAME = "display_name"  # a component's short name for run names and the leaderboard, never a constructor argument


def with_target_name(config: dict[str, Any]) -> dict[str, Any]:
    """A component config with Hydra's ``_target_`` moved into ``name``: one key names the component's class for
    the registries and the stage keys. A ``name`` beside ``_target_`` is its short display name (``_target_:
    my_pkg.chunkers.EveryNChars`` with ``name: every_n``), kept as ``display_name`` for run names and the
    leaderboard."""
    params = dict(config)
    target = params.pop("_target_", None)
    if target is not None:
        name = params.get("name")
        if name not in (None, target):
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                raise ConfigError(f"a component's name beside _target_ {target!r} is its display name: one word of letters, digits, '_', '.', '-', not {name!r}")
            params[DISPLAY_NAME] = name
        params["name"] = target
    return params


CHUNKERS: Registry[Any] = Registry("chunker", "ragsweep.chunkers", ChunkerRole)
RETRIEVERS: Registry[Any] = Registry("retriever", "ragsweep.retrievers", RetrieverRole)
RERANKERS: Registry[Any] = Registry("reranker", "ragsweep.rerankers", RerankerRole)
SELECTORS: Registry[Any] = Registry("selector", "ragsweep.selectors", SelectorRole)
GENERATORS: Registry[Any] = Registry("generator", "ragsweep.generators", GeneratorRole)
JUDGES: Registry[Any] = Registry("judge", "ragsweep.judges", JudgeRole)
ASSESSORS: Registry[Any] = Registry("assessor", "ragsweep.assessors", AssessorRole)
TASKS: Registry[Any] = Registry("task", "ragsweep.tasks", TaskRole)
METRICS: Registry[Any] = Registry("metric", "ragsweep.scoring", MetricRole)  # chosen by the scoring config group, not one per run
TRACKERS: Registry[Any] = Registry("tracker", "ragsweep.tracking", TrackerRole)  # where a written run is also reported; never part of its name

# The Hydra config group each registry serves.
BY_GROUP: dict[str, Registry[Any]] = {
    "task": TASKS, "chunker": CHUNKERS, "retriever": RETRIEVERS, "reranker": RERANKERS, "generator": GENERATORS, "judge": JUDGES,
    "assessor": ASSESSORS, "selector": SELECTORS,
}
