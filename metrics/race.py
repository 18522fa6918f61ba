"""Racing configurations on a growing sample of questions, with the family-wise error controlled at every look.

The race (``ragsweep sweep NAME --race``) scores every configuration still in it on one batch of questions after
another, in a random order the race draws itself, and drops a configuration as soon as it is shown worse than
another one on the whole suite. "Shown" is a confidence sequence: an interval for the mean paired difference over
all N questions of the suite that holds at every look at once, so looking after every batch costs nothing in error.

Two confidence sequences, both valid at every look at once (so looking after each batch costs nothing in error), and
why not Holm on paired t-tests repeated after each batch: that spends its error again at every look (optional
stopping), and so drops good configurations more often than it says.

- ``asymptotic`` (the default): the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and
  Ramdas ("Time-uniform central limit theory and asymptotic confidence sequences", Annals of Statistics 2024): the
  running mean of the paired differences, plus or minus their running standard deviation times Robbins' normal
  mixture boundary. Its width follows the differences' own spread, so it separates configurations whose metric
  values are small against the metric's range (span IoU of a few hundredths) after tens of questions. Its coverage
  is asymptotic (it holds as the number of questions grows, as a paired t-test's does); ``ragsweep bench race``
  measures the false eliminations it makes on full grids, and docs/racing.md states them.
- ``bounded``: the predictable plug-in empirical-Bernstein confidence sequence for sampling without replacement
  (Waudby-Smith and Ramdas, "Estimating means of bounded random variables by betting", JRSS-B 2024, sections 3
  and 6). Exact for any metric in [0, 1], whatever its distribution: its only assumption is the random order of
  the questions, which the race draws itself; being for the finite suite, it narrows to the exact mean once every
  question has been seen. The price: it needs of the order of log(pairs / alpha) / difference questions, whatever
  the spread, so on metrics whose values are small against [0, 1] it drops little before the end.

Every pair of configurations gets one sequence at level alpha / (number of pairs) (Bonferroni). When every sequence
covers its pair's difference at every look (probability at least 1 - alpha, asymptotically for the default), a
configuration is dropped only when it is worse than the one that dropped it, so the best is never dropped.

With the asymptotic test, half of alpha goes to the sequences and half to a final look once every question has been
seen: the test a full grid itself would make (each survivor against the leader, a two-sided paired permutation
test, Holm over the comparisons). A sequence is made to hold at every look, so at the last look it is wider than a
fixed-sample test on the same questions; the final look drops what the full grid would call worse. (The bounded
sequence needs no final look: seeing every question, it is the exact mean.)

Arrays in, numbers out: metric values are given per question in the order they were drawn, scaled to [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ragsweep.metrics.significance import holm_rejections, paired_permutation_p

LAMBDA_CAP = 0.5  # the largest bet (lambda) of the plug-in rule, as in the paper's experiments
TESTS = ("asymptotic", "bounded")
MIN_QUESTIONS = 20  # the asymptotic sequence drops nothing on fewer paired questions (its variance is a guess there)
FINAL_SHARE = 0.5  # of alpha, kept (asymptotic test) for the final look's fixed-sample test once every question is seen


@dataclass(frozen=True)
class Bounds:
    """A running interval for a suite-wide mean: ``lower[t]``, ``upper[t]`` after t + 1 values."""

    lower: np.ndarray
    upper: np.ndarray


def wor_confidence_sequence(values: Sequence[float] | np.ndarray, population: int, alpha: float) -> Bounds:
    """The running (1 - alpha) confidence sequence for the mean of all ``population`` values of a finite set, seen
    ``values`` so far in a uniformly random order without replacement; each value in [0, 1]. Intersected over time,
    so each bound only ever tightens. Vectorised over leading axes: ``values`` may be (..., t)."""
    x = np.asarray(values, dtype=float)
    if x.shape[-1] == 0:
        empty = np.zeros(x.shape)
        return Bounds(empty, empty)
    if np.any((x < 0) | (x > 1)) or not np.all(np.isfinite(x)):
        raise ValueError("a confidence sequence for bounded means needs every value in [0, 1]")
    t = x.shape[-1]
    if t > population:
        raise ValueError(f"{t} values drawn without replacement from a population of {population}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    i = np.arange(1, t + 1, dtype=float)  # 1-based index of each value
    log_term = math.log(2 / alpha)
    # Predictable estimates: the mean and variance from values 1..i-1 (with a prior of 1/2 and 1/4), used at i.
    mean_hat = (0.5 + np.cumsum(x, axis=-1)) / (i + 1)
    var_hat = (0.25 + np.cumsum((x - mean_hat) ** 2, axis=-1)) / (i + 1)
    prev_mean = np.concatenate([np.full(x.shape[:-1] + (1,), 0.5), mean_hat[..., :-1]], axis=-1)
    prev_var = np.concatenate([np.full(x.shape[:-1] + (1,), 0.25), var_hat[..., :-1]], axis=-1)
    lam = np.minimum(np.sqrt(2 * log_term / (prev_var * i * np.log1p(i))), LAMBDA_CAP)
    psi = (-np.log1p(-lam) - lam) / 4
    penalty = 4 * (x - prev_mean) ** 2 * psi
    # Without replacement the value at i has mean (N m - S_{i-1}) / (N - i + 1) under a suite mean m: solved for m.
    seen_before = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x, axis=-1)[..., :-1]], axis=-1)
    remaining = population - i + 1
    centre_num = np.cumsum(lam * (x + seen_before / remaining), axis=-1)
    weight = np.cumsum(lam * population / remaining, axis=-1)
    margin = log_term + np.cumsum(penalty, axis=-1)
    lower = np.maximum.accumulate(np.clip((centre_num - margin) / weight, 0.0, 1.0), axis=-1)
    upper = np.minimum.accumulate(np.clip((centre_num + margin) / weight, 0.0, 1.0), axis=-1)
    # Once every value is seen the mean is known exactly (rounding aside).
    exact = x.sum(axis=-1) / population if t == population else None
    if exact is not None:
        lower[..., -1], upper[..., -1] = exact, exact
    return Bounds(lower, upper)


def asymptotic_confidence_sequence(values: Sequence[float] | np.ndarray, alpha: float, t_opt: float) -> Bounds:
    """The running two-sided (1 - alpha) asymptotic confidence sequence for a mean: the running mean plus or minus the
    running standard deviation (n - 1 in the denominator) times the normal-mixture boundary whose mixing variance is
    tuned to be tightest after ``t_opt`` values. Bounds are infinite where fewer than two values are seen."""
    x = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(x)):
        raise ValueError("a confidence sequence needs finite values")
    if not 0 < alpha < 1 or not t_opt > 0:
        raise ValueError(f"alpha must be in (0, 1) and t_opt > 0, not {alpha} and {t_opt}")
    t = np.arange(1, x.shape[-1] + 1, dtype=float)
    mean = np.cumsum(x, axis=-1) / t
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.maximum(np.cumsum(x * x, axis=-1) - t * mean * mean, 0.0) / (t - 1)
    side = alpha / 2  # each side of the two-sided sequence
    rho2 = (-2 * math.log(side) + math.log(-2 * math.log(side) + 1)) / t_opt
    boundary = np.sqrt(2 * (t * rho2 + 1) / (t * t * rho2) * np.log(np.sqrt(t * rho2 + 1) / side))
    margin = np.where(t > 1, np.sqrt(np.where(t > 1, var, 0.0)) * boundary, np.inf)
    return Bounds(mean - margin, mean + margin)


def difference_bounds(a: np.ndarray, b: np.ndarray, population: int, alpha: float, test: str = "asymptotic") -> tuple[float, float]:
    """The (lower, upper) bound, now, on the suite-wide mean of a - b (each in [0, 1]), from paired values so far."""
    if test not in TESTS:
        raise ValueError(f"race: test must be one of {', '.join(TESTS)}, not {test!r}")
    if a.size == 0 or (test == "asymptotic" and a.size < MIN_QUESTIONS):
        return -1.0, 1.0
    if test == "bounded":
        cs = wor_confidence_sequence((a - b + 1) / 2, population, alpha)
        return float(2 * cs.lower[-1] - 1), float(2 * cs.upper[-1] - 1)
    cs = asymptotic_confidence_sequence(a - b, alpha, tightest_at(population))
    return max(-1.0, float(cs.lower[-1])), min(1.0, float(cs.upper[-1]))


def tightest_at(population: int) -> float:
    """Where the asymptotic sequence is made tightest: a tenth of the suite, and no fewer than MIN_QUESTIONS."""
    return float(max(MIN_QUESTIONS, population / 10))


@dataclass(frozen=True)
class Elimination:
    name: str
    after: int  # questions seen when it was dropped
    by: str  # the configuration it was shown worse than
    difference: tuple[float, float | None, float | None]  # its mean minus the other's on those questions, with the bounds
    p_value: float | None = None  # dropped by the final look's test (no bounds then)


@dataclass
class Race:
    """The state of one race: feed each look's new values with ``observe``; ``survivors`` are those not shown worse
    than any other so far. ``alpha`` is the family-wise error over every pair and every look."""

    names: Sequence[str]
    population: int
    alpha: float = 0.05
    test: str = "asymptotic"
    values: dict[str, list[float]] = field(default_factory=dict)
    eliminated: dict[str, Elimination] = field(default_factory=dict)
    set_aside: int = 0  # questions no configuration has a value on (no gold to score against): seen, not raced on
    set_aside_evaluations: int = 0  # what scoring them cost (each survivor, each such question)

    def __post_init__(self) -> None:
        if len(set(self.names)) != len(self.names):
            raise ValueError("race: configuration names must be distinct")
        if not 0 < self.alpha < 1:
            raise ValueError(f"race: alpha must be in (0, 1), not {self.alpha}")
        if self.test not in TESTS:
            raise ValueError(f"race: test must be one of {', '.join(TESTS)}, not {self.test!r}")
        self.values = {n: [] for n in self.names}

    @property
    def pair_alpha(self) -> float:
        """Each pair's sequence: the sequences' share of alpha over the pairs (Bonferroni)."""
        pairs = len(self.names) * (len(self.names) - 1) // 2
        share = 1 - FINAL_SHARE if self.test == "asymptotic" else 1.0
        return self.alpha * share / max(pairs, 1)

    @property
    def survivors(self) -> list[str]:
        return [n for n in self.names if n not in self.eliminated]

    @property
    def seen(self) -> int:
        return max((len(self.values[n]) for n in self.survivors), default=0)

    def observe(self, new_values: Mapping[str, Sequence[float]]) -> list[Elimination]:
        """Add one look's values (the same new questions for every survivor, in order) and drop every survivor now
        shown worse than another survivor. Returns those dropped at this look. A question that is NaN for every
        survivor (nothing to score it against) is set aside and counted; NaN for some survivors only is an error."""
        if set(new_values) != set(self.survivors):
            raise ValueError(f"race: values for {sorted(new_values)} but the survivors are {self.survivors}")
        lengths = {len(v) for v in new_values.values()}
        if len(lengths) != 1:
            raise ValueError("race: every survivor is scored on the same new questions")
        arrays = {name: np.asarray(vals, dtype=float) for name, vals in new_values.items()}
        table = np.vstack(list(arrays.values()))
        if found := partly_missing(table):
            raise ValueError(f"race: {list(arrays)[found[0]]} has no value on question {found[2]} of this look, which other "
                             "configurations have")
        nobody = np.isnan(table).all(axis=0)
        if nobody.any():
            if self.test == "bounded":  # its sequence needs the size of the population raced on, known only at the end
                raise ValueError("race: the bounded test needs a value on every question; some have none for any configuration "
                                 "(use the asymptotic test)")
            self.set_aside += int(nobody.sum())
            self.set_aside_evaluations += int(nobody.sum()) * len(arrays)
            arrays = {name: a[~nobody] for name, a in arrays.items()}
        for name, arr in arrays.items():
            if arr.size and (np.any((arr < 0) | (arr > 1)) or not np.all(np.isfinite(arr))):
                raise ValueError(f"race: {name} has a value outside [0, 1]")
            self.values[name].extend(float(v) for v in arr)
        dropped = self._eliminate()
        if self.test == "asymptotic" and self.seen == self.population - self.set_aside and len(self.survivors) > 1:
            dropped += self._final_look()
        return dropped

    def _eliminate(self) -> list[Elimination]:
        alive = self.survivors
        series = {n: np.asarray(self.values[n]) for n in alive}
        dropped: list[Elimination] = []
        for name in alive:
            worst: Elimination | None = None
            for other in alive:
                if other == name:
                    continue
                low, high = difference_bounds(series[name], series[other], self.population, self.pair_alpha, self.test)
                # Against the one it is most clearly worse than; ties by name, so the order of the names never matters.
                if high < 0 and (worst is None or (high, other) < (worst.difference[2], worst.by)):
                    diff = float(np.mean(series[name] - series[other]))
                    worst = Elimination(name, len(series[name]), other, (diff, low, high))
            if worst is not None:
                dropped.append(worst)
        for e in dropped:
            self.eliminated[e.name] = e
        return dropped

    def _final_look(self) -> list[Elimination]:
        """Every question seen: each survivor against the leader, a two-sided paired permutation test, Holm at the
        final look's share of alpha; a survivor below the leader and rejected is dropped."""
        lead = str(self.leader())
        others = [n for n in self.survivors if n != lead]
        best = np.asarray(self.values[lead])
        p = [paired_permutation_p(self.values[n], best, seed=0) for n in others]
        dropped = []
        for name, p_value, rejected in zip(others, p, holm_rejections(p, self.alpha * FINAL_SHARE)):
            diff = float(np.mean(np.asarray(self.values[name]) - best))
            if rejected and diff < 0:
                dropped.append(Elimination(name, self.seen, lead, (diff, None, None), p_value))
        for e in dropped:
            self.eliminated[e.name] = e
        return dropped

    def leader(self) -> str | None:
        """The survivor with the highest mean on the questions seen (ties: the first by name, whatever the order given)."""
        alive = sorted(self.survivors)
        if not alive or not self.seen:
            return alive[0] if alive else None
        return max(alive, key=lambda n: float(np.mean(self.values[n])))

    def against_leader(self, name: str) -> tuple[float, float, float]:
        """A survivor's mean minus the leader's on the questions seen, with the race's simultaneous bounds."""
        lead = self.leader()
        a, b = np.asarray(self.values[name]), np.asarray(self.values[str(lead)])
        if name == lead or not a.size:
            return 0.0, *difference_bounds(a, b, self.population, self.pair_alpha, self.test)  # type: ignore[return-value]
        return (float(np.mean(a - b)), *difference_bounds(a, b, self.population, self.pair_alpha, self.test))  # type: ignore[return-value]

    @property
    def evaluations(self) -> int:
        """Question evaluations made: each configuration's questions seen, summed, those set aside included."""
        return sum(len(v) for v in self.values.values()) + self.set_aside_evaluations


