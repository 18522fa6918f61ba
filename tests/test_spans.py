"""Span metrics against hand-computed cases and against a literal transcription of the reference loop
(docs/metrics.md#span-metrics) on random cases."""

from __future__ import annotations

import random

import pytest

from ragsweep.types import Span
from ragsweep.metrics.spans import difference, intersect, precision_omega, span_scores, union_ranges


def S(start, end, doc="d"):
    return Span(doc, start, end)


def test_union_merges_touching_and_overlapping():
    assert union_ranges([(5, 8), (0, 3), (3, 5), (10, 12), (11, 15)]) == [(0, 8), (10, 15)]
    assert union_ranges([]) == []


def test_intersection_of_touching_spans_is_zero_length_not_none():
    assert intersect((0, 10), (10, 20)) == (10, 10)
    assert intersect((0, 10), (11, 20)) is None


def test_difference_uses_strict_comparisons():
    assert difference([(0, 10)], (3, 5)) == [(0, 3), (5, 10)]
    assert difference([(0, 10)], (0, 10)) == []
    assert difference([(0, 10)], (10, 10)) == [(0, 10)]


def test_chunk_covering_reference_across_boundary():
    # ref [10,20) split over two adjacent chunks: all 10 chars covered, 30 retrieved chars.
    s = span_scores([S(0, 15), S(15, 30)], [S(10, 20)])
    assert s.recall == pytest.approx(1.0)
    assert s.precision == pytest.approx(10 / 30)
    assert s.iou == pytest.approx(10 / 30)


def test_overlapping_chunks_are_double_counted_in_precision():
    s = span_scores([S(0, 20), S(10, 30)], [S(5, 25)])
    assert s.recall == pytest.approx(1.0)
    assert s.precision == pytest.approx(20 / 40)  # sum of chunk lengths, not their union (30)
    assert s.iou == pytest.approx(20 / 40)


def test_uncovered_reference_enters_iou_denominator():
    s = span_scores([S(50, 60)], [S(0, 100)])
    assert s.recall == pytest.approx(0.1)
    assert s.precision == pytest.approx(1.0)
    assert s.iou == pytest.approx(10 / (10 + 90))


def test_recall_denominator_sums_overlapping_references():
    s = span_scores([S(0, 20)], [S(0, 10), S(5, 15)])
    assert s.recall == pytest.approx(15 / 20)


def test_chunks_of_other_documents_count_only_in_denominators():
    s = span_scores([S(0, 10, "d"), S(0, 30, "other")], [S(0, 10, "d")])
    assert s.recall == pytest.approx(1.0)
    assert s.precision == pytest.approx(10 / 40)


def test_precision_omega_unions_its_denominator_and_counts_touching_chunks():
    # Chunks touching the reference at its edges count as highlighted (zero-length intersections).
    omega, highlighted = precision_omega([S(0, 10), S(10, 20), S(20, 30)], [S(10, 20)])
    assert highlighted == 3
    assert omega == pytest.approx(10 / 30)
    # Overlapping chunks: the denominator is the union [0,30), not the sum 40.
    omega, highlighted = precision_omega([S(0, 20), S(10, 30), S(40, 50)], [S(12, 18)])
    assert (omega, highlighted) == (pytest.approx(6 / 30), 2)


def test_precision_omega_without_any_overlap_is_zero():
    assert precision_omega([S(0, 5)], [S(10, 20)]) == (0.0, 0)


# --- literal transcription of the reference loops (single corpus), used as an oracle -------------------


def _ref_scores(chunks, refs):
    num, unused = [], list(refs)
    for c in chunks:
        for r in refs:
            i = intersect(c, r)
            if i is not None:
                unused = difference(unused, i)
                num = union_ranges([i] + num)
    n = sum(e - s for s, e in num) if num else 0
    rec_den = sum(e - s for s, e in refs)
    prec_den = sum(e - s for s, e in chunks)
    iou_den = prec_den + sum(e - s for s, e in unused)
    return (n / rec_den if rec_den else 0, n / prec_den if prec_den else 0, n / iou_den if iou_den else 0)


def _ref_omega(chunks, refs):
    num, den_chunks, unused = [], [], list(refs)
    for c in chunks:
        for r in refs:
            i = intersect(c, r)
            if i is not None:
                unused = difference(unused, i)
                num = union_ranges([i] + num)
                den_chunks = union_ranges([c] + den_chunks)
    den = union_ranges(den_chunks + unused)
    return (sum(e - s for s, e in num) / sum(e - s for s, e in den)) if num else 0


@pytest.mark.parametrize("seed", range(200))
def test_matches_reference_loops_on_random_cases(seed):
    rng = random.Random(seed)
    n = 300
    cuts = sorted(rng.sample(range(1, n), rng.randint(1, 12)))
    size = rng.choice([0, 5, 20])
    chunks = [(a, min(b + size, n)) for a, b in zip([0] + cuts, cuts + [n])]
    refs = []
    for _ in range(rng.randint(1, 4)):
        a = rng.randrange(0, n - 1)
        refs.append((a, rng.randint(a + 1, min(n, a + 60))))
    retrieved = rng.sample(chunks, min(len(chunks), 5))
    ours = span_scores([S(*c) for c in retrieved], [S(*r) for r in refs])
    assert (ours.recall, ours.precision, ours.iou) == pytest.approx(_ref_scores(retrieved, refs))
    assert precision_omega([S(*c) for c in chunks], [S(*r) for r in refs])[0] == pytest.approx(_ref_omega(chunks, refs))
