"""Run and control charts: centre line and limits per chart type, phases, frozen baselines and exclusions.

Formulas follow qicharts2 as described in qi-methods.md §1; indexes are 0-based throughout (qicharts2's
`exclude = c(6, 20)` is `excluded={5, 19}` here, and `part = 30` is `phases=[30]`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeGuard

from pdca.spc.run_chart import (
    ChartType,
    Problem,
    ProblemCode,
    RunsAnalysis,
    chart_type_of,
    check_series,
    layout,
    mean,
    median,
    moving_ranges,
    plotted_values,
    runs_analysis,
)
from pdca.spc.signals import NO_BANDS, Bands, Rule, RuleSet, Signal, detect_signals, limits_only, resolve_rules

D2 = 1.128  # d2(2): MR-bar / d2 estimates sigma for individuals
D4 = 3.267  # D4(2): the moving-range UCL factor, also Nelson's screening cut-off
T_POWER = 3.6  # t charts: y^(1/3.6) is close to normal for exponential times (Nelson 1994)


@dataclass(frozen=True)
class Point:
    """One plotted point with its phase's centre line and its own limits (None where there are none)."""

    index: int
    value: float | None  # None when missing or invalid (see ControlChart.problems)
    date: date | None
    phase: int
    centre: float | None
    lcl: float | None
    ucl: float | None
    lcl_2sigma: float | None
    ucl_2sigma: float | None
    lcl_1sigma: float | None
    ucl_1sigma: float | None
    excluded: bool
    baseline: bool  # the point was used to compute the centre line and limits
    signal: bool  # outside the 3-sigma limits (qicharts2's sigma.signal)
    rules: tuple[Rule, ...]  # every rule that flags this point


@dataclass(frozen=True)
class Phase:
    """Summary of one phase: qicharts2's summary columns (n.obs, n.useful, runs, sigma signals)."""

    number: int  # as declared: phase k starts at phases[k - 1]; empty phases are not listed
    label: str | None
    start: int
    stop: int  # one past the last index
    n_obs: int  # points with a usable value
    n_base: int  # points the centre line and limits were computed from
    centre: float | None
    runs: RunsAnalysis | None  # None for moving-range charts, which get no runs analysis
    sigma_signals: int

    @property
    def runs_signal(self) -> bool:
        return self.runs is not None and self.runs.signal


@dataclass(frozen=True)
class ControlChart:
    """A computed chart: points, phases, every rule that fired, and data problems found on the way."""

    chart_type: ChartType
    points: tuple[Point, ...]
    phases: tuple[Phase, ...]
    signals: tuple[Signal, ...]
    rules: RuleSet
    problems: tuple[Problem, ...]

    def flagged(self, rule: Rule | None = None) -> tuple[int, ...]:
        """Sorted indexes flagged by `rule` (by any rule when None)."""
        return tuple(sorted({i for s in self.signals if rule is None or s.rule == rule for i in s.indexes}))

    @property
    def has_signal(self) -> bool:
        return bool(self.signals)


# A run chart is a chart without limits; one shape lets the API and the SVG renderer treat both alike.
RunChart = ControlChart


def run_chart(
    *,
    values: Sequence[float | None],
    denominators: Sequence[float | None] | None = None,
    dates: Sequence[date] | None = None,
    phases: Sequence[int | date] | None = None,
    phase_labels: Sequence[str] | None = None,
    freeze: int | date | None = None,
    excluded: Collection[int] = (),
    rules: RuleSet | str = "anhoej",
) -> RunChart:
    """Run chart: median centre line per phase and the run-chart rules (Anhøj by default)."""
    return control_chart(
        chart_type=ChartType.run,
        values=values,
        denominators=denominators,
        dates=dates,
        phases=phases,
        phase_labels=phase_labels,
        freeze=freeze,
        excluded=excluded,
        rules=rules,
    )


