"""vLLM engine options as configuration, checked without vLLM installed: the server flags they become, a bad
``--engine-kwargs``, and the key no config may set. (tests/vllm checks them against vLLM's EngineArgs.)"""

from __future__ import annotations

import pytest

from ragsweep.commands.serve_vllm import engine_flags, parse_engine_kwargs
from ragsweep.errors import ConfigError
from ragsweep.llm.vllm import check_engine_kwargs


def test_engine_options_become_server_flags():
    kwargs = {"enforce_eager": True, "enable_prefix_caching": False, "max_num_seqs": 8, "dtype": "half",
              "compilation_config": {"level": 0}, "quantization": None}
    assert engine_flags(kwargs) == ["--compilation-config", '{"level": 0}', "--dtype", "half", "--no-enable-prefix-caching",
                                    "--enforce-eager", "--max-num-seqs", "8"]


@pytest.mark.parametrize("text, message", [
    ("{enforce_eager: true}", "--engine-kwargs is not JSON"),
    ("[1, 2]", "--engine-kwargs must be a JSON mapping"),
])
def test_bad_engine_kwargs_text_is_one_line(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_engine_kwargs(text)


def test_engine_kwargs_cannot_set_the_model_or_be_a_list():
    with pytest.raises(ConfigError, match="cannot set 'model'"):
        check_engine_kwargs({"model": "x"})
    with pytest.raises(ConfigError, match="must be a mapping"):
        check_engine_kwargs(["enforce_eager"])
    assert parse_engine_kwargs(None) == {} and parse_engine_kwargs('{"enforce_eager": true}') == {"enforce_eager": True}


def test_vllm_in_a_parallel_sweep_worker_is_one_line(monkeypatch):
    import multiprocessing

    from ragsweep.llm.vllm import load_engine

    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "loky")
    with pytest.raises(ConfigError, match="run the sweep with hydra.launcher.n_jobs=1"):
        load_engine("bundled:SmolLM2-135M-Instruct", cpu_kvcache_space_gib=1, gpu_memory_utilization=0.5)