def partly_missing(values: np.ndarray) -> tuple[int, int, int] | None:
    """For values configurations x questions (NaN: no value), the first question some configurations have a value on
    and others lack, as (a row without it, a row with it, its column); None when each question is all or nothing."""
    lacking = np.isnan(values)
    partial = lacking.any(axis=0) & ~lacking.all(axis=0)
    if not partial.any():
        return None
    column = int(np.flatnonzero(partial)[0])
    return int(np.flatnonzero(lacking[:, column])[0]), int(np.flatnonzero(~lacking[:, column])[0]), column


def looks(population: int, batch: int, first: int | None = None) -> list[int]:
    """The question counts after which the race looks: ``first`` (default ``batch``), then every ``batch`` more,
    and the whole suite last."""
    if population < 1 or batch < 1:
        raise ValueError("race: a suite of at least one question and a batch of at least one")
    points = list(range(first or batch, population, batch))
    return [p for p in points if p < population] + [population]


def simulate(scores: np.ndarray, names: Sequence[str], order: Sequence[int], look_at: Sequence[int], alpha: float,
             test: str = "asymptotic") -> Race:
    """The race that a full grid's per-question scores (configurations x questions, each in [0, 1]) would have
    run in ``order``, looking at ``look_at``: what the real race decides on the same values, without the pipeline."""
    race = Race(list(names), scores.shape[1], alpha, test)
    ordered = scores[:, list(order)]
    start = 0
    for end in look_at:
        if len(race.survivors) <= 1:
            break
        index = {n: i for i, n in enumerate(names)}
        race.observe({n: ordered[index[n], start:end] for n in race.survivors})
        start = end
    return race
