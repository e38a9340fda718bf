"""Charts of PDCA measures: the Check chart (the cycle's change as a new phase), the signal state read from
the SPC engine, and the board's sparklines.  Pure functions over a measure's Series."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from core.charts import sparkline as core_sparkline
from core.i18n import N_
from pdca.enums import Direction, SignalState
from pdca.metrics.series import Series
from pdca.spc import ChartTexts, ControlChart, PointClass, Rule, SpcInputError, control_chart, render_svg
from pdca.spc.signals import PHASE_RULES, point_classes

Translate = Callable[..., str]

RULE_NAMES = {
    Rule.outside_limits.value: N_("Point outside the limits"),
    Rule.long_run.value: N_("Unusually long run"),
    Rule.few_crossings.value: N_("Too few crossings"),
    Rule.shift.value: N_("Shift"),
    Rule.trend.value: N_("Trend"),
    Rule.two_of_three.value: N_("Two of three beyond 2 sigma"),
    Rule.inner_third.value: N_("Hugging the centre line"),
    Rule.too_few_runs.value: N_("Too few runs"),
    Rule.too_many_runs.value: N_("Too many runs"),
}
STATE_COLOURS = {
    SignalState.improvement: "#00b0f0",
    SignalState.concern: "#e46c0a",
    SignalState.special_cause: "#490092",
    SignalState.no_signal: "#737373",
    SignalState.not_enough_data: "#bfbfbf",
}


def phase_index(series: Series, change_started_on: date | None) -> int | None:
    """Index of the first whole period after the change began (the engine's date phases work the same way):
    a period the change started part-way through stays with the baseline.  None when no such period is
    charted yet or the change predates the chart."""
    if change_started_on is None:
        return None
    for i, p in enumerate(series.periods):
        if p.start >= change_started_on:
            return i if i > 0 else None
    return None


@dataclass(frozen=True)
class CheckReading:
    """What the Check stage sees: the chart with its phases and the state of the points after the change."""

    chart: ControlChart | None
    phase_start: int | None
    state: SignalState
    rules: tuple[Rule, ...]  # rules that flagged points after the change


def _build(series: Series, **extra: object) -> ControlChart | None:
    try:
        return control_chart(**series.chart_arguments(), **extra)  # type: ignore[arg-type]
    except SpcInputError:
        return None


def read_check(series: Series, change_started_on: date | None) -> CheckReading:
    """The measure's chart with the change as a new phase, and whether the data after it show a signal.

    Each phase gets its own limits (the change is marked as a new phase); the signal is read both within
    the new phase and against the baseline's limits extended over the new phase (qicharts2's freeze), which
    is how a sustained step up or down shows as a long run or points beyond the old limits."""
    k = phase_index(series, change_started_on)
    chart = _build(series, phases=[k]) if k is not None else _build(series)
    if chart is None or k is None or not series.available:
        return CheckReading(chart, k, SignalState.not_enough_data, ())
    before = sum(series.shown(i) is not None for i in range(k))
    after = sum(series.shown(i) is not None for i in range(k, len(series)))
    if before < 2 or after < 1:
        return CheckReading(chart, k, SignalState.not_enough_data, ())
    against_baseline = _build(series, freeze=k)
    improvement = {Direction.increase: "increase", Direction.decrease: "decrease"}.get(series.direction, "neutral")
    classes: set[PointClass] = set()
    rules: set[Rule] = set()
    phase_level = False
    for c in (chart, against_baseline):
        if c is None:
            continue
        point_class = point_classes(signals=c.signals, n_points=len(c.points), improvement=improvement)  # type: ignore[arg-type]
        for s in c.signals:
            late = [i for i in s.indexes if i >= k]
            if not late:
                continue
            rules.add(s.rule)
            if s.rule in PHASE_RULES:
                phase_level = True
            classes.update(point_class[i] for i in late)
    classes.discard(PointClass.common_cause)
    if PointClass.improvement in classes:
        state = SignalState.improvement
    elif PointClass.concern in classes:
        state = SignalState.concern
    elif classes or phase_level:
        state = SignalState.special_cause
    else:
        state = SignalState.no_signal
    return CheckReading(chart, k, state, tuple(r for r in Rule if r in rules))


def chart_texts(t: Translate, *, title: str, unit: str, description: str) -> ChartTexts:
    return ChartTexts(
        title=title, description=description, value=f"{title} ({unit})" if unit and unit not in title else title,
        centre=t(N_("Centre line")), limits=t(N_("Control limits")), special_cause=t(N_("Special cause")),
        improvement=t(N_("Special cause: improvement")), concern=t(N_("Special cause: concern")),
        excluded=t(N_("Excluded")),
        runs_signal=t(N_("Non-random run (dashed centre line)")), target=t(N_("Target")), y_axis=unit,
        rules_fired=t(N_("Rules fired:")), rule_names={k: t(v) for k, v in RULE_NAMES.items()},
    )


def render_chart(reading: CheckReading, series: Series, texts: ChartTexts, *, target: float | None,
                 phase_labels: tuple[str, str], id_prefix: str) -> str:
    """SVG of the reading's chart; the phases are labelled (before / after the change)."""
    if reading.chart is None:
        return ""
    chart = reading.chart
    if reading.phase_start is not None and len(chart.phases) == 2:
        chart = _build(series, phases=[reading.phase_start], phase_labels=list(phase_labels)) or chart
    improvement = {Direction.increase: "increase", Direction.decrease: "decrease"}.get(series.direction, "neutral")
    return render_svg(chart=chart, texts=texts, x_labels=list(series.labels), improvement=improvement,  # type: ignore[arg-type]
                      target=target, id_prefix=id_prefix)


def sparkline(series: Series, *, phase_start: int | None, state: SignalState, label: str,
              width: int = 160, height: int = 36) -> str:
    """A small line of the measure: the change's phase start as a tick, the last point in the state's colour.
    `label` is read by screen readers (what the measure is and its state)."""
    values = [series.shown(i) for i in range(len(series))]
    # Many cards share the board: ids come from what the card shows, so they differ between cards.
    uid = "spark-" + hashlib.sha256(repr((label, values, phase_start)).encode()).hexdigest()[:8]
    return core_sparkline(values=values, label=label, last_colour=STATE_COLOURS[state], divider_at=phase_start,
                          width=width, height=height, uid=uid)


def changes_chart(series: Series, changes: list[tuple[date, str]], texts: ChartTexts, *, target: float | None,
                  before_label: str, id_prefix: str) -> str:
    """SVG of the whole series with every tested change (day, label) marked as a new phase — the run chart
    annotated with the changes made, as the Model for Improvement asks."""
    starts: dict[int, str] = {}
    for day, name in sorted(changes):
        k = phase_index(series, day)
        if k is not None:
            starts.setdefault(k, name)
    phases = sorted(starts)
    labels = [before_label, *(starts[k] for k in phases)]
    chart = _build(series, phases=phases, phase_labels=labels) if phases else _build(series)
    if chart is None:
        return ""
    improvement = {Direction.increase: "increase", Direction.decrease: "decrease"}.get(series.direction, "neutral")
    return render_svg(chart=chart, texts=texts, x_labels=list(series.labels), improvement=improvement,  # type: ignore[arg-type]
                      target=target, id_prefix=id_prefix)
