"""Words on charts: estimated widths (to lay out without measuring), wrapping and cutting to fit, thinning
x labels, and tick values with as many decimals as their step needs."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

from matplotlib.ticker import MaxNLocator

from core.charts.svg import clean

_TOKEN = re.compile(r"\s+|[\u2e80-\uffff]|[^\s\u2e80-\uffff]+")  # spaces, one wide character, or a word


def text_width(text: str, size: float) -> float:
    """Estimated drawn width: wide (CJK) characters take a full em; others (Noto Sans CJK's narrow Latin) 0.56 em."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.56 for ch in text)


def wrap(text: str, size: float, width: float) -> list[str]:
    """Lines of `text` that fit `width` (by the estimate above); CJK text may break between any characters."""
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(one_line(text)):
        if line and not token.isspace() and text_width(line + token, size) > width:
            lines.append(line.rstrip())
            line = token
        elif line or not token.isspace():
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return [fit(ln, size, width) for ln in lines]


def one_line(text: str) -> str:
    """A label to draw: XML-forbidden characters dropped, line breaks and runs of spaces made one space."""
    return " ".join(clean(text).split())


def fit(text: str, size: float, width: float) -> str:
    """`text` cut with an ellipsis to fit `width`."""
    text = one_line(text)
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…" if text else ""


def thin(ticks: Sequence[tuple[float, str]], size: float, width: float, span: float) -> list[tuple[float, str]]:
    """Every k-th tick, so the widest label still fits between its neighbours."""
    if not ticks or span <= 0:
        return list(ticks)
    widest = max(text_width(label, size) for _, label in ticks) + size
    room = width / span * min((b[0] - a[0] for a, b in zip(ticks, ticks[1:], strict=False)), default=span)
    step = max(1, math.ceil(widest / max(room, 1e-9)))
    return list(ticks[::step])


def y_ticks(lo: float, hi: float, compact: bool) -> list[float]:
    if compact:
        return [lo + (hi - lo) * 0.1, lo + (hi - lo) * 0.9]
    return [float(v) for v in MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi) if lo <= v <= hi]


def tick_label(v: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(v) or 1.0
    if v == 0:
        return "0"
    if abs(v) >= 1e6 or abs(v) < 1e-4 or not step > 0:
        return f"{v:.3g}"
    decimals = min(6, max(0, -math.floor(math.log10(step) + 1e-9) + (1 if f"{step:g}".endswith("25") else 0)))
    return f"{v:.{decimals}f}"
