"""Render a run or control chart as a standalone, accessible SVG string (pure Python, no plotting library).

Every visible word comes from `ChartTexts`, so callers pass Simplified Chinese or English from their
catalogs; all text is escaped.  The SVG has a viewBox and width 100 %, so it scales on phones and in
WeasyPrint PDFs alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from pdca.spc.control_chart import ControlChart, Point
from pdca.spc.signals import Improvement, PointClass, Rule, point_classes

# MDC colours (qi-methods.md §2.2); common cause is darker than MDC's #a6a6a6 to keep 3:1 contrast.
COLOURS = {
    PointClass.common_cause: "#737373",
    PointClass.improvement: "#00b0f0",
    PointClass.concern: "#e46c0a",
    PointClass.neutral: "#490092",
}
LIMIT, CENTRE, RUNS_SIGNAL, TARGET, GRID = "#8c8c8c", "#000000", "#c00000", "#de1b1b", "#e6e6e6"
FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',Arial,sans-serif"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


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
    uid = re.sub(r"[^A-Za-z0-9_-]", "", id_prefix) or "spc"
    classes = point_classes(signals=chart.signals, n_points=n, improvement=improvement)
    frame = _Frame(64.0, 56.0, width - 80.0, float(plot_height), n, *_y_range(chart.points, target, show_2sigma))
    rows = _legend_rows(_legend_entries(chart, texts, classes, improvement, target, show_2sigma), frame.width)
    fired = _fired_line(chart, texts)
    legend_top = frame.bottom + 44 + (18 if texts.x_axis else 0)
    height = _n(legend_top + 22 * len(rows) + (20 if fired else 0) + 8)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{uid}-title {uid}-desc" font-family="{FONT}" font-size="12">',
        f'<title id="{uid}-title">{_t(texts.title)}</title>',
        f'<desc id="{uid}-desc">{_t(texts.description)}</desc>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{_n(frame.left)}" y="22" font-size="15" font-weight="bold">{_t(texts.title)}</text>',
        *_axes(frame, labels, texts),
        *_phase_marks(chart, frame, show_2sigma),
    ]
    if target is not None and math.isfinite(target):
        out.append(_hline(frame.left, frame.right, frame.y(target), TARGET, "8 3 2 3"))
    out += _data(chart, frame, classes, labels, texts)
    out += _legend(rows, fired, frame.left, legend_top)
    out.append("</svg>")
    return "\n".join(out)


@dataclass(frozen=True)
class _Frame:
    """The plot area and its scales."""

    left: float
    top: float
    width: float
    height: float
    n: int
    lo: float
    hi: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def half(self) -> float:
        """Half the horizontal space of one point: limits are drawn as steps this wide each side."""
        return self.width / max(self.n, 1) / 2

    def x(self, i: int) -> float:
        return self.left + (2 * i + 1) * self.half

    def y(self, v: float) -> float:
        # Halves keep the arithmetic finite even for a span near the largest double.
        return self.top + (self.hi / 2 - v / 2) / (self.hi / 2 - self.lo / 2) * self.height


def _axes(frame: _Frame, labels: Sequence[str], texts: ChartTexts) -> list[str]:
    out: list[str] = []
    ticks = _ticks(frame.lo, frame.hi)
    for v in ticks:
        out.append(_hline(frame.left, frame.right, frame.y(v), GRID, ""))
        out.append(
            f'<text x="{_n(frame.left - 6)}" y="{_n(frame.y(v) + 4)}" text-anchor="end" fill="#404040">'
            f"{_fmt_tick(v, ticks)}</text>"
        )
    out.append(
        f'<rect x="{_n(frame.left)}" y="{_n(frame.top)}" width="{_n(frame.width)}" height="{_n(frame.height)}" '
        'fill="none" stroke="#bfbfbf"/>'
    )
    if texts.y_axis:
        out.append(
            f'<text transform="translate(14 {_n(frame.top + frame.height / 2)}) rotate(-90)" text-anchor="middle">'
            f"{_t(texts.y_axis)}</text>"
        )
    # Thin the x labels so the widest still fits between its neighbours.
    widest = max((_text_width(label) for label in labels), default=0.0) + 10
    step = max(1, math.ceil(frame.n / max(1.0, frame.width // widest)))
    for i in range(0, frame.n, step):
        out.append(
            f'<text x="{_n(frame.x(i))}" y="{_n(frame.bottom + 18)}" text-anchor="middle" fill="#404040">'
            f"{_t(labels[i])}</text>"
        )
    if texts.x_axis:
        out.append(
            f'<text x="{_n(frame.left + frame.width / 2)}" y="{_n(frame.bottom + 40)}" text-anchor="middle">'
            f"{_t(texts.x_axis)}</text>"
        )
    return out


def _phase_marks(chart: ControlChart, frame: _Frame, show_2sigma: bool) -> list[str]:
    """Per phase: a separator and label, stepped limits, and the centre line (dashed red on a runs signal)."""
    out: list[str] = []
    lines = ["ucl", "lcl"] + (["ucl_2sigma", "lcl_2sigma"] if show_2sigma else [])
    for phase in chart.phases:
        start = frame.x(phase.start) - frame.half
        if phase.start > 0:
            out.append(
                f'<line x1="{_n(start)}" x2="{_n(start)}" y1="{_n(frame.top)}" y2="{_n(frame.bottom)}" '
                'stroke="#595959" stroke-dasharray="2 3"/>'
            )
        if phase.label:
            out.append(f'<text x="{_n(start + 4)}" y="{_n(frame.top - 8)}" fill="#404040">{_t(phase.label)}</text>')
        members = chart.points[phase.start : phase.stop]
        out += [_step_path(members, attr, frame, "5 3" if "2sigma" not in attr else "1 3") for attr in lines]
        if phase.centre is not None:
            colour, dash = (RUNS_SIGNAL, "6 4") if phase.runs_signal else (CENTRE, "")
            end = frame.x(phase.stop - 1) + frame.half
            out.append(_hline(start, end, frame.y(phase.centre), colour, dash))
    return [line for line in out if line]


def _data(
    chart: ControlChart, frame: _Frame, classes: Sequence[PointClass], labels: Sequence[str], texts: ChartTexts
) -> list[str]:
    """The measure's line (broken at gaps) and its points, special causes larger and coloured."""
    grey = COLOURS[PointClass.common_cause]
    out = [
        f'<polyline points="{" ".join(f"{_n(frame.x(p.index))},{_n(frame.y(_v(p)))}" for p in segment)}" '
        f'fill="none" stroke="{grey}"/>'
        for segment in _segments(chart.points)
    ]
    for p in chart.points:
        if p.value is None:
            continue
        colour = COLOURS[classes[p.index]]
        special = classes[p.index] is not PointClass.common_cause
        fill = "#ffffff" if p.excluded else colour  # excluded points are ghosted
        shape = f'r="{5 if special else 3.5}" fill="{fill}" stroke="{colour}" stroke-width="{2 if special else 1}"'
        tip = f"{labels[p.index]}: {_fmt_value(p.value)}"
        if p.rules:
            tip += " — " + ", ".join(_rule_name(texts, r) for r in p.rules)
        out.append(
            f'<circle cx="{_n(frame.x(p.index))}" cy="{_n(frame.y(p.value))}" {shape}><title>{_t(tip)}</title></circle>'
        )
    return out


