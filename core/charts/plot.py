"""The platform's one line chart: points over an x axis (periods or time) with lines, highlighted points, stepped
limits, reference lines, target bands, phase dividers, a legend and a note, drawn with matplotlib.

Callers describe what to draw in plain values (every word already translated); `render()` lays it out so
nothing overlaps at any length of label and returns accessible, deterministic SVG (see core.charts.svg).
Every drawn element carries an id "<uid>-<name>" so tests and stylesheets can find it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from matplotlib.lines import Line2D
from matplotlib.markers import TICKDOWN
from matplotlib.patches import Rectangle
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from core.charts.svg import new_figure, to_svg
from core.charts.text import fit, one_line, text_width, thin, tick_label, wrap, y_ticks

INK, MUTED, GRID, FRAME, DIVIDER = "#1b1f24", "#404040", "#e6e6e6", "#bfbfbf", "#595959"
CLAMP = 1e300  # beyond this a value is drawn at the edge: matplotlib's transforms overflow near the largest double
Dash = tuple[float, ...]
SOLID: Dash = ()


@dataclass(frozen=True, kw_only=True)
class Marks:
    """Points of one kind — a series, or a class of points such as special causes — optionally joined."""

    name: str  # id suffix: "<uid>-<name>"
    label: str  # legend text; "" leaves it out of the legend
    x: Sequence[float]
    y: Sequence[float | None]  # None: no point, and the line breaks
    colour: str
    marker: str = "o"  # matplotlib marker: o s D ^ v, or "" for a line alone
    size: float = 7.0  # marker diameter, points
    hollow: bool = False  # white fill: e.g. points left out of the calculation
    join: bool = False
    breaks: Collection[int] = ()  # never join point i-1 to point i
    line_width: float = 1.5
    legend_line: bool | None = None  # the legend sample shows a line (default: when joined)
    tips: Sequence[str] = ()  # hover text, one per point drawn (those with a value; every pinned one), in order
    pin: Literal["top", "bottom"] | None = None  # drawn at the plot's edge, e.g. a meter's HI / LO


@dataclass(frozen=True, kw_only=True)
class Steps:
    """A line drawn as a step per point (±half a period), so limits that vary with each denominator read right."""

    name: str
    label: str
    x: Sequence[float]
    y: Sequence[float | None]
    colour: str
    dash: Dash = (5, 3)
    half_width: float = 0.5


@dataclass(frozen=True, kw_only=True)
class HLine:
    name: str
    label: str  # lines sharing a label share one legend entry
    y: float
    colour: str
    dash: Dash = SOLID
    start: float | None = None  # default: across the whole plot
    stop: float | None = None
    width: float = 1.5


@dataclass(frozen=True, kw_only=True)
class Band:
    name: str
    label: str
    low: float
    high: float
    fill: str = "#dcefdc"
    edge: str = "#3f7f3f"


@dataclass(frozen=True, kw_only=True)
class Divider:
    """A new phase from `at` on (a vertical dashed line unless at the start), named above the plot."""

    name: str
    at: float
    label: str = ""


@dataclass(frozen=True, kw_only=True)
class Chart:
    uid: str
    title: str
    description: str  # for screen readers: what the chart shows and what it found
    x_range: tuple[float, float]
    x_ticks: Sequence[tuple[float, str]] = ()  # thinned to fit
    x_label: str = ""
    y_label: str = ""
    y_range: tuple[float, float] | None = None  # fixed scale; default fits everything drawn
    marks: Sequence[Marks] = ()
    steps: Sequence[Steps] = ()
    lines: Sequence[HLine] = ()
    bands: Sequence[Band] = ()
    dividers: Sequence[Divider] = ()
    note: str = ""  # under the legend, e.g. which rules fired
    width: float = 720.0
    plot_height: float = 260.0
    font_size: float = 12.0
    compact: bool = False  # for cards: no drawn title, legend or axis labels; two y ticks; first/last x tick
    zero_line: bool = False  # a dark line at 0 (e.g. NPS, which runs −100..100)


def y_limits(chart: Chart) -> tuple[float, float]:
    """The y scale: fixed, or everything drawn plus a margin."""
    if chart.y_range is not None:
        return chart.y_range
    found = [v for m in chart.marks if m.pin is None for v in m.y if v is not None and math.isfinite(v)]
    found += [v for s in chart.steps for v in s.y if v is not None and math.isfinite(v)]
    found += [ln.y for ln in chart.lines if math.isfinite(ln.y)]
    found += [v for b in chart.bands for v in (b.low, b.high)]
    found = [max(-CLAMP, min(CLAMP, v)) for v in found]
    if not found:
        return 0.0, 1.0
    lo, hi = min(found), max(found)
    pad = (hi - lo) * 0.08 or abs(lo) * 0.1 or 1.0
    return lo - pad, hi + pad


def x_ticks_shown(chart: Chart, plot_w: float) -> list[tuple[float, str]]:
    ticks = list(chart.x_ticks)
    if chart.compact and len(ticks) > 2:  # a card has room for the first and last only
        ticks = [ticks[0], ticks[-1]]
    return thin(ticks, chart.font_size, plot_w, chart.x_range[1] - chart.x_range[0])


def render(chart: Chart) -> str:
    """The chart as accessible SVG markup."""
    f = chart.font_size
    lo, hi = y_limits(chart)
    if not hi > lo:
        lo, hi = lo - 1, hi + 1
    ticks = y_ticks(lo, hi, chart.compact)
    tick_texts = [tick_label(v, ticks) for v in ticks]
    left = max([text_width(t, f) for t in tick_texts] + [f]) + (10 if chart.compact else 14)
    right = 8.0 if chart.compact else 16.0
    plot_w = max(chart.width - left - right, 40.0)
    if not chart.compact:  # widen a margin so the first or last x label fits centred under its tick
        x0, x1 = chart.x_range
        shown = x_ticks_shown(chart, plot_w)
        if shown and x1 > x0:
            cap, scale = chart.width * 0.2, plot_w / (x1 - x0)
            (first, first_text), (last, last_text) = shown[0], shown[-1]
            left = max(left, min(cap, text_width(one_line(first_text), f) / 2 - (first - x0) * scale + 6))
            right = max(right, min(cap, text_width(one_line(last_text), f) / 2 - (x1 - last) * scale + 6))
            plot_w = max(chart.width - left - right, 40.0)
    room = chart.width - 16
    title = [] if chart.compact else wrap(chart.title, f + 2, room)
    legend = [] if chart.compact else _legend_rows(_legend_entries(chart), f, room)
    note = [] if chart.compact else wrap(chart.note, f, room)
    line_h = f * 1.45
    top = 6 + len(title) * (f + 2) * 1.4 + (line_h if any(d.label for d in chart.dividers) else 0)
    top += line_h if chart.y_label and not chart.compact else 0
    top = max(top, 8.0) + (0 if chart.compact else f * 0.5)  # room for the top tick's label
    below = f * 1.9 + (line_h if chart.x_label and not chart.compact else 0)
    legend_h = len(legend) * f * 1.9 + len(note) * line_h + (6 if legend or note else 0)
    height = top + chart.plot_height + below + legend_h + (4 if chart.compact else 8)
    fig = new_figure(chart.width, height)
    ax = fig.add_axes((left / chart.width, 1 - (top + chart.plot_height) / height, plot_w / chart.width,
                       chart.plot_height / height))
    ax.set_xlim(*chart.x_range)
    ax.set_ylim(lo, hi)
    _axes(ax, chart, ticks, tick_texts, (left, plot_w, right))
    for band in chart.bands:
        ax.axhspan(band.low, band.high, facecolor=band.fill, edgecolor=band.edge, linewidth=0.5, zorder=0.5,
                   gid=f"{chart.uid}-{band.name}")
    _dividers(ax, chart, plot_w)
    for steps in chart.steps:
        _steps(ax, chart, steps)
    for line in chart.lines:
        _hline(ax, chart, line)
    tips = {f"{chart.uid}-{m.name}": m.tips for m in chart.marks if _marks(ax, chart, m) and m.tips}
    for k, row_text in enumerate(title):
        fig.text(8 / chart.width, 1 - (8 + (f + 2) * (1 + 1.4 * k)) / height, row_text, fontsize=f + 2,
                 fontweight="bold", color=INK, gid=None if k else f"{chart.uid}-heading")
    if chart.y_label and not chart.compact:
        above = line_h if any(d.label for d in chart.dividers) else 0  # the phase names take the row below
        fig.text(8 / chart.width, 1 - (top - 6 - above) / height, fit(chart.y_label, f, room), fontsize=f, color=MUTED,
                 gid=f"{chart.uid}-y-label")
    y = top + chart.plot_height + f * 1.9
    if chart.x_label and not chart.compact:
        fig.text((left + plot_w / 2) / chart.width, 1 - (y + f * 0.9) / height, fit(chart.x_label, f, room),
                 fontsize=f, color=INK, ha="center", gid=f"{chart.uid}-x-label")
        y += line_h
    y += 6
    _legend(fig, chart, legend, y, height)
    y += f * 1.9 * len(legend)
    for n, text in enumerate(note):
        fig.text(8 / chart.width, 1 - (y + f) / height, text, fontsize=f, color=MUTED,
                 gid=f"{chart.uid}-note" if n == 0 else None)
        y += line_h
    return to_svg(fig, uid=chart.uid, title=chart.title, description=chart.description, tips=tips)


def _axes(ax: Any, chart: Chart, ticks: list[float], tick_texts: list[str], frame: tuple[float, float, float]) -> None:
    """Frame, grid and tick labels. Ticks are drawn as plain lines and texts: matplotlib's tick objects cost
    more than the rest of a chart together, and reports draw many charts."""
    f = chart.font_size
    left, plot_w, right = frame
    ax.set_facecolor("none")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color(FRAME)
        spine.set_linewidth(0.8)
    points = ax.figure.dpi_scale_trans
    along_y = blended_transform_factory(ax.transAxes, ax.transData)
    ax.hlines(ticks, 0, 1, transform=along_y, colors=GRID, linewidth=0.8, zorder=0.6, gid=f"{chart.uid}-grid")
    for v, text in zip(ticks, tick_texts, strict=True):
        ax.text(0, v, text, transform=along_y + ScaledTranslation(-5 / 72, 0, points), ha="right",
                va="center_baseline", fontsize=f, color=MUTED, clip_on=False)
    x0, x1 = chart.x_range
    shown = x_ticks_shown(chart, plot_w)
    along_x = blended_transform_factory(ax.transData, ax.transAxes)
    if shown and not chart.compact:
        ax.plot([x for x, _ in shown], [0] * len(shown), linestyle="none", marker=TICKDOWN, markersize=4,
                color=FRAME, transform=along_x, clip_on=False, gid=f"{chart.uid}-x-ticks")
    below = along_x + ScaledTranslation(0, -(3 if chart.compact else 7) / 72, points)
    for k, (x, text) in enumerate(shown):
        # A label at either end that would run off the figure is aligned to its tick instead of centred on it.
        at = (x - x0) / (x1 - x0) * plot_w
        half = text_width(one_line(text), f) / 2
        align = "center"
        if (chart.compact and k == 0) or half > left + at - 2:
            align = "left"
        elif (chart.compact and k == len(shown) - 1) or half > plot_w - at + right - 2:
            align = "right"
        ax.text(x, 0, one_line(text), transform=below, ha=align, va="top", fontsize=f, color=MUTED, clip_on=False)
    if chart.zero_line and ticks and ax.get_ylim()[0] < 0 < ax.get_ylim()[1]:
        ax.axhline(0, color=INK, linewidth=1, zorder=0.7, gid=f"{chart.uid}-zero")


def _dividers(ax: Any, chart: Chart, plot_w: float) -> None:
    x0, x1 = chart.x_range
    starts = sorted(d.at for d in chart.dividers) + [x1]
    for d in chart.dividers:
        if d.at > x0:
            ax.axvline(d.at, color=DIVIDER, linewidth=1, linestyle=(0, (2, 3)), zorder=1.5,
                       gid=f"{chart.uid}-{d.name}")
        if d.label:
            following = min((s for s in starts if s > d.at), default=x1)
            room = (following - max(d.at, x0)) / (x1 - x0) * plot_w - 8
            ax.annotate(fit(d.label, chart.font_size, max(room, chart.font_size * 2)), xy=(max(d.at, x0), 1),
                        xycoords=("data", "axes fraction"), xytext=(4, 5), textcoords="offset points",
                        fontsize=chart.font_size, color=MUTED, va="bottom", ha="left",
                        gid=f"{chart.uid}-{d.name}-label", annotation_clip=False)


def _clamp(v: float) -> float:
    return max(-CLAMP, min(CLAMP, v))


def _steps(ax: Any, chart: Chart, steps: Steps) -> None:
    xs: list[float] = []
    ys: list[float] = []
    for x, v in zip(steps.x, steps.y, strict=True):
        if v is None or not math.isfinite(v):
            xs.append(math.nan)
            ys.append(math.nan)
            continue
        xs += [x - steps.half_width, x + steps.half_width]
        ys += [_clamp(v), _clamp(v)]
    if any(not math.isnan(v) for v in ys):
        ax.plot(xs, ys, color=steps.colour, linewidth=1.2, linestyle=(0, steps.dash) if steps.dash else "-",
                zorder=2, gid=f"{chart.uid}-{steps.name}")


def _hline(ax: Any, chart: Chart, line: HLine) -> None:
    if not math.isfinite(line.y):
        return
    style = (0, line.dash) if line.dash else "-"
    x0, x1 = chart.x_range
    start = x0 if line.start is None else line.start
    stop = x1 if line.stop is None else line.stop
    ax.plot([start, stop], [_clamp(line.y)] * 2, color=line.colour, linewidth=line.width, linestyle=style,
            zorder=2.5, gid=f"{chart.uid}-{line.name}")


def _marks(ax: Any, chart: Chart, marks: Marks) -> list[int]:
    """Draw the points (and their line); the indexes of the points drawn, in order."""
    x0, x1 = chart.x_range
    xs = [min(max(x, x0), x1) for x in marks.x]
    shown = [i for i, v in enumerate(marks.y) if marks.pin is not None or (v is not None and math.isfinite(v))]
    ys = [0.0 if v is None or not math.isfinite(v) else _clamp(v) for v in marks.y]
    if marks.join:
        line_x: list[float] = []
        line_y: list[float] = []
        present = set(shown)
        for i in shown:
            if line_x and (i in marks.breaks or i - 1 not in present):
                line_x.append(math.nan)
                line_y.append(math.nan)
            line_x.append(xs[i])
            line_y.append(ys[i])
        ax.plot(line_x, line_y, color=marks.colour, linewidth=marks.line_width, zorder=3,
                gid=f"{chart.uid}-{marks.name}-line")
    if not marks.marker or not shown:
        return []
    px = [xs[i] for i in shown]
    if marks.pin is not None:
        where = 0.94 if marks.pin == "top" else 0.06
        ax.plot(px, [where] * len(px), linestyle="none", marker=marks.marker, markersize=marks.size,
                color=marks.colour, markeredgecolor="#ffffff", markeredgewidth=0.6, zorder=4, clip_on=False,
                transform=blended_transform_factory(ax.transData, ax.transAxes), gid=f"{chart.uid}-{marks.name}")
        return shown
    ax.plot(px, [ys[i] for i in shown], linestyle="none", marker=marks.marker, markersize=marks.size,
            markerfacecolor="#ffffff" if marks.hollow else marks.colour,
            markeredgecolor=marks.colour if marks.hollow else "#ffffff",
            markeredgewidth=1.5 if marks.hollow else 0.6, zorder=4, clip_on=False,  # a point on the frame stays whole
            gid=f"{chart.uid}-{marks.name}")
    return shown


Sample = tuple[Literal["line", "patch"], dict[str, Any]]  # how a legend entry's key is drawn


def _legend_entries(chart: Chart) -> list[tuple[Sample, str]]:
    """Legend keys and texts for what the chart actually shows (one entry per distinct text)."""
    entries: list[tuple[Sample, str]] = []
    for m in chart.marks:
        if m.label and (m.pin is not None and m.x or any(v is not None for v in m.y)):
            line = m.join if m.legend_line is None else m.legend_line
            entries.append((("line", {
                "color": m.colour, "linestyle": "-" if line else "none", "linewidth": m.line_width,
                "marker": m.marker or None, "markersize": min(m.size, 9),
                "markerfacecolor": "#ffffff" if m.hollow else m.colour,
                "markeredgecolor": m.colour if m.hollow else "#ffffff", "markeredgewidth": 1.5 if m.hollow else 0.6,
            }), m.label))
    for b in chart.bands:
        entries.append((("patch", {"facecolor": b.fill, "edgecolor": b.edge, "linewidth": 0.8}), b.label))
    for s in chart.steps:
        if any(v is not None for v in s.y):
            entries.append((("line", {"color": s.colour, "linewidth": 1.2,
                                      "linestyle": (0, s.dash) if s.dash else "-"}), s.label))
    for ln in chart.lines:
        entries.append((("line", {"color": ln.colour, "linewidth": ln.width,
                                  "linestyle": (0, ln.dash) if ln.dash else "-"}), ln.label))
    seen: set[str] = set()
    out = []
    for sample, text in entries:
        text = one_line(text)
        if text and text not in seen:
            seen.add(text)
            out.append((sample, text))
    return out


KEY, KEY_GAP, ENTRY_GAP = 22.0, 6.0, 1.4  # key width and gap after it (points); gap between entries (em)


def _legend_rows(entries: list[tuple[Sample, str]], size: float, room: float) -> list[list[tuple[Sample, str]]]:
    rows: list[list[tuple[Sample, str]]] = [[]]
    used = 0.0
    for sample, text in entries:
        text = fit(text, size, room - KEY - KEY_GAP - size)
        w = KEY + KEY_GAP + text_width(text, size) + ENTRY_GAP * size
        if rows[-1] and used + w > room:
            rows.append([])
            used = 0.0
        rows[-1].append((sample, text))
        used += w
    return [r for r in rows if r]


def _legend(fig: Any, chart: Chart, rows: list[list[tuple[Sample, str]]], top: float, height: float) -> None:
    """The legend, drawn as plain keys and texts (matplotlib's Legend copies every key: slow for many charts);
    entry k is "<uid>-legend-<k>" with its key "<uid>-legend-<k>-key"."""
    f, width = chart.font_size, chart.width
    n = 0
    for row in rows:
        y = 1 - (top + f * 0.8) / height
        x = 8.0
        for (kind, style), text in row:
            n += 1
            gid = f"{chart.uid}-legend-{n}"
            if kind == "patch":
                fig.add_artist(Rectangle((x / width, y - 5 / height), KEY / width, 10 / height,
                                         transform=fig.transFigure, gid=f"{gid}-key", **style))
            else:
                fig.add_artist(Line2D([x / width, (x + KEY / 2) / width, (x + KEY) / width], [y] * 3, markevery=[1],
                                      transform=fig.transFigure, gid=f"{gid}-key", **style))
            fig.text((x + KEY + KEY_GAP) / width, y, text, va="center_baseline", fontsize=f, color=INK, gid=gid)
            x += KEY + KEY_GAP + text_width(text, f) + ENTRY_GAP * f
        top += f * 1.9
