"""Main effects of a sweep's component choices (metrics/effects.py), by hand, and the line a sweep's table ends
each suite with (analysis/sweep_table.change_line)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ragsweep.metrics.effects import MainEffect, main_effects

NAN = float("nan")
# A 2 x 2 grid, three queries. chunker y - x: at bm25 [0.2, 0.0, 0.2], at dense [0.2, 0.0, 0.0] -> per query
# [0.2, 0.0, 0.1], effect 0.1. retriever dense - bm25: at x [-0.1, 0.2, 0.1], at y [-0.1, 0.2, -0.1] -> per query
# [-0.1, 0.2, 0.0], effect 1/30.
LEVELS = [{"chunker": "x", "retriever": "bm25"}, {"chunker": "y", "retriever": "bm25"},
          {"chunker": "x", "retriever": "dense"}, {"chunker": "y", "retriever": "dense"}]
VALUES = np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.5], [0.0, 0.4, 0.4], [0.2, 0.4, 0.4]])


def test_main_effects_by_hand():
    chunker, retriever = main_effects(LEVELS, VALUES)
    assert (chunker.factor, chunker.from_level, chunker.to_level, chunker.pairs, chunker.queries) == ("chunker", "x", "y", 2, 3)
    assert chunker.estimate == pytest.approx(0.1) and retriever.estimate == pytest.approx(1 / 30)
    assert (retriever.from_level, retriever.to_level) == ("bm25", "dense")
    # the bootstrap resamples the per-query differences: its means lie between their smallest and largest
    eps = 1e-12
    assert 0.0 - eps <= chunker.low <= chunker.estimate <= chunker.high <= 0.2 + eps
    assert -0.1 - eps <= retriever.low <= retriever.estimate <= retriever.high <= 0.2 + eps
    assert main_effects(LEVELS, VALUES) == [chunker, retriever]  # seeded: the same numbers again


def test_a_query_one_run_did_not_score_is_paired_where_it_was():
    values = VALUES.copy()
    values[3, 2] = NAN  # (y, dense) has no score on query 3: that query's chunker difference is bm25's alone (0.2)
    chunker = main_effects(LEVELS, values)[0]
    assert chunker.estimate == pytest.approx((0.2 + 0.0 + 0.2) / 3) and chunker.queries == 3
    values[1, 2] = NAN  # now no pair scored query 3 both ways: it leaves the chunker effect
    chunker = main_effects(LEVELS, values)[0]
    assert chunker.estimate == pytest.approx(0.1) and chunker.queries == 2


def test_equal_differences_have_no_spread_and_a_reversed_effect_reads_back():
    values = np.array([[0.0, 0.5], [0.25, 0.75]])
    (effect,) = main_effects([{"retriever": "a"}, {"retriever": "b"}], values)
    assert (effect.estimate, effect.low, effect.high) == (0.25, 0.25, 0.25)
    assert effect.reversed() == MainEffect("retriever", "b", "a", 1, 2, -0.25, -0.25, -0.25)


def test_runs_that_no_factor_tells_apart_are_refused_and_a_lone_level_gives_nothing():
    with pytest.raises(ValueError, match="same levels of every factor"):
        main_effects([{"chunker": "x"}, {"chunker": "x"}], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="one row of per-query scores a run"):
        main_effects(LEVELS, VALUES[:3])
    with pytest.raises(ValueError, match="same factors"):
        main_effects([{"chunker": "x"}, {"retriever": "y"}], np.zeros((2, 1)))
    assert main_effects([{"chunker": "x", "retriever": "bm25"}, {"chunker": "x", "retriever": "dense"}], np.zeros((2, 2)))[0].factor == "retriever"
    # no pair of runs differs in the chunker alone (x-bm25 against y-dense): no chunker effect, no retriever effect
    assert main_effects([LEVELS[0], LEVELS[3]], VALUES[[0, 3]]) == []


def _runs(lower: bool = False) -> list[dict]:
    return [{"metrics": {"components": row, "metrics": {"m": {"mean": float(np.nanmean(v)), "ci_low": 0.0, "ci_high": 1.0, "n": 3}},
                         **({"lower_is_better": ["m"]} if lower else {})},
             "scores": {f"q{i}": float(x) for i, x in enumerate(v) if not math.isnan(x)}} for row, v in zip(LEVELS, VALUES)]


@pytest.mark.parametrize("lower", [False, True])
def test_the_sweep_table_names_the_change_that_moves_its_metric_most(monkeypatch, lower):
    from ragsweep.analysis import leaderboard, sweep_table

    monkeypatch.setattr(leaderboard, "per_query", lambda run, metric: run["scores"])
    line = sweep_table.change_line(_runs(lower), "m")
    chunker = main_effects(LEVELS, VALUES)[0]
    if not lower:  # x -> y raises m by 0.1, more than dense's 0.033
        assert line.startswith(f"what to change: chunker x -> y moves m most, +0.1000 [{chunker.low:+.4f}, {chunker.high:+.4f}], averaged over")
        # three queries: drawing query 2's 0.0 three times (1 in 27) is likelier than the 2.5% tail, so the interval reaches 0
        assert line.endswith("(2 pairs of runs, 3 queries) (its interval holds 0: no change is shown to help)") and chunker.low == 0.0
    else:  # lower is better: y -> x lowers it by 0.1
        assert line.startswith(f"what to change: chunker y -> x moves m most, -0.1000 [{-chunker.high:+.4f}, {-chunker.low:+.4f}]")
    assert sweep_table.change_line(_runs(lower)[:1], "m") is None  # one run: nothing varies
    both_alike = [dict(r, metrics={**r["metrics"], "components": LEVELS[0]}) for r in _runs(lower)[:2]]
    assert sweep_table.change_line(both_alike, "m") is None  # alike in every component: no grid


def test_the_leaderboard_lists_every_effect_best_direction_first(monkeypatch):
    from ragsweep.analysis import leaderboard, report

    monkeypatch.setattr(leaderboard, "per_query", lambda run, metric: run["scores"])
    effects = leaderboard.component_effects(_runs(), "m")
    assert [(e.factor, e.from_level, e.to_level) for e in effects] == [("chunker", "x", "y"), ("retriever", "bm25", "dense")]
    monkeypatch.setattr(report, "suite_metrics", lambda runs, sort, columns: (["m"], "m"))
    monkeypatch.setattr(report, "ranked_runs", lambda runs, key: (runs, [None] * len(runs)))
    runs = [dict(r, metrics={**r["metrics"], "components": {"chunker": r["metrics"]["components"]["chunker"],
                                                         "retriever": r["metrics"]["components"]["retriever"], "reranker": "none", "generator": "none"},
                             "summary": {"n_queries": 3, "n_chunks": 1, "mean_chunk_chars": 1.0}, "sweep": "s"}) for r in _runs()]
    lines = report.suite_table(runs, "m")
    table = lines[lines.index("| component | from | to | effect [95% interval] | pairs of runs | queries |"):]
    assert table[2] == f"| chunker | x | y | {leaderboard.effect_text(effects[0])} | 2 | 3 |"
    assert table[3] == f"| retriever | bm25 | dense | {leaderboard.effect_text(effects[1])} | 2 | 3 |"
    assert leaderboard.effect_text(effects[0]).startswith("+0.1000 [")


def test_interactions_by_hand():
    """(y - x at dense) - (y - x at bm25) = [0.2, 0.0, 0.0] - [0.2, 0.0, 0.2] = [0, 0, -0.2]: mean -1/15. A grid whose
    components add up has none."""
    from ragsweep.metrics.effects import interactions

    (found,) = interactions(LEVELS, VALUES)
    assert (found.factors, found.first, found.second, found.sets, found.queries) == (("chunker", "retriever"), ("x", "y"), ("bm25", "dense"), 1, 3)
    assert found.estimate == pytest.approx(-0.2 / 3) and -0.2 - 1e-12 <= found.low <= found.estimate <= found.high <= 1e-12
    additive = np.array([[0.1, 0.2], [0.3, 0.4], [0.2, 0.3], [0.4, 0.5]])  # chunker +0.2, retriever +0.1, everywhere
    (none,) = interactions(LEVELS, additive)
    assert none.estimate == pytest.approx(0.0) and none.low == pytest.approx(0.0) and none.high == pytest.approx(0.0)
    assert interactions([{"chunker": "x"}, {"chunker": "y"}], np.zeros((2, 1))) == []  # one factor: nothing to interact


def test_the_leaderboard_lists_the_interactions_largest_first(monkeypatch):
    from ragsweep.analysis import leaderboard

    monkeypatch.setattr(leaderboard, "per_query", lambda run, metric: run["scores"])
    tables = {t["id"]: t for t in leaderboard.extra_tables(_runs(), "m")}
    (row,) = tables["interactions"]["rows"]
    assert row[:3] == ["chunker x retriever", "x -> y", "bm25 -> dense"] and row[3].startswith("-0.0667 [") and row[4:] == ["1", "3"]
    assert leaderboard.extra_tables(_runs(), None) == []
