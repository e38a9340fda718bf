"""A run or control chart as accessible SVG, in the platform's chart style (core.charts, matplotlib).

Every visible word comes from `ChartTexts`, so callers pass Simplified Chinese or English from their
catalogs. What is drawn, and its id ("<id_prefix>-<name>"): the measure's line ("value-line") and points
("points-<class>", excluded ones "points-<class>-excluded"), per phase the centre line ("centre-<k>", red and
dashed on a runs signal) and stepped limits ("ucl-<k>", "lcl-<k>", 2-sigma "ucl2-<k>", "lcl2-<k>"), phase
dividers ("phase-<k>", labelled "phase-<k>-label"), the target ("target"), the legend and the rules fired ("note").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.charts import Chart, Divider, HLine, Marks, Steps, render, uid_of
from pdca.spc.control_chart import ControlChart, Point
from pdca.spc.signals import Improvement, PointClass, Rule, point_classes

# MDC colours (qi-methods.md §2.2); common cause is darker than MDC's #a6a6a6 to keep 3:1 contrast.
COLOURS = {
    PointClass.common_cause: "#737373",
    PointClass.improvement: "#00b0f0",
    PointClass.concern: "#e46c0a",
    PointClass.neutral: "#490092",
}
LIMIT, CENTRE, RUNS_SIGNAL, TARGET = "#8c8c8c", "#000000", "#c00000", "#de1b1b"


@dataclass(frozen=True, kw_only=True)
class ChartTexts:
    """Localised words for one chart.  An empty optional text leaves its legend entry out."""

    title: str
    description: str  # read by screen readers: say what the chart shows and what it found
    value: str  # legend: the measure
    centre: str  # legend: median or mean
    limits: str = ""  # legend: control limits (control charts)
    special_cause: str = ""  # legend: flagged points when no improvement direction is given
    improvement: str = ""
    concern: str = ""
    excluded: str = ""
    runs_signal: str = ""  # legend: the dashed centre line of a phase with a runs signal
    two_sigma: str = ""
    target: str = ""
    x_axis: str = ""
    y_axis: str = ""
    rules_fired: str = ""  # e.g. "Rules fired:" / "触发规则：", followed by the rule names
    rule_names: Mapping[str, str] = field(default_factory=dict)  # Rule value → localised name


def render_svg(
    *,
    chart: ControlChart,
    texts: ChartTexts,
    x_labels: Sequence[str] | None = None,
    improvement: Improvement = "neutral",
    target: float | None = None,
    show_2sigma: bool = False,
    width: int = 720,
    plot_height: int = 260,
    id_prefix: str = "spc",
) -> str:
    """SVG markup for `chart`.  `x_labels` (one per point) default to the points' ISO dates or 1, 2, …

    `improvement` colours special-cause points as improvement or concern (MDC); `target` draws a line;
    `id_prefix` keeps the ids of several charts on one page apart.
    """
    n = len(chart.points)
    if x_labels is not None and len(x_labels) != n:
        raise ValueError(f"x_labels has {len(x_labels)} items but the chart has {n} points")
    labels = list(x_labels) if x_labels is not None else [_default_label(p) for p in chart.points]
    classes = point_classes(signals=chart.signals, n_points=n, improvement=improvement)
    xs = [float(p.index) for p in chart.points]
    values = [p.value for p in chart.points]
    marks = [Marks(name="value", label="", x=xs, y=values, colour=COLOURS[PointClass.common_cause],
                   marker="", join=True)]
    marks += _point_groups(chart, texts, classes, labels, improvement)
    steps, lines, dividers = _phases(chart, texts, show_2sigma)
    if target is not None and math.isfinite(target):
        lines.append(HLine(name="target", label=texts.target, y=target, colour=TARGET, dash=(8, 3, 2, 3)))
    return render(Chart(
        uid=uid_of(id_prefix, "spc"), title=texts.title, description=texts.description,
        x_range=(-0.5, max(n, 1) - 0.5), x_ticks=[(float(i), label) for i, label in enumerate(labels)],
        x_label=texts.x_axis, y_label=texts.y_axis, marks=marks, steps=steps, lines=lines, dividers=dividers,
        note=_fired_line(chart, texts), width=width, plot_height=plot_height,
    ))


def _point_groups(chart: ControlChart, texts: ChartTexts, classes: Sequence[PointClass], labels: Sequence[str],
                  improvement: Improvement) -> list[Marks]:
    """One group of points per MDC class (special causes larger), excluded points hollow, each with tooltips."""
    legend = {
        PointClass.common_cause: texts.value,
        PointClass.neutral: texts.special_cause,
        PointClass.improvement: texts.improvement if improvement != "neutral" else "",
        PointClass.concern: texts.concern if improvement != "neutral" else "",
    }
    out: list[Marks] = []
    for cls in PointClass:
        for excluded in (False, True):
            members = [p for p in chart.points if classes[p.index] is cls and p.excluded is excluded]
            if not any(p.value is not None for p in members):
                continue
            special = cls is not PointClass.common_cause
            label = texts.excluded if excluded else legend[cls]  # the legend shows one hollow point for all
            out.append(Marks(
                name=f"points-{cls.value}" + ("-excluded" if excluded else ""), label=label,
                x=[float(p.index) for p in members], y=[p.value for p in members], colour=COLOURS[cls],
                size=10 if special else 7, hollow=excluded, legend_line=cls is PointClass.common_cause and not excluded,
                tips=[_tip(p, labels, texts) for p in members if p.value is not None],
            ))
    return out


def _phases(chart: ControlChart, texts: ChartTexts,
            show_2sigma: bool) -> tuple[list[Steps], list[HLine], list[Divider]]:
    """Per phase: stepped limits, the centre line (dashed red on a runs signal) and a divider with its label."""
    steps: list[Steps] = []
    lines: list[HLine] = []
    dividers: list[Divider] = []
    two_sigma = [("ucl_2sigma", "ucl2"), ("lcl_2sigma", "lcl2")] if show_2sigma else []
    for k, phase in enumerate(chart.phases, start=1):
        members = chart.points[phase.start : phase.stop]
        xs = [float(p.index) for p in members]
        for attr, name in [("ucl", "ucl"), ("lcl", "lcl"), *two_sigma]:
            dash = (1, 3) if "2" in name else (5, 3)
            steps.append(Steps(name=f"{name}-{k}", label=texts.two_sigma if "2" in name else texts.limits, x=xs,
                               y=[getattr(p, attr) for p in members], colour=LIMIT, dash=dash))
        if phase.centre is not None:
            runs = phase.runs_signal
            lines.append(HLine(
                name=f"centre-{k}", label=texts.runs_signal if runs else texts.centre, y=phase.centre,
                colour=RUNS_SIGNAL if runs else CENTRE, dash=(6, 4) if runs else (), start=phase.start - 0.5,
                stop=phase.stop - 0.5))
        if phase.start > 0 or phase.label:
            dividers.append(Divider(name=f"phase-{k}", at=phase.start - 0.5, label=phase.label or ""))
    return steps, lines, dividers


def _default_label(p: Point) -> str:
    return p.date.isoformat() if p.date is not None else str(p.index + 1)


def _tip(p: Point, labels: Sequence[str], texts: ChartTexts) -> str:
    tip = f"{labels[p.index]}: {p.value:.6g}"
    if p.rules:
        tip += " — " + ", ".join(_rule_name(texts, r) for r in p.rules)
    return tip


def _rule_name(texts: ChartTexts, rule: Rule) -> str:
    return texts.rule_names.get(rule.value, rule.value)


def _fired_line(chart: ControlChart, texts: ChartTexts) -> str:
    if not texts.rules_fired or not chart.signals:
        return ""
    fired = [r for r in Rule if any(s.rule == r for s in chart.signals)]
    return f"{texts.rules_fired} " + ", ".join(_rule_name(texts, r) for r in fired)
