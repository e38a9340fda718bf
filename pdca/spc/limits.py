"""Centre line and limits of one phase, per chart type (qi-methods.md §1.1), from the phase's base points.

Laney's p′ and u′ charts widen the p and u limits by the spread of the points' z-scores, for large
denominators where between-period variation (over-dispersion) would otherwise flag nearly every point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeGuard

from pdca.spc.run_chart import ChartType, mean, median
from pdca.spc.signals import NO_BANDS, Bands

D2 = 1.128  # d2(2): MR-bar / d2 estimates sigma for individuals
D4 = 3.267  # D4(2): the moving-range UCL factor, also Nelson's screening cut-off
T_POWER = 3.6  # t charts: y^(1/3.6) is close to normal for exponential times (Nelson 1994)


def phase_limits(
    kind: ChartType,
    *,
    values: list[float],
    chain: list[float | None],
    counts: list[float],
    sizes: list[float],
    sds: list[float],
    point_sizes: list[float | None],
    screen_mr: bool,
    chain_sizes: Sequence[float | None] = (),
) -> tuple[float | None, list[Bands]]:
    """Centre line of one phase from its base points, and the bands of each of its points.

    `chain` is the base values in order with gaps as None (moving ranges pair neighbours only) and
    `chain_sizes` their denominators, which Laney's charts need to turn each into a z-score."""
    same = [NO_BANDS] * len(point_sizes)
    if not values:
        return None, same
    if kind is ChartType.run:
        return median(values), same
    if kind is ChartType.i:
        centre = mean(values)
        return centre, [_bands(centre, _mr_sigma(chain, screen_mr))] * len(same)
    if kind is ChartType.t:
        # Work on y^(1/3.6), where times between events are near-normal, then transform back.
        centre = mean([power(y, 1 / T_POWER) for y in values])
        b = _bands(centre, _mr_sigma([None if y is None else power(y, 1 / T_POWER) for y in chain], screen_mr))
        return power(centre, T_POWER), [Bands(*(None if v is None else power(v, T_POWER) for v in b))] * len(same)
    if kind is ChartType.mr:
        # qicharts2: UCL = 3.267·MR̄ and the k-sigma lines at (3.267/3)·k·MR̄; a range is never negative.
        centre, f = mean(values), D4 / 3
        return centre, [Bands(0.0, 3 * f * centre, 0.0, 2 * f * centre, 0.0, f * centre)] * len(same)
    if kind is ChartType.c:
        centre = mean(values)
        return centre, [_bands(centre, _sqrt(centre), lo=0.0)] * len(same)
    if kind is ChartType.p:
        # Limits vary with each point's own denominator; proportions stay within [0, 1].
        centre = sum(counts) / sum(sizes)
        return centre, [_bands(centre, _per_size(centre * (1 - centre), n), 0.0, 1.0) for n in point_sizes]
    if kind is ChartType.u:
        centre = sum(counts) / sum(sizes)
        return centre, [_bands(centre, _per_size(centre, n), lo=0.0) for n in point_sizes]
    if kind in (ChartType.pp, ChartType.up):
        centre = sum(counts) / sum(sizes)
        unit = centre * (1 - centre) if kind is ChartType.pp else centre
        sigma_z = _laney_sigma_z(centre, unit, chain, chain_sizes, screen_mr)
        hi = 1.0 if kind is ChartType.pp else None
        return centre, [_bands(centre, _times(_per_size(unit, n), sigma_z), 0.0, hi) for n in point_sizes]
    # xbar and s: subgroup sizes are ≥ 2 (smaller ones were rejected as problems).
    if kind is ChartType.xbar:
        centre = sum(n * y for n, y in zip(sizes, values, strict=True)) / sum(sizes)
        sbar = _sbar(sds, sizes)
        return centre, [_bands(centre, _xbar_sigma(sbar, n)) for n in point_sizes]
    sbar = _sbar(values, sizes)
    return sbar, [_bands(sbar, _s_sigma(sbar, n), lo=0.0) for n in point_sizes]


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x > 0 else (x if math.isnan(x) else 0.0)


