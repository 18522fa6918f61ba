"""Racing sweeps: the confidence sequence against a loop written from its definition and against the truth it must
cover, the race's decisions by hand, Holm by hand, and ``ragsweep sweep NAME --race`` end to end: the real race
decides exactly as a replay on the full grid's scores (``ragsweep bench race``)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from ragsweep.engine.race import check_missing_alike, question_order, race_metric_values
from ragsweep.errors import ConfigError
from ragsweep.metrics.race import LAMBDA_CAP, Race, asymptotic_confidence_sequence, difference_bounds, looks, simulate, wor_confidence_sequence
from ragsweep.metrics.significance import holm_rejections


def reference_sequence(x: list[float], population: int, alpha: float) -> tuple[list[float], list[float]]:
    """The without-replacement empirical-Bernstein confidence sequence, one value at a time, as the paper writes it."""
    lows, highs = [], []
    mean_hat, var_sum, total, seen = 0.5, 0.25, 0.0, 0.0
    num = weight = margin = 0.0
    low, high = 0.0, 1.0
    for i, v in enumerate(x, start=1):
        var_hat = var_sum / i  # (1/4 + sum of squared deviations so far) / i, from values 1..i-1
        lam = min(math.sqrt(2 * math.log(2 / alpha) / (var_hat * i * math.log(1 + i))), LAMBDA_CAP)
        psi = (-math.log(1 - lam) - lam) / 4
        margin += 4 * (v - mean_hat) ** 2 * psi
        num += lam * (v + seen / (population - i + 1))
        weight += lam * population / (population - i + 1)
        seen += v
        total += v
        mean_hat = (0.5 + total) / (i + 1)
        var_sum += (v - mean_hat) ** 2
        low = max(low, min(1.0, max(0.0, (num - math.log(2 / alpha) - margin) / weight)))
        high = min(high, max(0.0, min(1.0, (num + math.log(2 / alpha) + margin) / weight)))
        lows.append(low)
        highs.append(high)
    if len(x) == population:
        lows[-1] = highs[-1] = total / population
    return lows, highs


def test_the_sequence_is_the_definition_computed_one_value_at_a_time():
    x = [0.0, 1.0, 0.5, 0.25, 1.0, 0.0, 0.75, 0.5, 1.0, 0.0]
    for population in (10, 40):
        cs = wor_confidence_sequence(x, population, 0.05)
        lows, highs = reference_sequence(x, population, 0.05)
        assert np.allclose(cs.lower, lows) and np.allclose(cs.upper, highs)
    assert np.all(np.diff(cs.lower) >= 0) and np.all(np.diff(cs.upper) <= 0)  # intersected over time


def test_once_every_value_is_seen_the_bounds_are_the_exact_mean():
    x = np.array([0.2, 0.9, 0.4, 0.4, 1.0])
    cs = wor_confidence_sequence(x, 5, 0.01)
    assert cs.lower[-1] == cs.upper[-1] == pytest.approx(0.58)


def test_the_sequence_covers_the_suite_mean_at_every_time_in_all_but_alpha_of_orders():
    rng = np.random.default_rng(7)
    population = np.concatenate([np.ones(30), np.zeros(50), rng.random(40)])  # a skewed, lumpy metric
    truth = population.mean()
    orders = np.vstack([population[rng.permutation(population.size)] for _ in range(400)])
    cs = wor_confidence_sequence(orders, population.size, 0.1)  # vectorised over orders
    missed = np.any((cs.lower > truth + 1e-12) | (cs.upper < truth - 1e-12), axis=1)
    assert missed.mean() <= 0.1
    assert np.all(cs.upper[:, -1] - cs.lower[:, -1] < 1e-12)


def test_the_sequence_refuses_values_it_cannot_bound():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        wor_confidence_sequence([0.5, 1.5], 10, 0.05)
    with pytest.raises(ValueError, match="population of 1"):
        wor_confidence_sequence([0.5, 0.5], 1, 0.05)
    with pytest.raises(ValueError, match="alpha"):
        wor_confidence_sequence([0.5], 3, 0.0)


def test_difference_bounds_are_the_sequence_of_the_shifted_difference():
    a, b = np.array([1.0, 1.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0, 0.0])
    cs = wor_confidence_sequence((a - b + 1) / 2, 8, 0.05)
    assert difference_bounds(a, b, 8, 0.05, "bounded") == pytest.approx((2 * cs.lower[-1] - 1, 2 * cs.upper[-1] - 1))
    assert difference_bounds(a, b, 8, 0.05, "asymptotic") == (-1.0, 1.0)  # fewer than MIN_QUESTIONS: nothing shown
    with pytest.raises(ValueError, match="test must be one of"):
        difference_bounds(a, b, 8, 0.05, "t-test")


def test_the_asymptotic_sequence_by_hand():
    x = [0.1, -0.2, 0.3, 0.0]
    cs = asymptotic_confidence_sequence(x, 0.05, 10)
    # t = 4: mean 0.05, sd (n - 1) = sqrt(((0.05)^2 + (0.25)^2 + (0.25)^2 + (0.05)^2) / 3) = sqrt(0.13 / 3)
    side = 0.025
    rho2 = (-2 * math.log(side) + math.log(-2 * math.log(side) + 1)) / 10
    boundary = math.sqrt(2 * (4 * rho2 + 1) / (16 * rho2) * math.log(math.sqrt(4 * rho2 + 1) / side))
    margin = math.sqrt(0.13 / 3) * boundary
    assert cs.lower[-1] == pytest.approx(0.05 - margin) and cs.upper[-1] == pytest.approx(0.05 + margin)
    assert np.isinf(cs.upper[0])  # one value: no spread to go on


def test_the_asymptotic_sequence_covers_at_every_time_in_all_but_about_alpha_of_samples():
    rng = np.random.default_rng(11)
    draws = np.where(rng.random((400, 300)) < 0.2, 1.0, 0.0) - np.where(rng.random((400, 300)) < 0.3, 1.0, 0.0)  # mean -0.1
    cs = asymptotic_confidence_sequence(draws, 0.1, 30)
    missed = np.any((cs.lower[:, 19:] > -0.1) | (cs.upper[:, 19:] < -0.1), axis=1)
    assert missed.mean() <= 0.1


def test_holm_by_hand():
    # Sorted: 0.005 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2: stop; 0.04 is not rejected either.
    assert holm_rejections([0.01, 0.04, 0.03, 0.005], 0.05) == [True, False, False, True]
    assert holm_rejections([0.2, 0.3], 0.05) == [False, False]
    assert holm_rejections([], 0.05) == []


def test_looks_every_batch_and_the_whole_suite_last():
    assert looks(10, 3) == [3, 6, 9, 10]
    assert looks(10, 5) == [5, 10]
    assert looks(4, 10) == [4]
    assert looks(10, 4, first=6) == [6, 10]
    with pytest.raises(ValueError):
        looks(0, 3)


def test_a_configuration_worse_on_every_question_is_dropped_and_equals_never_are():
    race = Race(["good", "twin", "bad"], population=40, alpha=0.05)
    assert race.pair_alpha == pytest.approx(0.05 / 2 / 3)  # half of alpha to the sequences, over 3 pairs
    ones, zeros = [1.0] * 20, [0.0] * 20
    dropped = race.observe({"good": ones, "twin": ones, "bad": zeros})
    assert [(e.name, e.after) for e in dropped] == [("bad", 20)]
    assert dropped[0].difference[0] == -1.0 and dropped[0].difference[2] < 0
    assert race.survivors == ["good", "twin"] and race.leader() == "good"
    race.observe({"good": ones, "twin": ones})  # every question seen: equal means, both kept
    assert race.survivors == ["good", "twin"] and race.against_leader("twin") == (0.0, 0.0, 0.0)
    assert race.evaluations == 40 + 40 + 20


@pytest.mark.parametrize("test", ["asymptotic", "bounded"])
def test_a_small_lead_drops_nothing_and_the_bounded_test_needs_more_questions(test):
    race = Race(["a", "b"], population=100, alpha=0.05, test=test)
    assert race.observe({"a": [1.0, 0.0, 0.0, 1.0, 1.0] * 4, "b": [1.0, 0.0, 1.0, 0.0, 0.0] * 4}) == []
    worse = Race(["a", "b"], population=100, alpha=0.05, test=test)
    worse.observe({"a": [0.6] * 20, "b": [0.5] * 20})  # 0.1 better on every question
    # The asymptotic sequence goes by the spread (none); the bounded one by the range [0, 1]: 20 questions are too few.
    assert worse.survivors == (["a"] if test == "asymptotic" else ["a", "b"])


def test_the_race_refuses_inconsistent_looks():
    race = Race(["a", "b"], population=10)
    with pytest.raises(ValueError, match="survivors"):
        race.observe({"a": [1.0]})
    with pytest.raises(ValueError, match="same new questions"):
        race.observe({"a": [1.0], "b": [1.0, 0.0]})
    with pytest.raises(ValueError, match=r"b has a value outside \[0, 1\]"):
        race.observe({"a": [1.0], "b": [2.0]})
    with pytest.raises(ValueError, match="distinct"):
        Race(["a", "a"], population=10)


def test_a_replay_on_scores_stops_when_one_is_left():
    scores = np.vstack([np.ones(60), np.zeros(60), np.full(60, 0.5)])
    race = simulate(scores, ["top", "bottom", "middle"], list(range(60)), looks(60, 10), 0.05)
    assert race.survivors == ["top"]
    assert race.evaluations < 3 * 60
    assert {e.name: e.by for e in race.eliminated.values()}["bottom"] in ("top", "middle")


def test_the_question_order_is_a_seeded_permutation():
    ids = [f"q{i}" for i in range(30)]
    assert question_order(ids, 3) == question_order(ids, 3) != question_order(ids, 4)
    assert sorted(question_order(ids, 3)) == sorted(ids)


def test_a_question_without_a_value_stops_the_race_with_where():
    with pytest.raises(ConfigError, match=r"race: cfg-a has no value for span_iou@5 on question 'q2': .* \(choose one with --metric\)"):
        race_metric_values([{"query_id": "q1", "span_iou@5": 0.5}, {"query_id": "q2", "span_iou@5": None}], "span_iou@5", False, "race: cfg-a")
    with pytest.raises(ConfigError, match=r"the value 3.5 for latency_s on question 'q1'"):
        race_metric_values([{"query_id": "q1", "latency_s": 3.5}], "latency_s", True, "race: cfg-a")
    with pytest.raises(ConfigError, match="the value True"):
        race_metric_values([{"query_id": "q1", "m": True}], "m", False, "race: cfg-a")
    assert race_metric_values([{"query_id": "q1", "m": 0.25}], "m", True, "race: cfg-a") == [0.75]


def ragsweep(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """The command in a process of its own (a sweep's workers then read this test's results folder, not a reused
    worker's), with its results under ``tmp_path``."""
    env = {**os.environ, "RAGSWEEP_RESULTS": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "ragsweep", *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.process
def test_the_real_race_decides_as_a_replay_on_the_full_grid(tmp_path):
    axes = ["task=span_mini", "retriever=bm25,dense_hashing"]
    assert ragsweep(tmp_path, "sweep", "race_retrieval", *axes, "--no-plan").returncode == 0  # the full grid: 12 configurations x 14 questions
    raced_out = ragsweep(tmp_path, "sweep", "race_retrieval", "--race", *axes, "--batch", "3", "--seed", "0")
    assert raced_out.returncode == 0, raced_out.stderr[-2000:]
    raced = json.loads((tmp_path / "races" / "race_retrieval" / "span_mini.json").read_text())
    assert raced["questions"] == 14 and len(raced["configurations"]) == 12 and raced["metric"] == "span_iou@5"
    assert f"of {12 * 14:,} question evaluations" in raced_out.stdout and raced["evaluations"] <= 12 * 14
    assert "race on span_mini: 3 of 14 questions seen" in raced_out.stderr  # a line at every look
    bench = ragsweep(tmp_path, "bench", "race", "--sweep", "race_retrieval", "--orders", "3", "--batch", "3", "--out", str(tmp_path / "race.json"))
    assert bench.returncode == 0, bench.stderr[-2000:]
    suite = json.loads((tmp_path / "race.json").read_text())["suites"]["span_mini"]
    assert suite["real_race_seed_0_matches"] is True
    assert suite["best"] in raced["kept"]


@pytest.mark.process
def test_race_options_are_checked_before_any_work(tmp_path):
    bad_alpha = ragsweep(tmp_path, "sweep", "ci", "--race", "--alpha", "2")
    assert bad_alpha.returncode == 2 and "--alpha must be in (0, 1), not 2.0" in bad_alpha.stderr
    bad_choice = ragsweep(tmp_path, "sweep", "ci", "--race", "retriever=nope")
    assert bad_choice.returncode == 2 and "nope" in bad_choice.stderr
    assert not (tmp_path / "races").exists()


def test_the_final_look_drops_what_a_full_grid_test_calls_worse_and_the_sequences_could_not():
    a = [1.0, 0.0] * 20
    c = list(a)
    for i in range(0, 32, 4):  # c loses 8 of 40 questions to a and never wins: sign-flip p = 2 / 2^8
        c[i] = 0.0
    race = Race(["a", "b", "c"], population=40, alpha=0.05)
    assert race.observe({"a": a[:20], "b": a[:20], "c": c[:20]}) == []  # the sequences cannot tell yet
    dropped = race.observe({"a": a[20:], "b": a[20:], "c": c[20:]})
    assert [(e.name, e.after, e.by) for e in dropped] == [("c", 40, "a")]
    # Holm over c and b against the leader at the final look's half of alpha: 0.0078 <= 0.025 / 2; b ties (p = 1).
    assert dropped[0].p_value == pytest.approx(2 / 256, abs=0.003) and dropped[0].difference == (-0.2, None, None)
    assert race.survivors == ["a", "b"]
    bounded = Race(["a", "b", "c"], population=40, alpha=0.05, test="bounded")
    bounded.observe({"a": a, "b": a, "c": c})
    assert bounded.survivors == ["a", "b"] and bounded.eliminated["c"].p_value is None  # exact at the end: no final test


def test_a_race_file_that_is_not_one_is_not_compared(tmp_path, caplog):
    from ragsweep.bench.race import real_race_matches
    from ragsweep.engine.race import RaceSettings

    settings = RaceSettings(batch=3)
    replayed = {"kept": ["a"], "dropped": {}}
    path = tmp_path / "race.json"
    assert real_race_matches(path, replayed, settings, 14) is None  # none written
    path.write_text(json.dumps({"seed": 0, "test": "asymptotic", "alpha": 0.05, "batch": 3, "kept": ["a"]}))  # no configurations
    assert real_race_matches(path, replayed, settings, 14) is None and "not a race as `ragsweep sweep --race` writes it (KeyError" in caplog.text
    path.write_text('{"seed": 0, "kept": [')  # truncated
    assert real_race_matches(path, replayed, settings, 14) is None and "JSONDecodeError" in caplog.text


def test_a_question_no_configuration_has_a_value_on_is_set_aside_and_counted():
    nan = float("nan")
    race = Race(["a", "b"], population=12)
    race.observe({"a": [1.0, nan, 1.0], "b": [0.0, nan, 0.0]})
    assert (race.set_aside, race.values["a"], race.values["b"], race.seen) == (1, [1.0, 1.0], [0.0, 0.0], 2)
    assert race.evaluations == 2 * 3  # the set-aside question was scored too: it counts as spent
    race.observe({"a": [1.0] * 9, "b": [0.0] * 9})
    # Every question with a value seen (11 of 12): the final look ran (the sequences drop nothing before 20 questions),
    # and b, worse on all 11 (exact paired permutation p = 2 / 2^11), is out.
    assert race.seen == race.population - race.set_aside == 11 and race.survivors == ["a"]
    assert race.eliminated["b"].after == 11 and race.eliminated["b"].p_value == pytest.approx(2 / 2 ** 11)


def test_a_value_missing_for_some_configurations_only_stops_the_race():
    nan = float("nan")
    with pytest.raises(ValueError, match="race: b has no value on question 1 of this look, which other configurations have"):
        Race(["a", "b"], population=6).observe({"a": [1.0, 1.0], "b": [0.0, nan]})
    with pytest.raises(ValueError, match="the bounded test needs a value on every question"):
        Race(["a", "b"], population=6, test="bounded").observe({"a": [1.0, nan], "b": [0.0, nan]})
    with pytest.raises(ConfigError, match=r"^cfg-b has no value for doc_recall@5 on question 'q2', which cfg-a has"):
        check_missing_alike({"cfg-a": [0.5, 1.0], "cfg-b": [0.5, nan]}, ["q1", "q2"], "doc_recall@5")
    check_missing_alike({"cfg-a": [nan, 1.0], "cfg-b": [nan, 0.0]}, ["q1", "q2"], "doc_recall@5")  # missing alike: fine
    rows = [{"query_id": "q1", "m": 0.5}, {"query_id": "q2", "m": None}, {"query_id": "q3", "m": nan}]
    assert race_metric_values(rows, "m", False, "race: cfg-a", allow_missing=True)[0] == 0.5
    assert all(map(math.isnan, race_metric_values(rows, "m", False, "race: cfg-a", allow_missing=True)[1:]))


def test_the_grid_answer_leaves_out_questions_no_configuration_has_a_value_on():
    from ragsweep.bench.race import grid_answer

    nan = float("nan")
    scores = np.array([[1.0, nan, 0.5, 1.0], [0.0, nan, 0.5, 0.0]])
    answer = grid_answer(scores, ["a", "b"], 0.05)
    assert answer["best"] == "a" and answer["means"] == {"a": pytest.approx(2.5 / 3), "b": pytest.approx(0.5 / 3)}


def test_partly_missing_finds_the_first_question_some_configurations_lack_by_hand():
    from ragsweep.metrics.race import partly_missing

    nan = float("nan")
    assert partly_missing(np.array([[1.0, nan, 0.5], [0.0, nan, 0.5]])) is None  # all or nothing on each question
    assert partly_missing(np.array([[1.0, nan, nan], [0.0, nan, 0.5], [nan, nan, 0.2]])) == (2, 0, 0)
    assert partly_missing(np.array([[1.0, 0.3, nan], [0.0, nan, 0.5]])) == (1, 0, 1)
