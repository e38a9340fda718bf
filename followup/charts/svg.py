"""Accessible SVG time-series charts (pure Python: plain values in, markup out).

Same house style as the quality charts: every visible word is passed in (so callers translate it) and
escaped, the SVG has a <title>/<desc>, a viewBox and width 100 %, so it scales on a phone and renders in
WeasyPrint PDFs. Time runs left to right on a real time axis (readings are irregular), ticks at the
patient's local midnights; series differ by marker shape as well as colour, for colour-blind readers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal
from xml.sax.saxutils import escape

from followup.enums import MeterFlag

FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',Arial,sans-serif"
GRID, FRAME, AXIS_TEXT = "#e6e6e6", "#bfbfbf", "#404040"
BAND_FILL, BAND_EDGE, LIMIT = "#dcefdc", "#3f7f3f", "#8a5a00"
# Okabe-Ito colours, darkened where needed for 3:1 contrast on white.
BLUE, VERMILION, PURPLE, GREEN = "#0067a5", "#c44e00", "#7a3b8f", "#00785a"
Marker = Literal["circle", "square", "diamond"]
LEGEND_ROW = 24
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


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
    width = width or (320 if compact else 440)
    plot_height = plot_height or (72 if compact else 220)
    uid = re.sub(r"[^A-Za-z0-9_-]", "", id_prefix) or "readings"
    # A 440-unit viewBox on a 340 px phone card keeps 15-unit text near 12 px; wider screens scale it up.
    font = 11 if compact else 15
    left, top = (36.0, 8.0) if compact else (48.0, 52.0)
    lo, hi = _y_range(series, bands, lines)
    frame = _Frame(left, top, width - left - (8 if compact else 16), float(plot_height), window, lo, hi)
    legend = [] if compact else _legend_rows(_legend_entries(series, bands, lines, texts), width - 2 * 8.0, font)
    legend_top = frame.bottom + (22 if compact else 50)
    height = _n(legend_top + LEGEND_ROW * len(legend) - (10 if compact or not legend else 0))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-labelledby="{uid}-title {uid}-desc" font-family="{FONT}" '
        f'font-size="{font}">',
        f'<title id="{uid}-title">{_t(texts.title)}</title>',
        f'<desc id="{uid}-desc">{_t(texts.description)}</desc>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    if not compact:
        out.append(f'<text x="8" y="22" font-size="{font + 2}" font-weight="bold">{_t(texts.title)}</text>')
    out += [_band(frame, b) for b in bands]
    out += _axes(frame, texts, compact, font)
    out += [_hline(frame, ln.value) for ln in lines]
    for s in series:
        out += _series(frame, s, gap, compact)
    out += _legend(legend, 8.0, legend_top)
    out.append("</svg>")
    return "\n".join(line for line in out if line)


@dataclass(frozen=True)
class _Frame:
    left: float
    top: float
    width: float
    height: float
    window: TimeWindow
    lo: float
    hi: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def x(self, at: datetime) -> float:
        span = (self.window.end - self.window.start).total_seconds()
        share = (at - self.window.start).total_seconds() / span
        return self.left + min(1.0, max(0.0, share)) * self.width

    def y(self, v: float) -> float:
        return self.top + (self.hi - v) / (self.hi - self.lo) * self.height


def _y_range(series: Sequence[Series], bands: Sequence[Band], lines: Sequence[RefLine]) -> tuple[float, float]:
    found = [p.value for s in series for p in s.points if p.value is not None and math.isfinite(p.value)]
    found += [v for b in bands for v in (b.low, b.high)] + [ln.value for ln in lines]
    if not found:
        return 0.0, 1.0
    lo, hi = min(found), max(found)
    pad = (hi - lo) * 0.08 or abs(lo) * 0.1 or 1.0
    return lo - pad, hi + pad


def _axes(frame: _Frame, texts: ChartTexts, compact: bool, font: int) -> list[str]:
    ticks = [frame.lo + (frame.hi - frame.lo) * f for f in (0.1, 0.9)] if compact else _ticks(frame.lo, frame.hi)
    out: list[str] = []
    for v in ticks:
        y = _n(frame.y(v))
        out.append(f'<line x1="{_n(frame.left)}" x2="{_n(frame.right)}" y1="{y}" y2="{y}" stroke="{GRID}"/>')
        out.append(f'<text x="{_n(frame.left - 5)}" y="{_n(frame.y(v) + 4)}" text-anchor="end" fill="{AXIS_TEXT}">'
                   f"{_fmt_tick(v, ticks)}</text>")
    out.append(f'<rect x="{_n(frame.left)}" y="{_n(frame.top)}" width="{_n(frame.width)}" '
               f'height="{_n(frame.height)}" fill="none" stroke="{FRAME}"/>')
    if texts.unit and not compact:
        out.append(f'<text x="{_n(8)}" y="{_n(frame.top - 10)}" fill="{AXIS_TEXT}">'
                   f"{_t(texts.unit)}</text>")
    days = _day_ticks(frame.window)
    if compact:  # first and last day only: a card has no room for more
        days = [days[0], days[-1]] if len(days) > 1 else days
    widest = max((_text_width(frame.window.day_label(d), font) for d, _ in days), default=0.0) + 12
    step = max(1, math.ceil(len(days) / max(1.0, frame.width // widest)))
    for i, (day, at) in enumerate(days):
        x = _n(frame.x(at))
        if not compact:
            out.append(f'<line x1="{x}" x2="{x}" y1="{_n(frame.bottom)}" y2="{_n(frame.bottom + 4)}" '
                       f'stroke="{FRAME}"/>')
        if i % step == 0 or compact:
            anchor = "start" if compact and i == 0 else "end" if compact else "middle"
            out.append(f'<text x="{x}" y="{_n(frame.bottom + font + 5)}" text-anchor="{anchor}" fill="{AXIS_TEXT}">'
                       f"{_t(frame.window.day_label(day))}</text>")
    return out


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


def _band(frame: _Frame, band: Band) -> str:
    top, bottom = frame.y(max(band.low, band.high)), frame.y(min(band.low, band.high))
    return (f'<rect x="{_n(frame.left)}" y="{_n(top)}" width="{_n(frame.width)}" height="{_n(bottom - top)}" '
            f'fill="{BAND_FILL}" stroke="{BAND_EDGE}" stroke-width="0.5"/>')


def _hline(frame: _Frame, value: float) -> str:
    y = _n(frame.y(value))
    return (f'<line x1="{_n(frame.left)}" x2="{_n(frame.right)}" y1="{y}" y2="{y}" stroke="{LIMIT}" '
            'stroke-width="1.5" stroke-dasharray="6 4"/>')


def _series(frame: _Frame, s: Series, gap: timedelta, compact: bool) -> list[str]:
    points = sorted(s.points, key=lambda p: p.at)
    out: list[str] = []
    if s.connect:
        run: list[ChartPoint] = []
        for p in [*points, None]:
            if p is None or p.value is None or (run and p.at - run[-1].at > gap):
                if len(run) > 1:
                    coords = " ".join(f"{_n(frame.x(q.at))},{_n(frame.y(q.value or 0))}" for q in run)
                    out.append(f'<polyline points="{coords}" fill="none" stroke="{s.colour}" stroke-width="1.5"/>')
                run = [p] if p is not None and p.value is not None else []
            else:
                run.append(p)
    size = 3.0 if compact else 4.0
    for p in points:
        x = frame.x(p.at)
        tip = f"<title>{_t(p.tip)}</title>" if p.tip else ""
        if p.flag is not None:  # off the meter's scale: a triangle at the edge, pointing off the chart
            up = p.flag == MeterFlag.hi
            y, d = (frame.top + 7, -1) if up else (frame.bottom - 7, 1)
            shape = (f'<path d="M{_n(x)},{_n(y + d * 6)}L{_n(x - 6)},{_n(y - d * 5)}L{_n(x + 6)},{_n(y - d * 5)}Z" '
                     f'fill="{s.colour}">{tip}</path>')
        elif p.value is not None:
            shape = _marker(s.marker, x, frame.y(p.value), size, s.colour, tip)
        else:
            continue
        out.append(shape)
    return out


def _marker(kind: Marker, x: float, y: float, r: float, colour: str, inner: str = "") -> str:
    if kind == "square":
        return (f'<rect x="{_n(x - r)}" y="{_n(y - r)}" width="{_n(2 * r)}" height="{_n(2 * r)}" fill="{colour}" '
                f'stroke="#ffffff" stroke-width="0.8">{inner}</rect>')
    if kind == "diamond":
        s = r * 1.3
        return (f'<path d="M{_n(x)},{_n(y - s)}L{_n(x + s)},{_n(y)}L{_n(x)},{_n(y + s)}L{_n(x - s)},{_n(y)}Z" '
                f'fill="{colour}" stroke="#ffffff" stroke-width="0.8">{inner}</path>')
    return (f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{colour}" stroke="#ffffff" stroke-width="0.8">'
            f"{inner}</circle>")


Swatch = Callable[[float, float], str]  # (left, middle y) → markup of a 22 px wide legend sample


def _legend_entries(series: Sequence[Series], bands: Sequence[Band], lines: Sequence[RefLine],
                    texts: ChartTexts) -> list[tuple[Swatch, str]]:
    """Legend samples and texts for what the chart actually shows."""
    entries: list[tuple[Swatch, str]] = []
    for s in series:
        if any(p.value is not None for p in s.points):
            entries.append((_series_swatch(s), s.label))
    for b in bands:
        entries.append((lambda x, y: f'<rect x="{_n(x)}" y="{_n(y - 5)}" width="22" height="10" fill="{BAND_FILL}" '
                                     f'stroke="{BAND_EDGE}"/>', b.label))
    for label in dict.fromkeys(ln.label for ln in lines):
        entries.append((lambda x, y: f'<line x1="{_n(x)}" x2="{_n(x + 22)}" y1="{_n(y)}" y2="{_n(y)}" stroke="{LIMIT}" '
                                     'stroke-width="1.5" stroke-dasharray="6 4"/>', label))
    if texts.flagged and any(p.flag is not None for s in series for p in s.points):
        entries.append((lambda x, y: f'<path d="M{_n(x + 11)},{_n(y - 6)}L{_n(x + 17)},{_n(y + 5)}L{_n(x + 5)},'
                                     f'{_n(y + 5)}Z" fill="#595959"/>', texts.flagged))
    return [(swatch, text) for swatch, text in entries if text]


def _series_swatch(s: Series) -> Swatch:
    def draw(x: float, y: float) -> str:
        line = (f'<line x1="{_n(x)}" x2="{_n(x + 22)}" y1="{_n(y)}" y2="{_n(y)}" stroke="{s.colour}" '
                'stroke-width="1.5"/>') if s.connect else ""
        return line + _marker(s.marker, x + 11, y, 4.5, s.colour)

    return draw


def _legend_rows(entries: list[tuple[Swatch, str]], available: float,
                 font: int) -> list[list[tuple[Swatch, str, float]]]:
    rows: list[list[tuple[Swatch, str, float]]] = [[]]
    used = 0.0
    for swatch, text in entries:
        w = 30 + _text_width(text, font) + 16
        if rows[-1] and used + w > available:
            rows.append([])
            used = 0.0
        rows[-1].append((swatch, text, w))
        used += w
    return [r for r in rows if r]


def _legend(rows: list[list[tuple[Swatch, str, float]]], left: float, top: float) -> list[str]:
    out: list[str] = []
    ly = top
    for row in rows:
        lx = left
        for swatch, text, w in row:
            out.append(swatch(lx, ly - 4))
            out.append(f'<text x="{_n(lx + 28)}" y="{_n(ly)}">{_t(text)}</text>')
            lx += w
        ly += LEGEND_ROW
    return out


# --- helpers ------------------------------------------------------------------------------------------


def _ticks(lo: float, hi: float) -> list[float]:
    raw = (hi - lo) / 4.5
    if not raw > 0 or not math.isfinite(raw):
        return [lo, hi]
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step)
    return [k * step for k in range(first, first + 12) if k * step <= hi]


def _fmt_tick(v: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(v) or 1.0
    decimals = 0 if step >= 1 else min(3, -math.floor(math.log10(step)))
    return f"{v:.{decimals}f}"


def _n(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _t(text: str) -> str:
    # Strip characters XML 1.0 forbids, then escape: labels can come from users (names, clinic settings).
    return escape(_NOT_XML.sub("", text))


def _text_width(text: str, font: int) -> float:
    # Wide (CJK) characters take about a full em; others about 0.58 em.
    return float(sum(font if ord(ch) > 0x2E7F else font * 0.58 for ch in text))
