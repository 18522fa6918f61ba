"""Components from outside the repository: a chunker class in a folder of the user's own, named by
import path in a YAML file of the user's own config folder, in a 2-job sweep on the process launchers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ragsweep.errors import ConfigError
from ragsweep.registry import CHUNKERS, with_target_name

pytestmark = pytest.mark.process

PLUGIN = '''
from ragsweep.chunkers.base import Chunker


class EveryNChars(Chunker):
    """Cuts each document every `size` characters."""

    label_params = ("size",)

    def __init__(self, size: int):
        self.size = size

    def spans(self, doc):
        return [(s, min(s + self.size, len(doc.text))) for s in range(0, len(doc.text), self.size)]
'''


def user_project(root: Path) -> dict[str, str]:
    """A plugin package and a config folder outside the repository; the environment that finds them."""
    (root / "plugins" / "my_chunkers").mkdir(parents=True)
    (root / "plugins" / "my_chunkers" / "__init__.py").write_text("")
    (root / "plugins" / "my_chunkers" / "every_n.py").write_text(PLUGIN)
    (root / "conf" / "chunker").mkdir(parents=True)
    (root / "conf" / "chunker" / "every_n.yaml").write_text("_target_: my_chunkers.every_n.EveryNChars\nsize: 300\n")
    return {**os.environ, "PYTHONPATH": str(root / "plugins"), "RAGSWEEP_RESULTS": str(root / "results")}


@pytest.mark.parametrize("launcher", ["local", "local_submitit"])
def test_out_of_tree_chunker_in_a_two_job_sweep(tmp_path, launcher):
    env = user_project(tmp_path)
    cmd = [
        sys.executable, "-m", "ragsweep", "run", "-m", "--config-dir", str(tmp_path / "conf"), f"hydra/launcher={launcher}",
        "task=span_mini", "chunker=every_n", "chunker.size=200,450", "retriever=bm25", "generator=none", "progress=false",
        "sweep_name=plugin",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    runs = sorted((tmp_path / "results" / "runs" / "plugin").iterdir())
    assert [r.name.rsplit("__", 1)[0] for r in runs] == [
        "span_mini__every_n__bm25__none__none__none__chunker.size=200",
        "span_mini__every_n__bm25__none__none__none__chunker.size=450",
    ]
    for run, size in zip(runs, (200, 450)):
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["components"]["chunker"] == f"my_chunkers.every_n.EveryNChars size={size}"
        records = pd.read_parquet(run / "records.parquet")
        lengths = [len(c["text"]) for chunks in records["ranked_chunks"] for c in chunks]
        assert max(lengths) == size  # the plugin's cuts, seen through the records
    assert "sweep finished: 2 of 2 runs written" in log
    # the sweep ends with its results table: the chunker varies, so it is a column; the rest is said once
    table = out.stdout[out.stdout.index("sweep plugin: "):]
    assert "span_mini (14 queries, 2 runs); every run: retriever bm25 backend=sparse" in table and "ragsweep report --sweep plugin" in table
    assert "my_chunkers.every_n.EveryNChars size=200" in table and "my_chunkers.every_n.EveryNChars size=450" in table
    if launcher == "local":  # joblib workers log to this terminal; submitit's go to their own files
        assert "sweep progress: 2 of 2 runs done" in log


def test_a_missing_plugin_module_is_one_line(tmp_path):
    env = user_project(tmp_path)
    env["PYTHONPATH"] = ""
    cmd = [sys.executable, "-m", "ragsweep", "run", "--config-dir", str(tmp_path / "conf"), "task=span_mini", "chunker=every_n", "generator=none", "progress=false"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    errors = [line for line in (out.stdout + out.stderr).splitlines() if "ERROR" in line]
    assert out.returncode == 2
    assert len(errors) == 1 and "chunker 'my_chunkers.every_n.EveryNChars': cannot import 'my_chunkers.every_n'" in errors[0]
    assert "PYTHONPATH" in errors[0]
    assert not (tmp_path / "results" / "runs").exists()


def test_target_and_name_resolve_to_one_class():
    assert with_target_name({"_target_": "ragsweep.chunkers.fixed.FixedTokens", "size": 3}) == {"name": "ragsweep.chunkers.fixed.FixedTokens", "size": 3}
    # a name beside _target_ is the component's display name (run names, the leaderboard), never a constructor argument
    assert with_target_name({"_target_": "a.B", "name": "mine"}) == {"name": "a.B", "display_name": "mine"}
    with pytest.raises(ConfigError, match="display name: one word"):
        with_target_name({"_target_": "a.B", "name": "two words"})
    with pytest.raises(ConfigError, match="module 'ragsweep.chunkers.base' has no 'Nope'"):
        CHUNKERS.get("ragsweep.chunkers.base.Nope")
    with pytest.raises(ConfigError, match="'os.path.join' is not a class"):
        CHUNKERS.get("os.path.join")
    with pytest.raises(ConfigError, match="unknown chunker 'nope'.*or a class by import path"):
        CHUNKERS.get("nope")


# --- plugins installed as packages (entry points, ragsweep.plugins) -------------------------------------------------

PACKAGE_PLUGIN = '''
from ragsweep.chunkers.base import Chunker
from ragsweep.registry import CHUNKERS


@CHUNKERS.register("every_n")
class EveryNChars(Chunker):
    """Cuts each document every `size` characters."""

    label_params = ("size",)

    def __init__(self, size: int = 300):
        self.size = size

    def spans(self, doc):
        return [(s, min(s + self.size, len(doc.text))) for s in range(0, len(doc.text), self.size)]
'''


def installed_plugins(root: Path) -> dict[str, str]:
    """Two packages built and installed by pip into a folder of their own: my-chunkers (a chunker and its YAML, found
    through the ragsweep.plugins entry point) and broken-plugin (whose module cannot be imported)."""
    site = root / "site"
    for dist, module, code, configs in (("my-chunkers", "my_chunkers", PACKAGE_PLUGIN, True),
                                        ("broken-plugin", "broken_plugin", "import not_a_module_anywhere\n", False)):
        src = root / dist
        (src / module).mkdir(parents=True)
        (src / module / "__init__.py").write_text(code)
        data = ""
        if configs:
            (src / module / "configs" / "chunker").mkdir(parents=True)
            (src / module / "configs" / "chunker" / "every_n.yaml").write_text("# Every N characters (a plugin's chunker).\nname: every_n\nsize: 300\n")
            data = f'\n[tool.setuptools.package-data]\n{module} = ["configs/*/*.yaml"]\n'
        (src / "pyproject.toml").write_text(
            f'[build-system]\nrequires = ["setuptools>=70"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "{dist}"\nversion = "0.1"\n\n[project.entry-points."ragsweep.plugins"]\n{module} = "{module}"\n\n'
            f'[tool.setuptools]\npackages = ["{module}"]\n{data}')
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(site), str(src)],
                       check=True, capture_output=True, timeout=300)
    return {**os.environ, "PYTHONPATH": str(site), "RAGSWEEP_RESULTS": str(root / "results")}


def test_a_plugin_installed_as_a_package_is_found_by_its_entry_point(tmp_path):
    env = installed_plugins(tmp_path)
    listing = subprocess.run([sys.executable, "-m", "ragsweep", "list", "chunker"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "every_n (plugin my-chunkers 0.1)" in listing.stdout  # the class, and where it came from
    assert any(line.split()[:4] == ["every_n", "(plugin", "my-chunkers", "0.1)"] for line in listing.stdout.splitlines())  # its YAML
    assert "(broken-plugin 0.1) cannot be imported: ModuleNotFoundError" in listing.stderr  # one line; the rest lists
    cmd = [sys.executable, "-m", "ragsweep", "run", "task=span_mini", "chunker=every_n", "chunker.size=200", "retriever=bm25", "generator=none",
           "progress=false", "sweep_name=entry"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    (run,) = sorted((tmp_path / "results" / "runs" / "entry").iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["components"]["chunker"] == "every_n size=200" and run.name.startswith("span_mini__every_n__bm25")
    lengths = [len(c["text"]) for chunks in pd.read_parquet(run / "records.parquet")["ranked_chunks"] for c in chunks]
    assert max(lengths) == 200  # the plugin's cuts
    unknown = subprocess.run([sys.executable, "-m", "ragsweep", "run", "task=span_mini", "chunker.name=every_m", "generator=none", "progress=false"],
                             capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert unknown.returncode == 2
    assert "unknown chunker 'every_m'" in unknown.stderr and "every_n" in unknown.stderr and "(broken-plugin 0.1) cannot be imported" in unknown.stderr


def test_a_display_name_beside_target_names_the_run_and_its_label(tmp_path):
    from tests.helpers import run

    run_dir, _ = run(tmp_path, "task=span_mini", "chunker=fixed_tokens", "+chunker._target_=ragsweep.chunkers.fixed_tokens.FixedTokenChunker",
                     "chunker.name=my_fixed", "retriever=bm25", "generator=none")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert run_dir.name.startswith("span_mini__my_fixed__bm25__")
    assert metrics["components"]["chunker"].split()[0] == "my_fixed"