def _legend(rows: list[list[tuple[str, str, float]]], fired: str, left: float, top: float) -> list[str]:
    out: list[str] = []
    ly = top
    for row in rows:
        lx = left
        for swatch, text, w in row:
            out.append(swatch.format(x=_n(lx), x2=_n(lx + 22), cx=_n(lx + 11), y=_n(ly - 4)))
            out.append(f'<text x="{_n(lx + 28)}" y="{_n(ly)}">{_t(text)}</text>')
            lx += w
        ly += 22
    if fired:
        out.append(f'<text x="{_n(left)}" y="{_n(ly)}" fill="#404040">{_t(fired)}</text>')
    return out


def _hline(x1: float, x2: float, y: float, colour: str, dash: str) -> str:
    if not math.isfinite(y):
        return ""
    pattern = f' stroke-dasharray="{dash}"' if dash else ""
    width = "" if colour == GRID else ' stroke-width="1.5"'
    return f'<line x1="{_n(x1)}" x2="{_n(x2)}" y1="{_n(y)}" y2="{_n(y)}" stroke="{colour}"{width}{pattern}/>'


def _default_label(p: Point) -> str:
    return p.date.isoformat() if p.date is not None else str(p.index + 1)


def _v(p: Point) -> float:
    assert p.value is not None  # _segments yields only points with values
    return p.value


def _step_path(members: Sequence[Point], attr: str, frame: _Frame, dash: str) -> str:
    """A limit drawn as steps, so limits that vary with each point's denominator read correctly."""
    parts: list[str] = []
    pen_down = False
    for p in members:
        v = getattr(p, attr)
        if v is None or not math.isfinite(frame.y(v)):
            pen_down = False
            continue
        x = frame.x(p.index)
        parts.append(f"{'L' if pen_down else 'M'}{_n(x - frame.half)},{_n(frame.y(v))}H{_n(x + frame.half)}")
        pen_down = True
    if not parts:
        return ""
    return f'<path d="{"".join(parts)}" fill="none" stroke="{LIMIT}" stroke-dasharray="{dash}"/>'


def _segments(points: Sequence[Point]) -> list[list[Point]]:
    """Runs of consecutive points with values: a missing point breaks the line."""
    out: list[list[Point]] = [[]]
    for p in points:
        if p.value is None:
            if out[-1]:
                out.append([])
        else:
            out[-1].append(p)
    return [s for s in out if len(s) > 1]


