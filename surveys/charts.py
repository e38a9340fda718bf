"""Server-side SVG charts for the results page: a line over periods (NPS, top box) and horizontal bars
(per dimension). Accessible (role="img", title and description) and every label escaped; callers pass
texts already translated, and the page repeats the numbers in a table."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

FONT = "'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',Arial,sans-serif"
INK, MUTED, GRID, TOP, BOTTOM, LINE = "#1b1f24", "#5a6470", "#e3e7ec", "#1e7b34", "#b3261e", "#0b5cad"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _t(text: str) -> str:
    return escape(_NOT_XML.sub("", text), {'"': "&quot;"})


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _uid(prefix: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "", prefix) or "chart"


TITLE_SPACE = 30.0  # the visible title above the plot


def _open(uid: str, width: int, height: int, title: str, description: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-labelledby="{uid}-title {uid}-desc" font-family="{FONT}" font-size="13">',
        f'<title id="{uid}-title">{_t(title)}</title>',
        f'<desc id="{uid}-desc">{_t(description)}</desc>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="8" y="20" font-size="15" font-weight="bold" fill="{INK}">{_t(title)}</text>',
    ]


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: no data in that period (a gap, not a zero)
    colour: str = LINE


def line_chart(*, title: str, description: str, labels: Sequence[str], series: Sequence[Series],
               y_min: float, y_max: float, id_prefix: str = "line", width: int = 720) -> str:
    """Lines over periods on a fixed scale (−100..100 for NPS, 0..100 for percentages)."""
    uid = _uid(id_prefix)
    left, top, plot_w, plot_h = 52.0, 16.0 + TITLE_SPACE, width - 72.0, 220.0
    legend_y = top + plot_h + 48
    height = int(legend_y + 12)
    n = max(len(labels), 1)
    step = plot_w / n

    def x(i: int) -> float:
        return left + step * (i + 0.5)

    def y(v: float) -> float:
        return top + (y_max - v) / (y_max - y_min) * plot_h

    out = _open(uid, width, height, title, description)
    span = y_max - y_min
    for k in range(5):
        v = y_min + span * k / 4
        out.append(f'<line x1="{_n(left)}" x2="{_n(left + plot_w)}" y1="{_n(y(v))}" y2="{_n(y(v))}" '
                   f'stroke="{INK if v == 0 and y_min < 0 else GRID}" stroke-width="1"/>')
        out.append(f'<text x="{_n(left - 6)}" y="{_n(y(v) + 4)}" text-anchor="end" fill="{MUTED}">{_n(v)}</text>')
    every = max(1, -(-n // 12))  # at most about 12 period labels fit on a phone
    for i, label in enumerate(labels):
        if i % every == 0:
            out.append(f'<text x="{_n(x(i))}" y="{_n(top + plot_h + 18)}" text-anchor="middle" '
                       f'fill="{MUTED}">{_t(label)}</text>')
    for s_index, s in enumerate(series):
        runs: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(s.values):
            if v is None:
                runs.append([])
                continue
            runs[-1].append((x(i), y(max(y_min, min(y_max, v)))))
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{_n(px)},{_n(py)}" for px, py in run)
                out.append(f'<polyline points="{points}" fill="none" stroke="{s.colour}" stroke-width="2.5"/>')
            for px, py in run:
                out.append(f'<circle cx="{_n(px)}" cy="{_n(py)}" r="4" fill="{s.colour}"/>')
        lx = left + s_index * 220
        out.append(f'<rect x="{_n(lx)}" y="{_n(legend_y - 10)}" width="14" height="4" fill="{s.colour}"/>')
        out.append(f'<text x="{_n(lx + 20)}" y="{_n(legend_y - 4)}" fill="{INK}">{_t(s.name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


@dataclass(frozen=True)
class Bar:
    label: str
    top: float | None  # top-box %
    bottom: float | None  # bottom-box %
    n: int


def box_bars(*, title: str, description: str, bars: Sequence[Bar], top_name: str, bottom_name: str,
             n_name: str, id_prefix: str = "bars", width: int = 720) -> str:
    """Two bars per row (top box, bottom box) on 0–100 %, with each row's number of answers."""
    uid = _uid(id_prefix)
    left, right_pad, row_h = 150.0, 60.0, 46.0
    plot_w = width - left - right_pad
    top = 10.0 + TITLE_SPACE
    height = int(top + row_h * len(bars) + 40)
    out = _open(uid, width, height, title, description)
    for k in range(5):
        gx = left + plot_w * k / 4
        out.append(f'<line x1="{_n(gx)}" x2="{_n(gx)}" y1="{_n(top)}" y2="{_n(top + row_h * len(bars))}" '
                   f'stroke="{GRID}"/>')
        out.append(f'<text x="{_n(gx)}" y="{_n(top + row_h * len(bars) + 16)}" text-anchor="middle" '
                   f'fill="{MUTED}">{25 * k}%</text>')
    for i, bar in enumerate(bars):
        y0 = top + row_h * i
        out.append(f'<text x="{_n(left - 8)}" y="{_n(y0 + 18)}" text-anchor="end" fill="{INK}">{_t(bar.label)}</text>')
        out.append(f'<text x="{_n(left - 8)}" y="{_n(y0 + 34)}" text-anchor="end" fill="{MUTED}" font-size="11">'
                   f'{_t(n_name)} {bar.n}</text>')
        for j, (value, colour) in enumerate(((bar.top, TOP), (bar.bottom, BOTTOM))):
            by = y0 + 6 + j * 17
            w = plot_w * (value or 0) / 100
            out.append(f'<rect x="{_n(left)}" y="{_n(by)}" width="{_n(w)}" height="14" fill="{colour}"/>')
            shown = "–" if value is None else f"{value:.0f}%"
            out.append(f'<text x="{_n(left + w + 4)}" y="{_n(by + 11)}" fill="{INK}" font-size="11">{shown}</text>')
    ly = top + row_h * len(bars) + 32
    for j, (name, colour) in enumerate(((top_name, TOP), (bottom_name, BOTTOM))):
        lx = left + j * 200
        out.append(f'<rect x="{_n(lx)}" y="{_n(ly - 9)}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{_n(lx + 18)}" y="{_n(ly + 1)}" fill="{INK}">{_t(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)