def control_chart(
    *,
    chart_type: ChartType | str,
    values: Sequence[float | None],
    denominators: Sequence[float | None] | None = None,
    sds: Sequence[float | None] | None = None,
    dates: Sequence[date] | None = None,
    phases: Sequence[int | date] | None = None,
    phase_labels: Sequence[str] | None = None,
    freeze: int | date | None = None,
    excluded: Collection[int] = (),
    rules: RuleSet | str = "anhoej",
    screen_mr: bool = True,
    multiply: float = 1.0,
) -> ControlChart:
    """Build a chart.

    `values` are what is plotted: measurements (run, i, mr, t; divided by `denominators` if given),
    counts (c, p, u; p and u need `denominators`), subgroup means (xbar; needs `sds` and subgroup sizes
    in `denominators`) or subgroup standard deviations (s; sizes in `denominators`).  None is a missing
    point.  `phases` are the indexes (or dates) where a new phase starts; each phase gets its own centre
    and limits.  `freeze` (first k points, or points dated on or before a date) limits the baseline of
    the phase it falls in; a phase starting after the freeze recomputes from all its points.
    `excluded` points are drawn but left out of the limits and the runs analysis.  `screen_mr` drops
    moving ranges ≥ 3.267·MR̄ before estimating sigma for i and t charts (Nelson; qicharts2 when
    attached).  `multiply` scales values, centre and limits after the calculation (e.g. 100 for %).
    """
    kind = chart_type_of(chart_type)
    n = len(values)
    check_series(kind, n=n, denominators=denominators, sds=sds, multiply=multiply)
    rule_set = _rule_set(rules, kind)
    lay = layout(n=n, dates=dates, phases=phases, phase_labels=phase_labels, freeze=freeze, excluded=excluded)
    phase_of, baseline, skip = lay.phase_of, lay.baseline, lay.excluded
    if n == 0:
        return ControlChart(kind, (), (), (), rule_set, (Problem(ProblemCode.no_data, "values"),))

    ys, problems = plotted_values(kind, values, denominators, sds)
    if kind is ChartType.mr:
        ys = moving_ranges(ys, phase_of)
    if kind is ChartType.t:
        # Like qicharts2, plot the round-tripped values, so equal times sit exactly on the centre line.
        ys = [None if y is None else _power(_power(y, 1 / T_POWER), T_POWER) for y in ys]
    shown = [None if y is None else _finite(y * multiply) for y in ys]
    sizes = denominators if denominators is not None else [None] * n
    centres: dict[int, float | None] = {}
    bands: list[Bands] = [NO_BANDS] * n
    in_base: set[int] = set()
    runs: dict[int, RunsAnalysis | None] = {}
    for number in sorted(set(phase_of)):
        idx = [i for i in range(n) if phase_of[i] == number]
        # Only a phase that the freeze cuts keeps to its baseline; later phases use all their points.
        # Excluded points drop out, so their neighbours pair up in a moving range; gaps stay (qicharts2).
        chain = [i for i in ([i for i in idx if baseline[i]] or idx) if i not in skip]
        base = [i for i in chain if ys[i] is not None]
        in_base.update(base)
        centre, phase_bands = _limits(
            kind,
            values=[_f(ys[i]) for i in base],
            chain=[ys[i] for i in chain],
            counts=[_f(values[i]) for i in base],
            sizes=[_f(sizes[i]) for i in base],
            sds=[_f(sds[i]) for i in base] if sds is not None else [],
            point_sizes=[sizes[i] for i in idx],
            screen_mr=screen_mr,
        )
        if centre is None or (kind is not ChartType.run and all(b.ucl is None for b in phase_bands)):
            problems.append(Problem(ProblemCode.too_few_points, "values", None, number))
        centres[number] = None if centre is None else _finite(centre * multiply)
        for i, b in zip(idx, phase_bands, strict=True):
            bands[i] = Bands(*(None if v is None else _finite(v * multiply) for v in b))
        included = [y for i in idx if (y := shown[i]) is not None and i not in skip]
        runs[number] = None if kind is ChartType.mr else runs_analysis(values=included, centre=centres[number])

    signals = detect_signals(
        values=shown,
        included=[i not in skip for i in range(n)],
        phases=phase_of,
        centres=centres,
        bands=bands,
        runs=runs,
        rules=rule_set,
    )
    flags: list[set[Rule]] = [set() for _ in range(n)]
    for signal in signals:
        for i in signal.indexes:
            flags[i].add(signal.rule)
    points = tuple(
        Point(
            index=i,
            value=shown[i],
            date=lay.dates[i] if lay.dates is not None else None,
            phase=phase_of[i],
            centre=centres[phase_of[i]],
            **bands[i]._asdict(),
            excluded=i in skip,
            baseline=i in in_base,
            signal=Rule.outside_limits in flags[i],
            rules=tuple(r for r in Rule if r in flags[i]),
        )
        for i in range(n)
    )
    phase_rows = tuple(_phase_row(number, lay.labels, points, runs[number]) for number in sorted(runs))
    return ControlChart(kind, points, phase_rows, signals, rule_set, tuple(problems))


def _phase_row(number: int, labels: Sequence[str] | None, points: Sequence[Point], runs: RunsAnalysis | None) -> Phase:
    members = [p for p in points if p.phase == number]
    return Phase(
        number=number,
        label=labels[number] if labels is not None else None,
        start=members[0].index,
        stop=members[-1].index + 1,
        n_obs=sum(p.value is not None for p in members),
        n_base=sum(p.baseline for p in members),
        centre=members[0].centre,
        runs=runs,
        sigma_signals=sum(p.signal for p in members),
    )


# --- limits per chart type -------------------------------------------------------------------------


def _limits(
    kind: ChartType,
    *,
    values: list[float],
    chain: list[float | None],
    counts: list[float],
    sizes: list[float],
    sds: list[float],
    point_sizes: list[float | None],
    screen_mr: bool,
) -> tuple[float | None, list[Bands]]:
    """Centre line of one phase from its base points, and the bands of each of its points."""
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
        centre = mean([_power(y, 1 / T_POWER) for y in values])
        b = _bands(centre, _mr_sigma([None if y is None else _power(y, 1 / T_POWER) for y in chain], screen_mr))
        return _power(centre, T_POWER), [Bands(*(None if v is None else _power(v, T_POWER) for v in b))] * len(same)
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


def _power(v: float, exponent: float) -> float:
    # A negative lower limit has no back-transform: qicharts2 sets it to 0.  Huge values overflow.
    if not v > 0:
        return 0.0
    try:
        return math.pow(v, exponent)
    except OverflowError:
        return math.inf


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _f(v: float | None) -> float:
    # Base points always carry the numbers their chart needs (plotted_values made the rest gaps).
    return 0.0 if v is None else v


def _rule_set(rules: RuleSet | str, kind: ChartType) -> RuleSet:
    rule_set = resolve_rules(rules, run_chart=kind is ChartType.run)
    # qicharts2 runs no runs analysis on moving ranges: consecutive ranges share a point.
    return limits_only(rule_set) if kind is ChartType.mr else rule_set
