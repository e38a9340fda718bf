"""Server-side charts in one visual language, drawn with matplotlib into accessible, deterministic inline SVG for
pages and PDF reports alike. Domains describe what to draw (with words already translated) and call these."""

from core.charts.plot import Band, Chart, Divider, HLine, Marks, Steps, render
from core.charts.small import BarRow, percent_bars, sparkline
from core.charts.svg import FONT_FAMILY, clean, uid_of
from core.charts.text import one_line, text_width

__all__ = [
    "FONT_FAMILY", "Band", "BarRow", "Chart", "Divider", "HLine", "Marks", "Steps", "clean", "one_line",
    "percent_bars", "render", "sparkline", "text_width", "uid_of",
]
