"""Prediction-powered inference for a mean (PPI, Angelopoulos et al., Science 2023; PPI++, Angelopoulos, Duchi and
Zrnic 2024): a judge's scores on every item plus human labels on a random subset of them give an estimate of the
human mean whose interval is valid whatever the judge's quality, and narrower than the labels alone where the
judge is informative. Arrays in, numbers out, no I/O.

The definitions are PPI++'s for the mean, as ppi_py (``ppi_mean_pointestimate``, ``ppi_mean_ci``) computes them, so
the numbers equal the reference implementation's with ``quantile="normal"`` (tests/test_ppi.py):

- labelled items: human labels ``y`` (n) and the judge's scores ``yhat`` on the same items; unlabelled items: the
  judge's scores ``yhat_unlabeled`` (N). The labelled items are a uniform random sample of the items.
- estimate(lam) = mean(lam * yhat_unlabeled) + mean(y - lam * yhat); lam = 1 is plain PPI, lam = 0 the human
  mean alone.
- power tuning (PPI++): lam = cov(y, yhat) / ((1 + n / N) * var(yhat over all n + N)), with the covariance
  over n (the reference's 1/n) and the variance with n - 1 in the denominator, computed at the lam = 1 estimate
  and clipped to [0, 1].
- interval: estimate -/+ q * sqrt(sd(lam * yhat_unlabeled)^2 / N + sd(y - lam * yhat)^2 / n) with population
  standard deviations (numpy's default). ppi_py takes q from the normal distribution (``quantile="normal"``, the
  reference's). By default ragsweep takes Student's t on n - 1 degrees of freedom instead: with 25 binary labels
  the normal quantile covered the human mean 91-92% of the time where 95% was asked (docs/judges.md, measured on
  ExpertQA claims), the t quantile's slightly wider interval makes up most of that, and it tends to the normal one
  as n grows (1.05x the width at n = 25, 1.01x at n = 100). The labels-only interval uses the same quantile.

``effective_labels`` says what the judge was worth: the number of human labels alone that would give an interval as
narrow (n times the ratio of the variances).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np

MIN_LABELS = 10  # fewer labelled items than this: no interval is given (the normal approximation needs some)


@dataclass(frozen=True)
class PPIEstimate:
    mean: float
    ci_low: float
    ci_high: float
    lam: float  # the power-tuning weight used (1: plain PPI, 0: the labels alone)
    n_labeled: int
    n_unlabeled: int
    human_mean: float  # the labels' own mean, with its classical interval
    human_ci_low: float
    human_ci_high: float
    judge_mean: float  # the judge's mean over every item, labelled or not (what it says uncorrected)
    effective_labels: float  # labels alone that would give an interval this narrow


def _arrays(y: Sequence[float], yhat: Sequence[float], yhat_unlabeled: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_, yh, yu = (np.asarray(v, dtype=float) for v in (y, yhat, yhat_unlabeled))
    if y_.shape != yh.shape or y_.ndim != 1 or yu.ndim != 1:
        raise ValueError(f"labels and the judge's scores on the labelled items must be two 1-d arrays of one length: {y_.shape} vs {yh.shape}")
    if not (np.isfinite(y_).all() and np.isfinite(yh).all() and np.isfinite(yu).all()):
        raise ValueError("labels and scores must be finite numbers (an unreadable verdict is left out, never scored)")
    if len(y_) < 2 or len(yu) < 2:
        raise ValueError(f"PPI needs at least 2 labelled and 2 unlabelled items, got {len(y_)} and {len(yu)}")
    return y_, yh, yu


def point_estimate(y: Sequence[float], yhat: Sequence[float], yhat_unlabeled: Sequence[float], lam: float) -> float:
    y_, yh, yu = _arrays(y, yhat, yhat_unlabeled)
    return float((lam * yu).mean() + (y_ - lam * yh).mean())


def tuned_lambda(y: Sequence[float], yhat: Sequence[float], yhat_unlabeled: Sequence[float]) -> float:
    """PPI++'s variance-minimising weight for the mean, clipped to [0, 1] (ppi_py's ``_calc_lam_glm``)."""
    y_, yh, yu = _arrays(y, yhat, yhat_unlabeled)
    n, big_n = len(y_), len(yu)
    theta = point_estimate(y_, yh, yu, 1.0)
    grads, grads_hat = y_ - theta, yh - theta
    cov = 2.0 * float(((grads - grads.mean()) * (grads_hat - grads_hat.mean())).sum()) / n
    var = float(np.var(np.concatenate([yh, yu]) - theta, ddof=1))
    if var == 0.0:  # a judge that says one thing throughout carries no information
        return 0.0
    return float(np.clip(cov / (2.0 * (1.0 + n / big_n) * var), 0.0, 1.0))


QUANTILES = ("t", "normal")


def interval_quantile(alpha: float, n: int, quantile: str = "t") -> float:
    """The two-sided 1 - alpha quantile: Student's t on n - 1 degrees of freedom, or the normal one (ppi_py's)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if quantile == "normal":
        return NormalDist().inv_cdf(1.0 - alpha / 2.0)
    if quantile == "t":
        from scipy.stats import t

        return float(t.ppf(1.0 - alpha / 2.0, n - 1))
    raise ValueError(f"quantile must be one of {', '.join(QUANTILES)}, not {quantile!r}")


def ppi_mean(y: Sequence[float], yhat: Sequence[float], yhat_unlabeled: Sequence[float], alpha: float = 0.05,
             lam: float | None = None, quantile: str = "t") -> PPIEstimate:
    """The PPI++ estimate of the human mean with its 1 - alpha interval (``lam=None``: power-tuned; ``quantile``:
    "t" by default, "normal" as ppi_py)."""
    y_, yh, yu = _arrays(y, yhat, yhat_unlabeled)
    n, big_n = len(y_), len(yu)
    lam = tuned_lambda(y_, yh, yu) if lam is None else float(lam)
    mean = point_estimate(y_, yh, yu, lam)
    var = float(np.std(lam * yu) ** 2 / big_n + np.std(y_ - lam * yh) ** 2 / n)
    z = interval_quantile(alpha, n, quantile)
    human_var = float(np.std(y_) ** 2 / n)
    half, human_half = z * var ** 0.5, z * human_var ** 0.5
    return PPIEstimate(
        mean=mean, ci_low=mean - half, ci_high=mean + half, lam=lam, n_labeled=n, n_unlabeled=big_n,
        human_mean=float(y_.mean()), human_ci_low=float(y_.mean()) - human_half, human_ci_high=float(y_.mean()) + human_half,
        judge_mean=float(np.concatenate([yh, yu]).mean()),
        effective_labels=float(n * human_var / var) if var > 0 else float("inf"),
    )
