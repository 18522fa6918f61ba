"""PPI++ for a mean against its reference implementation (ppi_py) on the same inputs, and by hand."""

from __future__ import annotations

import numpy as np
import pytest

from ragsweep.metrics.ppi import ppi_mean, point_estimate, tuned_lambda

ppi_py = pytest.importorskip("ppi_py")


def _data(seed: int, n: int, big_n: int, flip: float, binary: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_all = (rng.random(n + big_n) < 0.6).astype(float) if binary else rng.normal(3.0, 1.0, n + big_n)
    if binary:
        yhat_all = np.where(rng.random(n + big_n) < flip, 1.0 - y_all, y_all)
    else:
        yhat_all = y_all + rng.normal(0.3, flip, n + big_n)  # a biased, noisy judge
    return y_all[:n], yhat_all[:n], yhat_all[n:]


@pytest.mark.parametrize("seed, n, big_n, flip, binary", [
    (0, 25, 200, 0.1, True), (1, 50, 500, 0.3, True), (2, 100, 1000, 0.5, True), (3, 40, 60, 0.2, False), (4, 200, 3000, 1.5, False),
])
def test_estimates_and_intervals_equal_ppi_py(seed, n, big_n, flip, binary):
    y, yhat, yhat_u = _data(seed, n, big_n, flip, binary)
    ours = ppi_mean(y, yhat, yhat_u, alpha=0.05, quantile="normal")
    low, high = ppi_py.ppi_mean_ci(y, yhat, yhat_u, alpha=0.05)
    assert ours.mean == pytest.approx(float(np.squeeze(ppi_py.ppi_mean_pointestimate(y, yhat, yhat_u))), abs=1e-12)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((float(np.squeeze(low)), float(np.squeeze(high))), abs=1e-12)
    for lam in (0.0, 0.5, 1.0):  # fixed weights: plain PPI and the classical interval too
        fixed = ppi_mean(y, yhat, yhat_u, alpha=0.1, lam=lam, quantile="normal")
        low, high = ppi_py.ppi_mean_ci(y, yhat, yhat_u, alpha=0.1, lam=lam)
        assert (fixed.ci_low, fixed.ci_high) == pytest.approx((float(np.squeeze(low)), float(np.squeeze(high))), abs=1e-12)


def test_the_default_interval_takes_students_t_on_n_minus_1_degrees_of_freedom():
    from scipy.stats import t

    y, yhat, yhat_u = _data(5, 25, 300, 0.2)
    normal, student = ppi_mean(y, yhat, yhat_u, quantile="normal"), ppi_mean(y, yhat, yhat_u)
    assert student.mean == normal.mean
    ratio = (student.ci_high - student.ci_low) / (normal.ci_high - normal.ci_low)
    assert ratio == pytest.approx(t.ppf(0.975, 24) / 1.959963984540054, rel=1e-9)
    assert (student.human_ci_high - student.human_ci_low) / (normal.human_ci_high - normal.human_ci_low) == pytest.approx(ratio, rel=1e-9)
    with pytest.raises(ValueError, match="quantile must be one of t, normal"):
        ppi_mean(y, yhat, yhat_u, quantile="z")


def test_by_hand():
    y, yhat, yhat_u = [1.0, 0.0, 1.0, 1.0], [1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    # lam = 1: mean of the judge on the unlabelled (4/6) plus the mean correction on the labelled ((0+0+1+0)/4)
    assert point_estimate(y, yhat, yhat_u, 1.0) == pytest.approx(4 / 6 + 1 / 4)
    assert point_estimate(y, yhat, yhat_u, 0.0) == pytest.approx(3 / 4)  # the labels alone
    # lam by hand: theta = 11/12; cov term 2 * sum((y - ybar)(yhat - yhatbar)) / n; var of all 10 scores (ddof 1)
    cov = 2 * sum((a - 0.75) * (b - 0.5) for a, b in zip(y, yhat)) / 4
    var = np.var(np.array(yhat + yhat_u), ddof=1)
    assert tuned_lambda(y, yhat, yhat_u) == pytest.approx(min(max(cov / (2 * (1 + 4 / 6) * var), 0.0), 1.0))
    est = ppi_mean(y, yhat, yhat_u, lam=0.0)
    assert est.mean == est.human_mean == 0.75 and est.effective_labels == pytest.approx(4.0)


def test_an_uninformative_judge_costs_nothing_and_a_perfect_one_gains():
    rng = np.random.default_rng(7)
    y = (rng.random(60) < 0.5).astype(float)
    noise = ppi_mean(y, rng.random(60), rng.random(600))  # a judge unrelated to the labels: lam near 0
    assert noise.lam < 0.3 and noise.effective_labels == pytest.approx(60, rel=0.2)
    y_u = (rng.random(600) < 0.5).astype(float)
    perfect = ppi_mean(y, y, y_u)
    assert perfect.lam > 0.8 and perfect.effective_labels > 200 and perfect.ci_high - perfect.ci_low < noise.ci_high - noise.ci_low


@pytest.mark.parametrize("args, message", [
    (([1.0], [1.0], [1.0, 0.0]), "at least 2 labelled and 2 unlabelled"),
    (([1.0, 0.0], [1.0], [1.0, 0.0]), "two 1-d arrays of one length"),
    (([1.0, float("nan")], [1.0, 0.0], [1.0, 0.0]), "finite numbers"),
])
def test_bad_inputs_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        ppi_mean(*args)


def test_the_simulation_measures_coverage_and_width_by_scorer():
    from ragsweep.analysis.ppi_simulation import flipped, simulate

    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.6).astype(float)
    rows = simulate(y, {"perfect": y, "noise": rng.random(400), "flip 0.3": flipped(y, 0.3, 1)}, sizes=(50, 100), draws=300, seed=0)
    by = {(r["scorer"], r["n"]): r for r in rows}
    assert len(rows) == 6 and all(r["draws"] == 300 for r in rows)
    assert all(0.9 <= r["coverage_ppi"] <= 1.0 for r in rows)  # valid whatever the scorer
    # a perfect scorer: PPI++'s weight is N / (N + n) = 0.75 (n = 100, N = 300), and the width ratio
    # sqrt(n * (lam^2 / N + (1 - lam)^2 / n)) = sqrt(100 * (0.5625 / 300 + 0.0625 / 100)) = 0.5
    assert by[("perfect", 100)]["mean_lambda"] == pytest.approx(0.75, abs=0.03)
    assert by[("perfect", 100)]["width_ratio"] == pytest.approx(0.5, rel=0.02)
    assert by[("noise", 100)]["width_ratio"] > 0.95  # an uninformative one costs (almost) nothing
    assert by[("flip 0.3", 50)]["width_ratio"] < 1.0 and by[("perfect", 50)]["mean_lambda"] == pytest.approx(350 / 400, abs=0.03)
    assert simulate(y, {"x": y}, sizes=(1, 399, 400), draws=5) == []  # sizes with no room for both parts are left out
    with pytest.raises(ValueError, match="scored 3 items, the labels are 400"):
        simulate(y, {"x": [1.0, 0.0, 1.0]})
