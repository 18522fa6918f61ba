"""``ragsweep judge-invariance``: two judges' orderings of the same configurations (Kendall's tau-b, bootstrap over
queries) and how often their verdicts agree, from values computed by hand; configurations paired by everything
but the judge."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ragsweep.analysis.judge_invariance import invariance, main, paired_runs
from ragsweep.errors import ConfigError
from ragsweep.metrics.agreement import kendall_tau_b
from tests.helpers import run
from tests.loopback_openai import LoopbackServer

QUERIES = ["q1", "q2", "q3", "q4"]


def fake_run(tmp_path, sweep: str, chunker: str, verdicts: list[float], judge: str = "llm") -> dict:
    path = tmp_path / sweep / chunker
    path.mkdir(parents=True)
    pd.DataFrame({"query_id": QUERIES, "judge_faithfulness": verdicts}).to_parquet(path / "records.parquet")
    components = {"chunker": chunker, "retriever": "bm25", "reranker": "none", "generator": "extractive", "judge": judge}
    return {"path": path, "metrics": {"sweep": sweep, "data_identity": "d", "components": components}}


def test_tau_and_verdict_agreement_by_hand(tmp_path):
    a = {"c1": [1, 1, 1, 0], "c2": [1, 0, 1, 0], "c3": [0, 0, 1, 0]}  # means 0.75, 0.5, 0.25
    b = {"c1": [1, 1, 0, 1], "c2": [0, 1, 0, 0], "c3": [1, 0, 0, 1]}  # means 0.75, 0.25, 0.5
    runs = [fake_run(tmp_path, "A", c, v) for c, v in a.items()] + [fake_run(tmp_path, "B", c, v, judge="other") for c, v in b.items()]
    report = invariance(paired_runs(runs, "A", "B"), "judge_faithfulness", seed=0)
    # Pairs (c1,c2) and (c1,c3) concordant, (c2,c3) discordant: tau = (2 - 1) / 3.
    assert report["kendall_tau_b"]["value"] == pytest.approx(1 / 3) and (report["configurations"], report["queries"]) == (3, 4)
    low, high = report["kendall_tau_b"]["ci_low"], report["kendall_tau_b"]["ci_high"]
    assert -1.0 <= low <= high <= 1.0
    # Verdicts agree on 4 of 12; each judge says 1 on 6 of 12: p_e = 0.5, kappa = (1/3 - 1/2) / (1/2).
    assert report["verdict_agreement"] == {"share": pytest.approx(1 / 3), "cohen_kappa": pytest.approx(-1 / 3), "verdicts": 12}
    assert [(r["mean_a"], r["mean_b"]) for r in report["runs"]] == [(0.75, 0.75), (0.5, 0.25), (0.25, 0.5)]


def test_configurations_pair_by_components_but_the_judge(tmp_path):
    runs = [fake_run(tmp_path, "A", "c1", [1, 0, 1, 0]), fake_run(tmp_path, "A", "c2", [1, 1, 1, 0]),
            fake_run(tmp_path, "B", "c1", [1, 0, 1, 0], judge="other"), fake_run(tmp_path, "B", "c9", [0, 0, 0, 0])]
    assert [(x["path"].name, y["path"].name) for x, y in paired_runs(runs, "A", "B")] == [("c1", "c1")]
    with pytest.raises(ConfigError, match="at least 2 configurations run by both sweeps .* found 1 configurations"):
        invariance(paired_runs(runs, "A", "B"), "judge_faithfulness", seed=0)


def test_a_configuration_run_twice_in_a_sweep_is_one_line(tmp_path):
    runs = [fake_run(tmp_path, "A", "c1", [1, 0, 1, 0]), fake_run(tmp_path / "again", "A", "c1", [0, 0, 1, 0])]
    with pytest.raises(ConfigError, match="sweep 'A' holds two runs of one configuration"):
        paired_runs(runs, "A", "B")


def test_sweeps_must_be_two_different_names():
    with pytest.raises(ConfigError, match="two different sweep names"):
        main(["--sweeps", "A,A", "--metric", "judge_faithfulness"])


@pytest.mark.model
def test_end_to_end_on_real_runs_judged_twice(tmp_path, isolated_cache):
    """Two chunkers x two retrievers judged by two scripted judges; the report equals tau-b of the records' means."""
    judges = {"A": lambda body: '{"verdict": "%s"}' % ("YES" if len(body["messages"][-1]["content"]) % 2 else "NO"),
              "B": lambda body: '{"verdict": "%s"}' % ("YES" if len(body["messages"][-1]["content"]) % 3 else "NO")}
    for sweep, reply in judges.items():
        with LoopbackServer(reply) as server:
            for chunker in ("fixed_tokens", "sentences"):
                for retriever in ("bm25", "dense"):
                    run(tmp_path, f"chunker={chunker}", f"retriever={retriever}", "generator=extractive", "judge=openai",
                        f"judge.models.0.base_url={server.url}", "judge.rubrics=[faithfulness]", f"sweep_name={sweep}")
    out = tmp_path / "inv.json"
    assert main(["--sweeps", "A,B", "--metric", "judge_faithfulness", "--runs", str(tmp_path / "runs"), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    means = {s: [] for s in "AB"}
    for r in report["runs"]:
        for s, name in (("A", r["a"]), ("B", r["b"])):
            records = pd.read_parquet(tmp_path / "runs" / s / name / "records.parquet")
            means[s].append(records["judge_faithfulness"].mean())
    assert report["configurations"] == 4 and [r["mean_a"] for r in report["runs"]] == pytest.approx(means["A"])
    expected = kendall_tau_b(means["A"], means["B"])
    assert report["kendall_tau_b"]["value"] == (None if expected != expected else pytest.approx(expected))
