from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ragsweep.errors import OfflineError
from ragsweep.models.weights import availability, resolve

REPO = Path(__file__).resolve().parent.parent


IMPORT_ALL = (
    "import ragsweep, ragsweep.metrics, ragsweep.tasks, pkgutil, importlib\n"
    "for pkg in (ragsweep.metrics, ragsweep.tasks):\n"
    "    for m in pkgutil.iter_modules(pkg.__path__): importlib.import_module(pkg.__name__ + '.' + m.name)\n"
)


@pytest.mark.process
def test_importing_metrics_and_tasks_has_no_side_effects():
    """A library user's process keeps its environment, logging and warning filters: importing every module
    of ragsweep.metrics and ragsweep.tasks changes none of them."""
    code = (
        # numpy / scipy / pandas add warning filters of their own on import: imported first, they are not ours
        "import os, logging, warnings, sys, json, numpy, scipy.stats, pandas; env = dict(os.environ); filters = list(warnings.filters)\n"
        + IMPORT_ALL
        + "print(json.dumps({'env': sorted(set(os.environ.items()) ^ set(env.items())), 'handlers': len(logging.getLogger().handlers),"
        " 'filters': warnings.filters == filters, 'torch': 'torch' in sys.modules}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "RAGSWEEP_ALLOW_DOWNLOADS"}}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="/", check=True)
    assert json.loads(out.stdout) == {"env": [], "handlers": 0, "filters": True, "torch": False}


@pytest.mark.process
def test_the_command_turns_hub_downloads_and_telemetry_off():
    """Inside the command (its listing replaced by a print of the settings), and left as found once it returns."""
    names = "'HF_HUB_OFFLINE', 'HF_HUB_DISABLE_TELEMETRY', 'RAGAS_DO_NOT_TRACK'"
    code = ("import os, ragsweep.commands.listing as listing; "
            f"listing.main = lambda argv: print(*(os.environ.get(k) for k in ({names}))); "
            f"from ragsweep.commands.cli import main; main(['list']); print(*(os.environ.get(k) for k in ({names})))")
    env = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "RAGAS_DO_NOT_TRACK", "RAGSWEEP_ALLOW_DOWNLOADS"}}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="/", check=True)
    assert out.stdout.splitlines()[-2:] == ["1 1 true", "None None None"]
    env["RAGSWEEP_ALLOW_DOWNLOADS"] = "1"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="/", check=True)
    assert out.stdout.splitlines()[-2:] == ["None 1 true", "None None None"]


def test_bundled_models_resolve_without_network():
    assert availability("bundled:all-MiniLM-L6-v2")[0]
    assert resolve("bundled:SmolLM2-135M-Instruct").gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_unreachable_hub_id_fails_with_what_to_do():
    with pytest.raises(OfflineError, match=r"model 'no-such-org/no-such-model' is not in the Hugging Face cache.*RAGSWEEP_ALLOW_DOWNLOADS=1"):
        resolve("no-such-org/no-such-model")
    with pytest.raises(OfflineError, match="no bundled model"):
        resolve("bundled:nope")


@pytest.mark.model
def test_dense_embeddings_come_from_the_real_bundled_model(isolated_cache):
    from ragsweep.models.embedders import embed

    vecs = embed("bundled:all-MiniLM-L6-v2", ["a lighthouse by the harbour", "a lighthouse near the port", "income tax law"])
    assert vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2


@pytest.mark.process
def test_cli_unknown_component_is_one_line_error(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "ragsweep.commands.run", "chunker=nope"], capture_output=True, text=True, cwd=REPO
    )
    assert out.returncode != 0
    assert "Could not find 'chunker/nope'" in out.stderr + out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "ragsweep.commands.run", "chunker.name=nope", f"results_dir={tmp_path}/runs", f"cache_dir={tmp_path}/cache", "progress=false"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert out.returncode == 2
    errors = [l for l in (out.stdout + out.stderr).splitlines() if "ERROR" in l]
    assert len(errors) == 1 and "unknown chunker 'nope'; known: cluster, fixed_tokens, margin, perplexity, recursive, sections, semantic, sentences" in errors[0]
