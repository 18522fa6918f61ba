"""The package's structure holds: every import points down the floors docs/architecture.md lays out (lazy imports
inside functions included), no import circle among its modules (module-level imports; a function may import
lazily), and a registry imports only the module that defines the name asked for."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOTS = {"ragsweep": REPO / "harness", "ragsweep.tasks": REPO / "tasks", "ragsweep.metrics": REPO / "metrics"}


def module_files() -> dict[str, Path]:
    out = {}
    for package, root in ROOTS.items():
        for path in root.rglob("*.py"):
            if "__pycache__" in path.parts or (package == "ragsweep" and path.relative_to(root).parts[0] in ("tasks", "metrics")):
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def module_level_imports(path: Path, modules: set[str]) -> set[str]:
    """ragsweep modules imported at module level (not inside functions, not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text("utf-8"))
    found = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if isinstance(node, (ast.Import, ast.ImportFrom, ast.If, ast.Try)) else ():
            names = []
            if isinstance(sub, ast.Import):
                names = [a.name for a in sub.names]
            elif isinstance(sub, ast.ImportFrom) and sub.module and not sub.level:
                names = [sub.module] + [f"{sub.module}.{a.name}" for a in sub.names]
            found |= {n for n in names if n in modules}
    return found


FLOOR_ROW = re.compile(r"^\| (\d+) \| ((?:`[\w]+`(?:, )?)+) \|")


def floors_of_rooms(doc: Path = REPO / "docs" / "architecture.md") -> dict[str, int]:
    """Room (a subpackage, or a module at the package root) -> its floor, from the floors table of the doc."""
    floors: dict[str, int] = {}
    for line in doc.read_text("utf-8").splitlines():
        if row := FLOOR_ROW.match(line):
            for room in re.findall(r"`(\w+)`", row.group(2)):
                assert room not in floors, f"{room} is on two floors"
                floors[room] = int(row.group(1))
    return floors


def room_of(module: str) -> str:
    """``ragsweep.engine.pipeline`` -> ``engine``; ``ragsweep.hashing`` -> ``hashing``; ``ragsweep.tasks.x`` -> ``tasks``."""
    return module.split(".")[1]