def _mr_sigma(chain: Sequence[float | None], screen: bool) -> float | None:
    """Sigma of individuals from the average moving range of consecutive base values (gaps break it)."""
    ranges = [abs(b - a) for a, b in zip(chain, chain[1:], strict=False) if a is not None and b is not None]
    if not ranges:
        return None
    average = mean(ranges)
    if screen and average > 0:
        # Nelson's screening: a moving range ≥ D4·MR̄ is itself a signal, so it should not widen limits.
        kept = [r for r in ranges if r < D4 * average]
        if kept:
            average = mean(kept)
    return average / D2


def _laney_sigma_z(centre: float, unit: float, chain: Sequence[float | None], sizes: Sequence[float | None],
                   screen: bool) -> float | None:
    """Laney's σ_z: the average moving range of the z-scores (y − centre)/σ_i, over d2 (screened like an I chart).

    With a centre of 0 (or 1 on a p′ chart) every σ_i is 0: the limits sit on the centre whatever σ_z is."""
    if not unit > 0:
        return 0.0
    z: list[float | None] = []
    for y, n in zip(chain, sizes, strict=True):
        sigma = _per_size(unit, n)
        z.append(None if y is None or not sigma else (y - centre) / sigma)
    return _mr_sigma(z, screen)


def _times(sigma: float | None, factor: float | None) -> float | None:
    return None if sigma is None or factor is None else sigma * factor


def _per_size(variance_unit: float, size: float | None) -> float | None:
    return _sqrt(variance_unit / size) if _size_at_least(size, 0.0) else None


def _size_at_least(size: float | None, minimum: float) -> TypeGuard[float]:
    # A gap's denominator may be anything; only a finite size above zero and the minimum gets limits.
    return size is not None and math.isfinite(size) and size > 0 and size >= minimum


def _c4(n: float) -> float:
    if n > 1e7:  # lgamma overflows for huge n; the series is exact to double precision there
        return 1 - 1 / (4 * n) - 7 / (32 * n * n)
    return math.sqrt(2 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


def _sbar(sds: Sequence[float], sizes: Sequence[float]) -> float:
    """Mean of the subgroup sds when sizes are equal, else the pooled sd (Montgomery 6.29 / 6.31)."""
    if len(set(sizes)) <= 1:
        return mean(sds)
    weights = [n - 1 for n in sizes]
    return _sqrt(sum(w * s * s for w, s in zip(weights, sds, strict=True)) / sum(weights))


def _xbar_sigma(sbar: float, size: float | None) -> float | None:
    # A3 = 3 / (c4·√n), so one sigma of a subgroup mean is s̄ / (c4·√n).
    return sbar / (_c4(size) * math.sqrt(size)) if _size_at_least(size, 2.0) else None


def _s_sigma(sbar: float, size: float | None) -> float | None:
    # B3/B4 = 1 ∓ 3·c5/c4, so one sigma of s is s̄·c5/c4; rounding can push c4 a hair above 1.
    if not _size_at_least(size, 2.0):
        return None
    c4 = _c4(size)
    return sbar * _sqrt(1 - c4 * c4) / c4


def _bands(centre: float, sigma: float | None, lo: float | None = None, hi: float | None = None) -> Bands:
    if sigma is None:
        return NO_BANDS
    lines: list[float | None] = []
    for k in (3, 2, 1):
        lines += [_clip(centre - k * sigma, lo, hi), _clip(centre + k * sigma, lo, hi)]
    return Bands(*lines)


def _clip(v: float, lo: float | None, hi: float | None) -> float:
    if lo is not None and v < lo:
        return lo
    if hi is not None and v > hi:
        return hi
    return v


def power(v: float, exponent: float) -> float:
    # A negative lower limit has no back-transform: qicharts2 sets it to 0.  Huge values overflow.
    if not v > 0:
        return 0.0
    try:
        return math.pow(v, exponent)
    except OverflowError:
        return math.inf
