"""How well two sets of scores agree: quadratic weighted kappa, exact and adjacent
agreement, standardised mean difference, and a monotone mapping between scales.

Used by ``benchmarks/agreement.py`` to compare suggested rubric levels with human raters,
and usable for moderation (two teachers scoring the same pieces).

>>> round(quadratic_weighted_kappa([1, 2, 3, 3], [1, 2, 2, 3]), 3)
0.8
>>> exact_agreement([1, 2, 3], [1, 2, 2]), adjacent_agreement([1, 2, 4], [1, 3, 2])
(0.667, 0.667)
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from itertools import combinations_with_replacement
from typing import Sequence


def quadratic_weighted_kappa(a: Sequence[int], b: Sequence[int], low: int | None = None,
                             high: int | None = None) -> float:
    """Cohen's kappa with quadratic weights (1 = perfect, 0 = chance).

    ``low``/``high`` fix the rating scale; by default it spans both lists' values.
    Returns 0.0 when either rater gives every essay the same score.
    """
    if len(a) != len(b):
        raise ValueError(f"the two score lists differ in length ({len(a)} vs {len(b)})")
    if not a:
        raise ValueError("no scores to compare")
    low = min(min(a), min(b)) if low is None else low
    high = max(max(a), max(b)) if high is None else high
    n = high - low + 1
    observed = [[0] * n for _ in range(n)]
    for x, y in zip(a, b):
        observed[x - low][y - low] += 1
    return _kappa_from_table(observed)


def _kappa_from_table(observed: list[list[int]]) -> float:
    """Quadratic weighted kappa of a square table of counts (rows: one rater)."""
    n = len(observed)
    rows = [sum(r) for r in observed]
    cols = [sum(observed[i][j] for i in range(n)) for j in range(n)]
    total = sum(rows)
    num = den = 0.0
    for i in range(n):
        for j in range(n):
            w = (i - j) ** 2
            num += w * observed[i][j]
            den += w * rows[i] * cols[j] / total
    return 1.0 - num / den if den else 0.0


def exact_agreement(a: Sequence[int], b: Sequence[int]) -> float:
    return round(sum(x == y for x, y in zip(a, b)) / len(a), 3)


def adjacent_agreement(a: Sequence[int], b: Sequence[int]) -> float:
    """Share of pairs within one point of each other (exact included)."""
    return round(sum(abs(x - y) <= 1 for x, y in zip(a, b)) / len(a), 3)


def standardised_mean_difference(predicted: Sequence[float], reference: Sequence[float]) -> float:
    """(mean predicted - mean reference) / pooled standard deviation.

    The pooled SD is sqrt((var_p + var_r) / 2) with population variances, as in the
    automated-scoring literature (Williamson, Xi & Breyer 2012).
    """
    mp = sum(predicted) / len(predicted)
    mr = sum(reference) / len(reference)
    vp = sum((x - mp) ** 2 for x in predicted) / len(predicted)
    vr = sum((x - mr) ** 2 for x in reference) / len(reference)
    pooled = math.sqrt((vp + vr) / 2)
    return (mp - mr) / pooled if pooled else 0.0


@dataclass
class MonotoneMap:
    """Maps an input value (e.g. a sum of rubric levels) to a score on a trait's scale.

    ``cuts[k]`` is the smallest input that gets ``scale[k + 1]``; inputs below ``cuts[0]``
    get ``scale[0]``. Non-decreasing by construction.
    """

    scale: list[int]
    cuts: list[float]

    def __call__(self, value: float) -> int:
        return self.scale[bisect_right(self.cuts, value)]


MAX_GROUPS = 12  # distinct input values searched exhaustively (more are binned first)


def fit_monotone_map(inputs: Sequence[float], targets: Sequence[Sequence[int]],
                     scale: Sequence[int], smd_tolerance: float = 0.1) -> MonotoneMap:
    """The non-decreasing map from ``inputs`` to ``scale`` that agrees best with people.

    ``targets`` holds one list of scores per rater, each aligned with ``inputs``. Every
    non-decreasing assignment of the distinct input values (at most ``MAX_GROUPS``; more
    are first grouped by quantile) to the scale is tried, and the one with the highest
    mean quadratic weighted kappa with the raters wins. A standardised mean difference
    beyond ``smd_tolerance`` against either rater counts against a map, so that the mapped
    scores keep the raters' mean.

    >>> m = fit_monotone_map([1, 1, 2, 3, 3], [[0, 0, 1, 2, 2]], [0, 1, 2])
    >>> [m(x) for x in (1, 2, 3)]
    [0, 1, 2]
    """
    scale = list(scale)
    groups = _groups(sorted(set(inputs)), inputs)
    index = {v: g for g, (lo, hi) in enumerate(groups) for v in set(inputs) if lo <= v <= hi}
    counts = []  # per rater: group x scale counts
    for rater in targets:
        table = [[0] * len(scale) for _ in groups]
        for x, y in zip(inputs, rater):
            table[index[x]][scale.index(y)] += 1
        counts.append(table)
    best, best_assign = -math.inf, None
    for assign in combinations_with_replacement(range(len(scale)), len(groups)):
        value = 0.0
        drift = 0.0
        for table in counts:
            kappa, smd = _kappa_from_groups(table, assign, len(scale))
            value += kappa
            drift = max(drift, abs(smd))
        value = value / len(counts) - max(0.0, drift - smd_tolerance)
        if value > best + 1e-12:
            best, best_assign = value, assign
    cuts = []
    for k in range(1, len(scale)):
        first = next((g for g, a in enumerate(best_assign) if a >= k), None)
        cuts.append(groups[first][0] if first is not None else math.inf)
    return MonotoneMap(scale, cuts)


def _groups(values: list[float], inputs: Sequence[float]) -> list[tuple[float, float]]:
    """(low, high) ranges of input values, at most MAX_GROUPS, split at quantiles."""
    if len(values) <= MAX_GROUPS:
        return [(v, v) for v in values]
    ordered = sorted(inputs)
    edges = sorted({ordered[int(len(ordered) * q / MAX_GROUPS)] for q in range(1, MAX_GROUPS)})
    out, low = [], values[0]
    for edge in edges:
        inside = [v for v in values if low <= v < edge]
        if inside:
            out.append((low, inside[-1]))
            low = edge
    out.append((low, values[-1]))
    return out


def _kappa_from_groups(table: list[list[int]], assign: Sequence[int],
                       n: int) -> tuple[float, float]:
    """QWK and SMD of the mapped scores against one rater, from group x score counts."""
    observed = [[0] * n for _ in range(n)]
    for g, row in enumerate(table):
        out = observed[assign[g]]
        for j, c in enumerate(row):
            out[j] += c
    kappa = _kappa_from_table(observed)
    rows = [sum(r) for r in observed]
    cols = [sum(observed[i][j] for i in range(n)) for j in range(n)]
    total = sum(rows)
    mp = sum(i * c for i, c in enumerate(rows)) / total
    mr = sum(j * c for j, c in enumerate(cols)) / total
    vp = sum((i - mp) ** 2 * c for i, c in enumerate(rows)) / total
    vr = sum((j - mr) ** 2 * c for j, c in enumerate(cols)) / total
    pooled = math.sqrt((vp + vr) / 2)
    return kappa, (mp - mr) / pooled if pooled else 0.0


def distribution(scores: Sequence[int]) -> dict[int, int]:
    return dict(sorted(Counter(scores).items()))
