"""Validity of the PPI intervals measured, not assumed (``ragsweep judge-eval --ppi-simulation``): on a human-labelled
set, draw n items as "labelled" many times (the rest "unlabelled", judged only), and count how often the 95% interval
holds the whole set's human mean, and how wide it is against the labels alone. Done for the judge under evaluation,
for a weight-free scorer, and for synthetic judges of known quality (the human label flipped at a given rate), so a
reader sees what a good, a useless and an adversarially noisy judge do to the estimate. Arrays in, rows out.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ragsweep.metrics.ppi import ppi_mean

SIZES = (25, 50, 100, 200)
FLIP_RATES = (0.1, 0.3, 0.5)


def flipped(y: np.ndarray, rate: float, seed: int) -> np.ndarray:
    """A synthetic judge of known quality: the binary human label, flipped on a ``rate`` share of items at random."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(len(y)) < rate, 1.0 - y, y)


def simulate(y: Sequence[float], scorers: dict[str, Sequence[float]], sizes: Sequence[int] = SIZES, draws: int = 1000, seed: int = 0,
             alpha: float = 0.05) -> list[dict[str, Any]]:
    """One row per (scorer, n): the empirical coverage of the PPI++ and the labels-only intervals of the set's human
    mean over ``draws`` random draws of n labelled items, their mean widths, and the width ratio (below 1: the
    scorer's verdicts were worth something)."""
    y_all = np.asarray(y, dtype=float)
    truth = float(y_all.mean())
    rows = []
    for name, scores in scorers.items():
        s_all = np.asarray(scores, dtype=float)
        if s_all.shape != y_all.shape:
            raise ValueError(f"scorer {name!r} scored {len(s_all)} items, the labels are {len(y_all)}")
        for n in sizes:
            if not 2 <= n <= len(y_all) - 2:
                continue
            rng = np.random.default_rng([seed, n])
            hits_ppi = hits_labels = 0
            widths_ppi, widths_labels, lams = [], [], []
            for _ in range(draws):
                order = rng.permutation(len(y_all))
                labelled, unlabelled = order[:n], order[n:]
                est = ppi_mean(y_all[labelled], s_all[labelled], s_all[unlabelled], alpha=alpha)
                hits_ppi += est.ci_low <= truth <= est.ci_high
                hits_labels += est.human_ci_low <= truth <= est.human_ci_high
                widths_ppi.append(est.ci_high - est.ci_low)
                widths_labels.append(est.human_ci_high - est.human_ci_low)
                lams.append(est.lam)
            rows.append({
                "scorer": name, "n": n, "draws": draws, "coverage_ppi": hits_ppi / draws, "coverage_labels_only": hits_labels / draws,
                "width_ppi": float(np.mean(widths_ppi)), "width_labels_only": float(np.mean(widths_labels)),
                "width_ratio": float(np.mean(widths_ppi) / np.mean(widths_labels)), "mean_lambda": float(np.mean(lams)),
            })
    return rows


def table(rows: Sequence[dict[str, Any]], truth: float, items: int) -> str:
    lines = [f"PPI++ validity on {items} human-labelled items (human mean {truth:.3f}); 95% intervals, {rows[0]['draws'] if rows else 0} draws per row",
             "", "| scorer | n labelled | coverage PPI++ | coverage labels only | width PPI++ | width labels only | ratio | mean lambda |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['scorer']} | {r['n']} | {r['coverage_ppi']:.3f} | {r['coverage_labels_only']:.3f} | {r['width_ppi']:.3f} | "
                     f"{r['width_labels_only']:.3f} | {r['width_ratio']:.2f} | {r['mean_lambda']:.2f} |")
    return "\n".join(lines)
