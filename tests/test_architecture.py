"""The package's structure holds: no import circle among its modules (module-level imports; a function may
import lazily), and a registry imports only the module that defines the name asked for."""

from __future__ import annotations

import ast
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
    (tmp_path / "famtest_registry.py").write_text("from ragsweep.registry import Registry\nTHINGS = Registry('thing', 'famtest')\n")
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