def every_import(path: Path, modules: set[str]) -> set[str]:
    """ragsweep modules imported anywhere in the file: at module level, inside functions, under TYPE_CHECKING.
    ``from a import b`` imports ``a.b`` where that is a module, else ``a``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names}
    return found & modules


def climbs(files: dict[str, Path], floors: dict[str, int]) -> list[str]:
    """Every import from a room to a room on a higher floor, as ``importer (floor) -> imported (floor)``."""
    out = []
    for module, path in sorted(files.items()):
        if module == "ragsweep":
            continue
        for target in sorted(every_import(path, set(files)) - {"ragsweep"}):
            low, high = floors[room_of(module)], floors[room_of(target)]
            if high > low:
                out.append(f"{module} ({low}) -> {target} ({high})")
    return out


def test_every_folder_and_root_module_has_a_floor():
    files = module_files()
    assert sorted({room_of(m) for m in files if m != "ragsweep"}) == sorted(floors_of_rooms())


def test_no_import_climbs_a_floor():
    assert climbs(module_files(), floors_of_rooms()) == []


def test_the_package_root_imports_nothing_of_its_own():
    """``import ragsweep`` changes nothing in the process and pulls in no floor."""
    assert every_import(ROOTS["ragsweep"] / "__init__.py", set(module_files())) == set()


def test_the_floor_check_sees_a_lazy_import_that_climbs(tmp_path):
    """The check can fail: a store module importing the engine inside a function is reported."""
    climber = tmp_path / "climber.py"
    climber.write_text("def f():\n    from ragsweep.engine.pipeline import Pipeline\n    return Pipeline\n")
    files = {"ragsweep.store.climber": climber, "ragsweep.engine.pipeline": tmp_path / "empty.py"}
    (tmp_path / "empty.py").write_text("")
    assert climbs(files, {"store": 3, "engine": 8}) == ["ragsweep.store.climber (3) -> ragsweep.engine.pipeline (8)"]
    assert climbs(files, {"store": 8, "engine": 8}) == []


def test_no_import_circle():
    files = module_files()
    graph = {m: module_level_imports(p, set(files)) - {m} for m, p in files.items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_a_broken_module_breaks_only_its_own_names(tmp_path, monkeypatch):
    """A family package with one good and one broken module: the good name builds, the family lists both
    names without importing either, and the broken name is one line naming its module."""
    import pytest

    from ragsweep.errors import ConfigError
    from ragsweep.registry import Registry

    pkg = tmp_path / "famtest"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text("from famtest_registry import THINGS\n\n@THINGS.register('good')\nclass Good:\n    pass\n")
    (pkg / "broken.py").write_text("import a_library_that_is_not_installed\nfrom famtest_registry import THINGS\n\n@THINGS.register('broken')\nclass Broken:\n    pass\n")
    (tmp_path / "famtest_registry.py").write_text("from ragsweep.registry import Registry\nTHINGS = Registry('thing', 'famtest', type('Thing', (), {}))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import famtest_registry

    things: Registry = famtest_registry.THINGS
    assert things.names() == ["broken", "good"] and "famtest.broken" not in sys.modules
    assert things.build({"name": "good"}).__class__.__name__ == "Good"
    assert "famtest.broken" not in sys.modules  # building "good" never imported its broken neighbour
    with pytest.raises(ConfigError) as err:
        things.get("broken")
    assert str(err.value) == ("thing 'broken': its module famtest.broken cannot be imported "
                              "(ModuleNotFoundError: No module named 'a_library_that_is_not_installed')")
    for name in ("famtest", "famtest.good", "famtest.broken", "famtest_registry"):
        sys.modules.pop(name, None)


def test_a_class_that_lacks_its_roles_methods_is_refused_when_registered():
    import pytest

    from ragsweep.errors import ConfigError
    from ragsweep.registry import CHUNKERS, JUDGES

    with pytest.raises(ConfigError) as err:
        @CHUNKERS.register("test_roleless")
        class Roleless:
            def chunks(self, docs):  # a typo of chunk
                return []
    assert str(err.value) == ("chunker 'test_roleless' (tests.test_architecture.test_a_class_that_lacks_its_roles_methods_is_refused_when_registered"
                              ".<locals>.Roleless) lacks chunk(): a chunker provides chunk()")
    assert "test_roleless" not in CHUNKERS.names()
    with pytest.raises(ConfigError, match=r"judge 'x' \(.*HalfJudge\) lacks planned_calls\(\), headline_columns, column_judges: a judge provides "
                                          r"judge\(\), planned_calls\(\), lower_is_better, headline_columns, column_judges"):
        @JUDGES.register("x")
        class HalfJudge:
            lower_is_better: list[str] = []

            def judge(self, queries, generations, chunks):
                return []


def test_a_class_named_by_import_path_is_checked_against_its_role(tmp_path, monkeypatch):
    import pytest

    from ragsweep.errors import ConfigError
    from ragsweep.registry import RERANKERS

    (tmp_path / "outside_rerankers.py").write_text(
        "class Sorter:\n    def rerank(self, question, candidates):\n        return [(i, 0.0) for i in range(len(candidates))]\n\n"
        "class NotOne:\n    def order(self, question, candidates):\n        return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert RERANKERS.get("outside_rerankers.Sorter").__name__ == "Sorter"
    with pytest.raises(ConfigError) as err:
        RERANKERS.build({"_target_": "outside_rerankers.NotOne"})
    assert str(err.value) == "reranker 'outside_rerankers.NotOne' (outside_rerankers.NotOne) lacks rerank(): a reranker provides rerank()"
    sys.modules.pop("outside_rerankers", None)


def test_every_built_in_component_provides_its_role():
    """Each registered name of every family resolves (its module registers it, so its role was checked), the absent
    component "none" aside, which is never called."""
    from ragsweep.llm.base import BACKENDS
    from ragsweep.registry import BY_GROUP, METRICS, TRACKERS
    from ragsweep.roles import check_role

    for registry in (*BY_GROUP.values(), METRICS, TRACKERS, BACKENDS):
        for name in registry.names():
            if name != "none":
                check_role(registry.family, name, registry.get(name), registry.role)


def test_the_engine_reaches_components_only_through_the_registries():
    """No module of the engine imports a module that registers a component (a chunker, a judge, a metric family, ...),
    lazily or not: it builds them by name or ``_target_`` through the registries, so a component from outside is
    run exactly like a built-in one. It may import what a family shares (task loading, the assessment store,
    scoring)."""
    from ragsweep.llm.base import BACKENDS
    from ragsweep.registry import BY_GROUP, METRICS, TRACKERS

    components = set().union(*(r.modules() for r in (*BY_GROUP.values(), METRICS, TRACKERS, BACKENDS)))
    assert "ragsweep.retrievers.bm25" in components and "ragsweep.judges.llm" in components  # the check sees them
    files = module_files()
    reached = {f"{module} -> {target}" for module, path in files.items() if module.startswith("ragsweep.engine.")
               for target in every_import(path, set(files)) & components}
    assert not reached, sorted(reached)
