"""One definition of which config keys decide results (ragsweep.config_keys), used alike by stage keys, judge ids and
run names: a server moved to another port is the same run, served from the cache; a new seed is another run with
the same judge."""

from __future__ import annotations

import json

from ragsweep.config_keys import NOT_IDENTITY, SERVING_KEYS, without_keys
from ragsweep.store.results import named_overrides
from tests.helpers import run
from tests.loopback_openai import LoopbackServer


def test_without_keys_removes_them_at_any_depth():
    config = {"name": "llm", "base_url": "u", "models": [{"model": "m", "base_url": "u", "seed": 1, "timeout_s": 3}], "seed": 2}
    assert without_keys(config) == {"name": "llm", "models": [{"model": "m", "seed": 1}], "seed": 2}
    assert without_keys(config, NOT_IDENTITY) == {"name": "llm", "models": [{"model": "m"}]}
    assert {"base_url", "api_key_env", "timeout_s"} <= SERVING_KEYS and not {"seed", "batch_size", "device", "model"} & SERVING_KEYS


def test_serving_overrides_are_not_part_of_a_run_name():
    overrides = ["generator.base_url=http://127.0.0.1:9/v1", "judge.models.0.timeout_s=5", "generator.seed=3", "chunker.size=3"]
    assert named_overrides(overrides) == ["generator.seed=3", "chunker.size=3"]


def test_a_server_moved_to_another_port_is_the_same_run_served_from_the_cache(tmp_path, isolated_cache):
    with LoopbackServer(lambda body: "Calder Bay") as first:
        first_dir, first_info = run(tmp_path, "generator=openai", f"generator.base_url={first.url}", "sweep_name=s")
    with LoopbackServer(lambda body: "Calder Bay") as moved:
        moved_dir, moved_info = run(tmp_path, "generator=openai", f"generator.base_url={moved.url}", "sweep_name=s")
        assert moved.calls == 0  # every answer came from the cache
    assert first.url != moved.url and first_dir == moved_dir  # one run folder, written twice
    assert first_info["stages"]["generate"]["status"] == "computed" and moved_info["stages"]["generate"]["status"] == "hit"
    with LoopbackServer(lambda body: "Calder Bay") as reseeded:
        seeded_dir, seeded_info = run(tmp_path, "generator=openai", f"generator.base_url={reseeded.url}", "generator.seed=7", "sweep_name=s")
    assert seeded_dir != first_dir and seeded_info["stages"]["generate"]["status"] == "computed"  # a seed decides the replies


def test_a_judge_served_elsewhere_or_reseeded_keeps_its_id():
    from ragsweep.judges.llm import LLMJudge
    from tests.test_judge import RUBRIC_DEFS

    model = {"backend": "openai", "model": "j", "base_url": "http://127.0.0.1:1/v1", "seed": 1}
    ids = {LLMJudge(models=[m], rubrics=["faithfulness"], rubric_defs=RUBRIC_DEFS).judge_id("faithfulness")
           for m in (model, {**model, "base_url": "http://127.0.0.1:2/v1"}, {**model, "seed": 2, "batch_size": 4})}
    assert len(ids) == 1
    assert json.dumps(LLMJudge(models=[model], rubrics=["faithfulness"], rubric_defs=RUBRIC_DEFS).identity("faithfulness")["models"]) == '[{"backend": "openai", "model": "j"}]'
