"""The other chart shapes in the platform's visual language: paired horizontal bars on a 0–100 % scale, and the
sparkline a board card shows beside its measure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.patches import Patch

from core.charts.plot import DIVIDER, FRAME, GRID, INK, MUTED
from core.charts.svg import new_figure, to_svg
from core.charts.text import fit, one_line, text_width, wrap


@dataclass(frozen=True)
class BarRow:
    label: str
    values: Sequence[float | None]  # one per bar kind, in %; None: no answers (drawn as "–")
    note: str = ""  # under the label, e.g. "Answers 42"


def percent_bars(
    *, uid: str, title: str, description: str, rows: Sequence[BarRow], names: Sequence[str], colours: Sequence[str],
    width: float = 720.0, font_size: float = 13.0,
) -> str:
    """Per row, one horizontal bar per kind (`names`, `colours`) on 0–100 %, each with its value written after it."""
    f = font_size
    label_w = min(max([text_width(one_line(r.label), f) for r in rows] + [f * 4]) + 12, width * 0.35)
    left, right = label_w + 8, 48.0
    plot_w = width - left - right
    title_lines = wrap(title, f + 2, width - 16)
    top = 8 + len(title_lines) * (f + 2) * 1.4 + 6
    row_h = max(2.0 * f, 17.0 * len(names) + 12)
    plot_h = row_h * max(len(rows), 1)
    height = top + plot_h + f * 1.8 + f * 2.2 + 8
    fig = new_figure(width, height)
    ax = fig.add_axes((left / width, 1 - (top + plot_h) / height, plot_w / width, plot_h / height))
    ax.set_xlim(0, 100)
    ax.set_ylim(len(rows) or 1, 0)
    ax.set_facecolor("none")
    for side, spine in ax.spines.items():
        spine.set_visible(side == "bottom")
        spine.set_color(FRAME)
    ax.set_xticks([0, 25, 50, 75, 100], labels=[f"{k}%" for k in (0, 25, 50, 75, 100)])
    ax.tick_params(axis="x", length=0, labelsize=f - 1, labelcolor=MUTED)
    ax.set_yticks([])
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    thickness = 0.8 / max(len(names), 1)
    for k, (name, colour) in enumerate(zip(names, colours, strict=True)):
        ys = [i + 0.1 + thickness * (k + 0.5) for i in range(len(rows))]
        values = [r.values[k] if k < len(r.values) else None for r in rows]
        ax.barh(ys, [0 if v is None or not math.isfinite(v) else max(0, min(100, v)) for v in values],
                height=thickness * 0.9, color=colour, gid=f"{uid}-bars-{k + 1}", label=name)
        for y, v in zip(ys, values, strict=True):
            shown = "–" if v is None or not math.isfinite(v) else f"{v:.0f}%"
            ax.text(max(0, min(100, v or 0)) + 1, y, shown, fontsize=f - 2, color=INK, va="center",
                    clip_on=False)
    for i, row in enumerate(rows):
        ax.annotate(fit(row.label, f, label_w), xy=(0, i + 0.5), xytext=(-8, 2 if row.note else 0),
                    textcoords="offset points", ha="right", va="bottom" if row.note else "center", fontsize=f,
                    color=INK, annotation_clip=False)
        if row.note:
            ax.annotate(fit(row.note, f - 2, label_w), xy=(0, i + 0.5), xytext=(-8, -1), textcoords="offset points",
                        ha="right", va="top", fontsize=f - 2, color=MUTED, annotation_clip=False)
    y = 8.0
    for line in title_lines:
        fig.text(8 / width, 1 - (y + f + 2) / height, line, fontsize=f + 2, fontweight="bold", color=INK)
        y += (f + 2) * 1.4
    handles = [Patch(facecolor=c) for c in colours]
    fig.legend(handles, [fit(n, f, (width - 16) / max(len(names), 1) - 3 * f) for n in names], loc="lower left",
               ncols=len(names), frameon=False, bbox_to_anchor=(left / width, 4 / height), borderaxespad=0,
               fontsize=f, handlelength=1.0, columnspacing=2.0).set_gid(f"{uid}-legend")
    return to_svg(fig, uid=uid, title=title, description=description)


def sparkline(
    *, values: Sequence[float | None], label: str, last_colour: str, divider_at: int | None = None,
    width: float = 160.0, height: float = 36.0, uid: str = "spark",
) -> str:
    """A small line with its last point in `last_colour`; a dashed tick before point `divider_at` (a change).
    `label` (what and how it is doing) is what screen readers read: the line has no words."""
    fig = new_figure(width, height)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    n = len(values)
    pad = 4.5 * max(n - 1, 1) / width  # 4.5 points, in steps between points: room for the last point's dot
    ax.set_xlim(-pad, max(n - 1, 1) + pad)
    present = [v for v in values if v is not None and math.isfinite(v)]
    if not present:
        ax.set_ylim(0, 1)
        ax.plot([0, max(n - 1, 1)], [0.5, 0.5], color="#d0d5dc", linewidth=1, linestyle=(0, (3, 3)),
                gid=f"{uid}-empty")
        return to_svg(fig, uid=uid, title=label, css_class="sparkline", aria_label=True, fixed_size=True)
    lo, hi = min(present), max(present)
    margin = (hi - lo) * 0.15 or 1.0
    ax.set_ylim(lo - margin, hi + margin)
    if divider_at is not None and 0 < divider_at < n:
        ax.axvline(divider_at - 0.5, color=DIVIDER, linewidth=1, linestyle=(0, (2, 2)), gid=f"{uid}-divider")
    ax.plot(range(n), [math.nan if v is None or not math.isfinite(v) else v for v in values], color="#737373",
            linewidth=1.5, gid=f"{uid}-line")
    last = max(i for i, v in enumerate(values) if v is not None and math.isfinite(v))
    ax.plot([last], [values[last]], linestyle="none", marker="o", markersize=7, color=last_colour,
            markeredgewidth=0, clip_on=False, gid=f"{uid}-last")
    return to_svg(fig, uid=uid, title=label, css_class="sparkline", aria_label=True, fixed_size=True)
