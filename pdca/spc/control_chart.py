"""Run and control charts: centre line and limits per chart type, phases, frozen baselines and exclusions.

Formulas follow qicharts2 as described in qi-methods.md §1; indexes are 0-based throughout (qicharts2's
`exclude = c(6, 20)` is `excluded={5, 19}` here, and `part = 30` is `phases=[30]`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from pdca.spc.limits import T_POWER, phase_limits, power
from pdca.spc.run_chart import (
    ChartType,
    Problem,
    ProblemCode,
    RunsAnalysis,
    chart_type_of,
    check_series,
    layout,
    moving_ranges,
    plotted_values,
    runs_analysis,
)
from pdca.spc.signals import NO_BANDS, Bands, Rule, RuleSet, Signal, detect_signals, limits_only, resolve_rules


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
    counts (c, p, u, and Laney's pp and up; all but c need `denominators`), subgroup means (xbar; needs
    `sds` and subgroup sizes in `denominators`) or subgroup standard deviations (s; sizes in
    `denominators`).  None is a missing point.  `phases` are the indexes (or dates) where a new phase
    starts; each phase gets its own centre and limits.  `freeze` (first k points, or points dated on or
    before a date) limits the baseline of the phase it falls in; a phase starting after the freeze
    recomputes from all its points.  `excluded` points are drawn but left out of the limits and the runs
    analysis.  `screen_mr` drops moving ranges ≥ 3.267·MR̄ before estimating sigma for i, t, pp and up
    charts (Nelson; qicharts2 when attached).  `multiply` scales values, centre and limits after the
    calculation (e.g. 100 for %).
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
        ys = [None if y is None else power(power(y, 1 / T_POWER), T_POWER) for y in ys]
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
        centre, phase_bands = phase_limits(
            kind,
            values=[_f(ys[i]) for i in base],
            chain=[ys[i] for i in chain],
            counts=[_f(values[i]) for i in base],
            sizes=[_f(sizes[i]) for i in base],
            sds=[_f(sds[i]) for i in base] if sds is not None else [],
            point_sizes=[sizes[i] for i in idx],
            screen_mr=screen_mr,
            chain_sizes=[sizes[i] for i in chain],
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


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _f(v: float | None) -> float:
    # Base points always carry the numbers their chart needs (plotted_values made the rest gaps).
    return 0.0 if v is None else v


def _rule_set(rules: RuleSet | str, kind: ChartType) -> RuleSet:
    rule_set = resolve_rules(rules, run_chart=kind is ChartType.run)
    # qicharts2 runs no runs analysis on moving ranges: consecutive ranges share a point.
    return limits_only(rule_set) if kind is ChartType.mr else rule_set
