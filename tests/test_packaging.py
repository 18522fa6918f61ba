"""The install layout: every package folder is in pyproject.toml, and a built wheel holds the configs and
bundled suites under `ragsweep/` and nothing at the generic top-level names `tasks`, `metrics`, `harness` (only the
Hydra launcher plugin, in Hydra's `hydra_plugins` namespace).
(`make install-check` installs such a wheel into a fresh virtualenv and runs it from an empty folder.)"""

from __future__ import annotations

import pytest

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FOLDERS = {"harness": "ragsweep", "tasks": "ragsweep.tasks", "metrics": "ragsweep.metrics"}
HYDRA_PLUGINS = "harness/hydra_plugins"  # installs as Hydra's namespace package hydra_plugins, not under ragsweep


def test_every_package_folder_is_listed():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for folder, package in FOLDERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            if init.is_relative_to(REPO / HYDRA_PLUGINS):
                found.add(".".join(("hydra_plugins", *init.parent.relative_to(REPO / HYDRA_PLUGINS).parts)))
                continue
            inner = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((package, *inner)))
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_every_data_folder_is_listed():
    """Config groups and bundled suites are folders of data: unlisted, a build warns about each (and a future
    setuptools will leave them out)."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join((package, *d.relative_to(REPO / folder).parts)) for folder, package in (("configs", "ragsweep.configs"), ("tasks/data", "ragsweep.tasks.data"))
             for d in (REPO / folder).rglob("*") if d.is_dir() and "__pycache__" not in d.parts}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


@pytest.mark.process
def test_wheel_layout(tmp_path):
    source = tmp_path / "src"  # a copy: setuptools writes build/ beside the sources
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy(REPO / name, source / name)
    for folder in (*FOLDERS, "configs"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(source)],
                           check=True, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    warnings = [line for line in (built.stdout + built.stderr).splitlines() if "warning" in line.lower()]
    assert warnings == [], warnings[:5]  # a build prints no setuptools warning
    [wheel] = tmp_path.glob("ragsweep-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"ragsweep", "hydra_plugins", next(t for t in tops if t.endswith(".dist-info"))}
    # Only our launcher goes into Hydra's namespace, and no __init__.py that would hide the other plugins there.
    assert {n.split("/")[1] for n in names if n.startswith("hydra_plugins/")} == {"ragsweep_launcher"}
    assert "hydra_plugins/ragsweep_launcher/slurm_launcher.py" in names
    for needed in ("ragsweep/commands/cli.py", "ragsweep/engine/pipeline.py", "ragsweep/store/cache.py", "ragsweep/configs/config.yaml", "ragsweep/configs/task/span_mini.yaml",
                   "ragsweep/configs/hydra/launcher/local.yaml", "ragsweep/tasks/data/span_mini/questions_df.csv",
                   "ragsweep/metrics/spans.py", "ragsweep/chunkers/base.py"):
        assert needed in names, needed
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "ragsweep = ragsweep.commands.cli:main" in entry_points
