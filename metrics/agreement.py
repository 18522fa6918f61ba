"""Agreement between two raters over the same items (an LLM judge vs human labels, two judges): accuracy,
balanced accuracy, Cohen's kappa (plain and weighted), Krippendorff's alpha, Spearman's rho, Kendall's tau-b
(two judges' orderings of the same systems), and bootstrap intervals that can resample whole groups. Labels in,
numbers out, no I/O."""

from __future__ import annotations

from collections import Counter
from typing import Hashable, Sequence


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa = (p_o - p_e) / (1 - p_e), unweighted, over the union of both raters' labels.

    When both raters use one and the same label throughout, p_e = 1 and kappa is undefined: NaN.
    """
    if len(a) != len(b):
        raise ValueError(f"raters labelled different numbers of items: {len(a)} vs {len(b)}")
    n = len(a)
    if n == 0:
        return float("nan")
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[label] * cb[label] for label in set(ca) | set(cb)) / (n * n)
    if expected == 1.0:
        return float("nan")
    return (observed - expected) / (1.0 - expected)


def _paired(a: Sequence, b: Sequence) -> int:
    if len(a) != len(b):
        raise ValueError(f"raters labelled different numbers of items: {len(a)} vs {len(b)}")
    return len(a)


def accuracy(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    """Share of items on which the two agree; NaN for no items."""
    n = _paired(truth, pred)
    return sum(x == y for x, y in zip(truth, pred)) / n if n else float("nan")


def balanced_accuracy(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    """Mean over the classes present in ``truth`` of the share of that class's items ``pred`` gets right
    (scikit-learn's definition): a judge that always says the majority label scores 1 / number of classes."""
    if not _paired(truth, pred):
        return float("nan")
    classes = sorted(set(truth), key=str)
    recalls = [sum(p == c for t, p in zip(truth, pred) if t == c) / sum(t == c for t in truth) for c in classes]
    return sum(recalls) / len(recalls)


def weighted_kappa(a: Sequence[Hashable], b: Sequence[Hashable], labels: Sequence[Hashable], weights: str = "quadratic") -> float:
    """Cohen's weighted kappa over ordered ``labels``: 1 - sum(w * observed) / sum(w * expected), with
    w = ((i - j) / (k - 1))^2 (quadratic) or |i - j| / (k - 1) (linear). NaN when no disagreement is expected
    (one label throughout) or there are no items; a label outside ``labels`` is an error."""
    n = _paired(a, b)
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({str(x) for x in (*a, *b) if x not in index})
    if unknown:
        raise ValueError(f"labels outside the ordered scale {list(labels)}: {unknown}")
    k = len(labels)
    if n == 0 or k < 2:
        return float("nan")
    power = {"quadratic": 2, "linear": 1}[weights]
    w = [[(abs(i - j) / (k - 1)) ** power for j in range(k)] for i in range(k)]
    ca, cb = Counter(index[x] for x in a), Counter(index[y] for y in b)
    observed = sum(w[index[x]][index[y]] for x, y in zip(a, b)) / n
    expected = sum(w[i][j] * ca[i] * cb[j] for i in range(k) for j in range(k)) / (n * n)
    return 1.0 - observed / expected if expected > 0 else float("nan")


def krippendorff_alpha(units: Sequence[Sequence[float | Hashable | None]], level: str = "nominal") -> float:
    """Krippendorff's alpha over ``units`` (one list of ratings per item, None where a rater gave none) at the
    ``nominal``, ``ordinal`` or ``interval`` level: 1 - observed / expected disagreement, from the coincidence
    matrix of pairable values (units with at least two ratings). NaN when fewer than two values are pairable or
    every value is the same (no disagreement is expected)."""
    coincidences: Counter = Counter()
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    coincidences[(c, k)] += 1.0 / (m - 1)
    totals: Counter = Counter()
    for (c, _), count in coincidences.items():
        totals[c] += count
    n = sum(totals.values())
    if n < 2:
        return float("nan")
    ordered = sorted(totals)

    def delta(c, k) -> float:
        if c == k:
            return 0.0
        if level == "nominal":
            return 1.0
        if level == "interval":
            return float(c - k) ** 2
        if level == "ordinal":  # the ranks between c and k, each half at the ends
            lo, hi = sorted((ordered.index(c), ordered.index(k)))
            return (sum(totals[ordered[g]] for g in range(lo, hi + 1)) - (totals[c] + totals[k]) / 2) ** 2
        raise ValueError(f"level must be nominal, ordinal or interval, not {level!r}")

    observed = sum(count * delta(c, k) for (c, k), count in coincidences.items()) / n
    expected = sum(totals[c] * totals[k] * delta(c, k) for c in ordered for k in ordered) / (n * (n - 1))
    return 1.0 - observed / expected if expected > 0 else float("nan")


def _average_ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for i in order[start : end + 1]:
            ranks[i] = (start + end) / 2 + 1  # ties share the mean of their ranks
        start = end + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho: Pearson's correlation of the average ranks (ties share their mean rank). NaN when either
    side is constant or there are fewer than two items."""
    n = _paired(a, b)
    if n < 2:
        return float("nan")
    ra, rb = _average_ranks(a), _average_ranks(b)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va, vb = sum((x - ma) ** 2 for x in ra), sum((y - mb) ** 2 for y in rb)
    return cov / (va * vb) ** 0.5 if va > 0 and vb > 0 else float("nan")


def kendall_tau_b(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b: (concordant - discordant) / sqrt((n0 - ties_a) (n0 - ties_b)) over the n0 = n(n-1)/2 pairs,
    a pair tied on one side counting in neither numerator term. NaN when either side is constant or n < 2."""
    n = _paired(a, b)
    concordant = discordant = ties_a = ties_b = 0
    for i in range(n):
        for j in range(i + 1, n):
            da, db = a[i] - a[j], b[i] - b[j]
            ties_a += da == 0
            ties_b += db == 0
            if da * db > 0:
                concordant += 1
            elif da * db < 0:
                discordant += 1
    pairs = n * (n - 1) // 2
    denominator = ((pairs - ties_a) * (pairs - ties_b)) ** 0.5
    return (concordant - discordant) / denominator if denominator > 0 else float("nan")


def bootstrap_interval(
    statistic, a: Sequence, b: Sequence, groups: Sequence[Hashable] | None = None, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of ``statistic(a, b)`` over ``n_boot`` resamples. With ``groups`` whole groups are
    resampled (items of one group, such as the claims of one answer that share their evidence, are not
    independent). Resamples where the statistic is NaN are left out; (NaN, NaN) when every one is."""
    import numpy as np

    n = _paired(a, b)
    keys = list(groups) if groups is not None else list(range(n))
    if len(keys) != n:
        raise ValueError(f"{len(keys)} group labels for {n} items")
    members: dict[Hashable, list[int]] = {}
    for i, g in enumerate(keys):
        members.setdefault(g, []).append(i)
    clusters = list(members.values())
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        picked = [i for c in rng.integers(0, len(clusters), len(clusters)) for i in clusters[c]]
        value = statistic([a[i] for i in picked], [b[i] for i in picked])
        if value == value:  # not NaN
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
