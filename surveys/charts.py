"""Charts for the results page, in the platform's chart style (core.charts): a line over periods (NPS, top box)
and paired bars per dimension. Callers pass texts already translated; the page repeats the numbers in a table.
Ids inside the SVG: "<id_prefix>-series-<k>" (points, with tooltips), "-series-<k>-line", "-zero", "-bars-1/2"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.charts import BarRow, Chart, Marks, percent_bars, render, uid_of

TOP, BOTTOM, LINE = "#1e7b34", "#b3261e", "#0b5cad"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: no data in that period (a gap, not a zero)
    colour: str = LINE


def line_chart(*, title: str, description: str, labels: Sequence[str], series: Sequence[Series],
               y_min: float, y_max: float, id_prefix: str = "line", width: int = 720) -> str:
    """Lines over periods on a fixed scale (−100..100 for NPS, 0..100 for percentages)."""
    xs = [float(i) for i in range(len(labels))]
    marks = [
        Marks(name=f"series-{k}", label=s.name, x=xs, y=[_within(v, y_min, y_max) for v in s.values],
              colour=s.colour, size=8, join=True, line_width=2.5,
              tips=[f"{label}: {v:.0f}" for label, v in zip(labels, s.values, strict=False) if v is not None])
        for k, s in enumerate(series, start=1)
    ]
    return render(Chart(
        uid=uid_of(id_prefix), title=title, description=description, x_range=(-0.5, max(len(labels), 1) - 0.5),
        x_ticks=[(x, label) for x, label in zip(xs, labels, strict=True)], y_range=(y_min, y_max), marks=marks,
        zero_line=y_min < 0, width=width, plot_height=220, font_size=13,
    ))


def _within(v: float | None, lo: float, hi: float) -> float | None:
    return None if v is None else max(lo, min(hi, v))


@dataclass(frozen=True)
class Bar:
    label: str
    top: float | None  # top-box %
    bottom: float | None  # bottom-box %
    n: int


def box_bars(*, title: str, description: str, bars: Sequence[Bar], top_name: str, bottom_name: str,
             n_name: str, id_prefix: str = "bars", width: int = 720) -> str:
    """Two bars per row (top box, bottom box) on 0–100 %, with each row's number of answers."""
    return percent_bars(
        uid=uid_of(id_prefix, "bars"), title=title, description=description,
        rows=[BarRow(b.label, (b.top, b.bottom), f"{n_name} {b.n}") for b in bars],
        names=(top_name, bottom_name), colours=(TOP, BOTTOM), width=width,
    )