def _y_range(points: Sequence[Point], target: float | None, show_2sigma: bool) -> tuple[float, float]:
    attrs = ["value", "centre", "ucl", "lcl"] + (["ucl_2sigma", "lcl_2sigma"] if show_2sigma else [])
    found = [v for p in points for a in attrs if (v := getattr(p, a)) is not None and math.isfinite(v)]
    if target is not None and math.isfinite(target):
        found.append(target)
    if not found:
        return 0.0, 1.0
    lo, hi = min(found), max(found)
    pad = (hi / 2 - lo / 2) * 0.1 or (abs(lo) * 0.1 or 1.0)
    return max(lo - pad, -1.7e308), min(hi + pad, 1.7e308)


def _ticks(lo: float, hi: float) -> list[float]:
    raw = (hi / 2 - lo / 2) * 0.4  # about five intervals
    if not raw > 0 or not math.isfinite(raw):
        return [lo, hi]
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), 0.0)
    if not step > 0 or not math.isfinite(lo / step):
        return [lo, hi]
    first = math.ceil(lo / step)
    return [k * step for k in range(first, first + 12) if k * step <= hi]


def _fmt_tick(v: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(v)
    if v == 0:
        return "0"
    if abs(v) >= 1e6 or abs(v) < 1e-4 or step == 0 or not math.isfinite(step):
        return f"{v:.3g}"
    decimals = min(10, max(0, -math.floor(math.log10(step) + 1e-9) + (1 if f"{step:g}".endswith("25") else 0)))
    return f"{v:.{decimals}f}"


def _fmt_value(v: float) -> str:
    return f"{v:.6g}"


def _n(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _t(text: str) -> str:
    # Strip characters XML 1.0 forbids, then escape; labels come from users.
    return escape(_NOT_XML.sub("", text))


def _rule_name(texts: ChartTexts, rule: Rule) -> str:
    return texts.rule_names.get(rule.value, rule.value)


def _fired_line(chart: ControlChart, texts: ChartTexts) -> str:
    if not texts.rules_fired or not chart.signals:
        return ""
    fired = [r for r in Rule if any(s.rule == r for s in chart.signals)]
    return f"{texts.rules_fired} " + ", ".join(_rule_name(texts, r) for r in fired)


def _legend_entries(
    chart: ControlChart,
    texts: ChartTexts,
    classes: Sequence[PointClass],
    improvement: Improvement,
    target: float | None,
    show_2sigma: bool,
) -> list[tuple[str, str]]:
    """(swatch template, text) pairs for what the chart actually shows."""
    line = '<line x1="{x}" x2="{x2}" y1="{y}" y2="{y}" stroke="%s" stroke-width="1.5"%s/>'
    dot = '<circle cx="{cx}" cy="{y}" r="4.5" fill="%s" stroke="%s" stroke-width="1.5"/>'
    present = set(classes)
    has_limits = any(p.ucl is not None or p.lcl is not None for p in chart.points)
    runs_signal = any(p.runs_signal for p in chart.phases)
    entries: list[tuple[str, str]] = [
        (line % (COLOURS[PointClass.common_cause], "") + dot % ((COLOURS[PointClass.common_cause],) * 2), texts.value),
        (line % (CENTRE, ""), texts.centre),
        (line % (LIMIT, ' stroke-dasharray="5 3"'), texts.limits if has_limits else ""),
        (line % (LIMIT, ' stroke-dasharray="1 3"'), texts.two_sigma if show_2sigma and has_limits else ""),
        (line % (RUNS_SIGNAL, ' stroke-dasharray="6 4"'), texts.runs_signal if runs_signal else ""),
        (line % (TARGET, ' stroke-dasharray="8 3 2 3"'), texts.target if target is not None else ""),
    ]
    for cls, text in (
        (PointClass.neutral, texts.special_cause),
        (PointClass.improvement, texts.improvement if improvement != "neutral" else ""),
        (PointClass.concern, texts.concern if improvement != "neutral" else ""),
    ):
        entries.append((dot % (COLOURS[cls], COLOURS[cls]), text if cls in present else ""))
    grey = COLOURS[PointClass.common_cause]
    entries.append((dot % ("#ffffff", grey), texts.excluded if any(p.excluded for p in chart.points) else ""))
    return [(s, t) for s, t in entries if t]


def _text_width(text: str) -> float:
    # Wide (CJK) characters take about a full em; others about 0.6 em at 12 px.
    return float(sum(12 if ord(ch) > 0x2E7F else 7 for ch in text))


def _legend_rows(entries: list[tuple[str, str]], available: float) -> list[list[tuple[str, str, float]]]:
    rows: list[list[tuple[str, str, float]]] = [[]]
    used = 0.0
    for swatch, text in entries:
        w = 28 + _text_width(text) + 18
        if rows[-1] and used + w > available:
            rows.append([])
            used = 0.0
        rows[-1].append((swatch, text, w))
        used += w
    return [r for r in rows if r]
