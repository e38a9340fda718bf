"""Time-series charts of a patient's readings, in the platform's chart style (core.charts, matplotlib).

Every visible word is passed in, so callers translate it. Time runs left to right on a real time axis
(readings are irregular), ticks at the patient's local midnights; series differ by marker shape as well as
colour, for colour-blind readers. Ids inside the SVG: "<id_prefix>-series-<k>" (points, with a tooltip
each) and "-series-<k>-line", "-band-<k>", "-line-<k>", "-flags-<k>" (a meter's HI/LO at the plot's edge).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

from core.charts import Band as CoreBand
from core.charts import Chart, HLine, Marks, render, uid_of
from followup.enums import MeterFlag

BAND_FILL, BAND_EDGE, LIMIT = "#dcefdc", "#3f7f3f", "#8a5a00"
# Okabe-Ito colours, darkened where needed for 3:1 contrast on white.
BLUE, VERMILION, PURPLE, GREEN = "#0067a5", "#c44e00", "#7a3b8f", "#00785a"
Marker = Literal["circle", "square", "diamond"]
MARKERS = {"circle": "o", "square": "s", "diamond": "D"}
FLAGGED = "#595959"


@dataclass(frozen=True)
class ChartPoint:
    at: datetime
    value: float | None = None  # None when the meter showed a flag instead of a number
    tip: str = ""  # tooltip, e.g. "20/11 07:30 — 7.2 mmol/L (fasting)"
    flag: MeterFlag | None = None  # HI/LO: drawn at the top/bottom edge, off the scale


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[ChartPoint]
    colour: str
    marker: Marker = "circle"
    connect: bool = True  # join points in time order; off for values of mixed timing


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    label: str


@dataclass(frozen=True)
class RefLine:
    value: float
    label: str  # legend text; lines sharing a label share one legend entry


@dataclass(frozen=True, kw_only=True)
class ChartTexts:
    title: str
    description: str  # for screen readers: what the chart shows and what it found
    unit: str = ""  # y-axis label
    flagged: str = ""  # legend for HI/LO markers, shown only when there are some


@dataclass(frozen=True)
class TimeWindow:
    """The period shown, and how to name a day on the axis in the reader's language."""

    start: datetime
    end: datetime
    tz: tzinfo
    day_label: Callable[[date], str] = lambda d: f"{d.month}/{d.day}"


def render_chart(
    *, series: Sequence[Series], texts: ChartTexts, window: TimeWindow, bands: Sequence[Band] = (),
    lines: Sequence[RefLine] = (), compact: bool = False, width: int | None = None, plot_height: int | None = None,
    gap: timedelta = timedelta(days=3), id_prefix: str = "readings",
) -> str:
    """SVG markup for readings over `window`. `compact` is the small variant for callback cards: no drawn
    title, no legend, two y ticks; `gap` breaks a line where readings are further apart than that."""
    if window.end <= window.start:
        raise ValueError("the window must end after it starts")
    span = window.end - window.start

    def x(at: datetime) -> float:  # days since the window's start
        return (at - window.start) / timedelta(days=1)

    marks: list[Marks] = []
    for k, s in enumerate(series, start=1):
        points = sorted(s.points, key=lambda p: p.at)
        valued = [p for p in points if p.flag is None]
        breaks = {i for i in range(1, len(valued)) if valued[i].at - valued[i - 1].at > gap}
        marks.append(Marks(
            name=f"series-{k}", label=s.label, x=[x(p.at) for p in valued], y=[p.value for p in valued],
            colour=s.colour, marker=MARKERS[s.marker], size=6 if compact else 8, join=s.connect, breaks=breaks,
            tips=[p.tip for p in valued if p.value is not None],
        ))
        for flag, pin, marker in ((MeterFlag.hi, "top", "^"), (MeterFlag.lo, "bottom", "v")):
            flagged = [p for p in points if p.flag == flag]
            if flagged:
                marks.append(Marks(name=f"flags-{k}-{flag.value}", label=texts.flagged, x=[x(p.at) for p in flagged],
                                   y=[None] * len(flagged), colour=FLAGGED, marker=marker, size=11, pin=pin,  # type: ignore[arg-type]
                                   tips=[p.tip for p in flagged]))
    days = _day_ticks(window)
    return render(Chart(
        uid=uid_of(id_prefix, "readings"), title=texts.title, description=texts.description,
        x_range=(0.0, span / timedelta(days=1)), x_ticks=[(x(at), window.day_label(day)) for day, at in days],
        y_label=texts.unit, marks=marks,
        bands=[CoreBand(name=f"band-{k}", label=b.label, low=min(b.low, b.high), high=max(b.low, b.high),
                        fill=BAND_FILL, edge=BAND_EDGE) for k, b in enumerate(bands, start=1)],
        lines=[HLine(name=f"line-{k}", label=ln.label, y=ln.value, colour=LIMIT, dash=(6, 4))
               for k, ln in enumerate(lines, start=1)],
        width=width or (320 if compact else 440), plot_height=plot_height or (72 if compact else 220),
        # A 440-unit viewBox on a 340 px phone card keeps 15-unit text near 12 px; wider screens scale it up.
        font_size=11 if compact else 15, compact=compact,
    ))


def _day_ticks(window: TimeWindow) -> list[tuple[date, datetime]]:
    """Local midnights inside the window (the first day's start if none), as (day, instant)."""
    first = window.start.astimezone(window.tz).date()
    last = window.end.astimezone(window.tz).date()
    out = []
    for k in range((last - first).days + 2):
        day = first + timedelta(days=k)
        at = datetime.combine(day, time(0), tzinfo=window.tz)
        if window.start <= at <= window.end:
            out.append((day, at))
    return out or [(first, window.start)]
