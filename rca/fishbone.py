"""Draw a fishbone (Ishikawa) diagram as a standalone, accessible SVG string: pure Python, no database.

The problem sits in the head on the right; the bones (six for 人机料法环测) branch above and below the spine, and
each cause is a label beside its bone. Labels wrap by their drawn width, counting a Chinese character as a full
em and a Latin letter as about half, so both languages fit. All text is escaped; the SVG has a viewBox and width
100 %, so it scales on phones and in WeasyPrint PDFs alike, and its <title>/<desc> read the whole diagram.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

FONT = "'Noto Sans CJK SC','RcaSource Han Sans SC','PingFang SC','Microsoft YaHei',Arial,sans-serif"
INK, MUTED, BONE, ROOT, HEAD_FILL, LABEL_FILL = "#1b1f24", "#5a6470", "#0b5cad", "#b3261e", "#e8f1fb", "#eef1f5"
CAUSE_SIZE, CAUSE_LINE = 13, 17
LABEL_SIZE, LABEL_BOX = 14, 26
HEAD_SIZE, HEAD_LINE, HEAD_WIDTH = 15, 20, 210
MARGIN, SLANT, LEGEND = 16, 54, 26
MAX_CAUSE_LINES, MAX_HEAD_LINES = 5, 9
ROOT_MARK = "★ "
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class BoneCause:
    text: str
    is_root: bool = False


@dataclass(frozen=True)
class Bone:
    label: str  # e.g. "人 People" / "人（人员）"
    causes: Sequence[BoneCause] = field(default_factory=tuple)


@dataclass(frozen=True, kw_only=True)
class FishboneTexts:
    """Localised words for one diagram."""

    title: str
    description: str  # what the diagram is, for screen readers; the causes are appended to it
    root_cause: str  # legend and screen-reader marker for selected root causes
    empty: str  # shown on a bone without causes
    problem: str = ""  # screen-reader prefix for the head, e.g. "Problem:"


def _clean(text: str) -> str:
    return _NOT_XML.sub("", " ".join(str(text).split()))


def char_width(char: str, size: float) -> float:
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return size
    if char == " ":
        return size * 0.3
    if char.isupper() or char in "mwMW@%":
        return size * 0.68
    if char in "il.,:;|!'()[]":
        return size * 0.3
    return size * 0.55


def text_width(text: str, size: float) -> float:
    return sum(char_width(c, size) for c in text)


def _tokens(text: str) -> list[str]:
    """Words keep their trailing space; each CJK character (and CJK punctuation) is a token of its own."""
    tokens: list[str] = []
    word = ""
    for char in text:
        if unicodedata.east_asian_width(char) in ("W", "F"):
            if word:
                tokens.append(word)
                word = ""
            tokens.append(char)
        elif char == " ":
            tokens.append(word + " ")
            word = ""
        else:
            word += char
    if word:
        tokens.append(word)
    return tokens


def wrap(text: str, max_width: float, size: float, max_lines: int) -> list[str]:
    """Greedy wrap by drawn width; over-long words break anywhere; the last kept line ends with '…'."""
    text = _clean(text)
    if not text:
        return []
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        if text_width((line + token).rstrip(), size) <= max_width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
            line = ""
        token = token.lstrip() if not lines or lines[-1] else token
        while text_width(token.rstrip(), size) > max_width:  # a word wider than the line: cut it
            cut = 1
            while cut < len(token) and text_width(token[: cut + 1], size) <= max_width:
                cut += 1
            lines.append(token[:cut])
            token = token[cut:]
        line = token
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and text_width(last + "…", size) > max_width:
            last = last[:-1]
        lines = lines[: max_lines - 1] + [last.rstrip() + "…"]
    return lines


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, lines: list[str], *, size: int, line: int, anchor: str = "end", fill: str = INK,
          weight: str = "normal", italic: bool = False) -> str:
    style = ' font-style="italic"' if italic else ""
    spans = "".join(f'<tspan x="{_n(x)}" dy="{0 if i == 0 else line}">{escape(t)}</tspan>' for i, t in enumerate(lines))
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
            f'font-weight="{weight}"{style}>{spans}</text>')


@dataclass
class _Placed:
    lines: list[str]
    is_root: bool
    height: float


def _place(bone: Bone, width: float) -> list[_Placed]:
    placed = []
    for cause in bone.causes:
        text = (ROOT_MARK if cause.is_root else "") + _clean(cause.text)
        lines = wrap(text, width, CAUSE_SIZE, MAX_CAUSE_LINES) or ["—"]
        placed.append(_Placed(lines, cause.is_root, len(lines) * CAUSE_LINE + 8))
    return placed


def _description(problem: str, bones: Sequence[Bone], texts: FishboneTexts) -> str:
    parts = [_clean(texts.description)]
    if problem:
        parts.append(f"{_clean(texts.problem)} {_clean(problem)}".strip())
    for bone in bones:
        causes = "; ".join(_clean(c.text) + (f" ({_clean(texts.root_cause)})" if c.is_root else "")
                           for c in bone.causes) or _clean(texts.empty)
        parts.append(f"{_clean(bone.label)}: {causes}.")
    return " ".join(p for p in parts if p)


def render_fishbone(*, problem: str, bones: Sequence[Bone], texts: FishboneTexts, width: int = 1100,
                    id_prefix: str = "fishbone") -> str:
    """SVG markup for the diagram. `id_prefix` keeps the ids of several diagrams on one page apart."""
    uid = re.sub(r"[^A-Za-z0-9_-]", "", id_prefix) or "fishbone"
    columns = max(1, math.ceil(len(bones) / 2))
    has_bottom = len(bones) > columns
    head_x = width - MARGIN - HEAD_WIDTH
    spine_start = MARGIN + 8
    span = (head_x - spine_start) / columns
    label_width = max(60.0, span - SLANT - 34)
    placed = [_place(bone, label_width) for bone in bones]
    head_lines = wrap(problem, HEAD_WIDTH - 20, HEAD_SIZE, MAX_HEAD_LINES) or ["?"]
    head_height = max(64.0, len(head_lines) * HEAD_LINE + 20)

    def side_height(side: list[list[_Placed]]) -> float:
        need = max((sum(p.height for p in causes) for causes in side), default=0.0)
        return LABEL_BOX + 16 + max(need, CAUSE_LINE + 8) + 18

    top_h = max(side_height(placed[:columns]), head_height / 2 + 10)
    bottom_h = max(side_height(placed[columns:]) if has_bottom else 40.0, head_height / 2 + 10)
    mid = MARGIN + top_h
    height = mid + bottom_h + LEGEND + MARGIN
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fishbone" role="img" viewBox="0 0 {width} {_n(height)}" '
        f'width="100%" preserveAspectRatio="xMidYMin meet" aria-labelledby="{uid}-title {uid}-desc" '
        f'font-family="{FONT}">',
        f'<title id="{uid}-title">{escape(_clean(texts.title))}</title>',
        f'<desc id="{uid}-desc">{escape(_description(problem, bones, texts))}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{_n(height)}" fill="#ffffff"/>',
        f'<line x1="{_n(spine_start)}" y1="{_n(mid)}" x2="{_n(head_x)}" y2="{_n(mid)}" stroke="{BONE}" '
        f'stroke-width="4" stroke-linecap="round"/>',
        f'<rect x="{_n(head_x)}" y="{_n(mid - head_height / 2)}" width="{HEAD_WIDTH}" height="{_n(head_height)}" '
        f'rx="10" fill="{HEAD_FILL}" stroke="{BONE}" stroke-width="2"/>',
        _text(head_x + HEAD_WIDTH / 2, mid - head_height / 2 + 10 + HEAD_LINE - 5, head_lines, size=HEAD_SIZE,
              line=HEAD_LINE, anchor="middle", weight="bold"),
    ]
    for index, bone in enumerate(bones):
        above = index < columns
        column = index if above else index - columns
        joint = spine_start + (column + 1) * span - 12
        end_y = MARGIN + LABEL_BOX if above else height - LEGEND - MARGIN - LABEL_BOX
        length = abs(mid - end_y)
        end_x = joint - SLANT

        def bone_x(y: float, joint: float = joint, length: float = length) -> float:
            return joint - SLANT * abs(mid - y) / length

        out.append(f'<line x1="{_n(joint)}" y1="{_n(mid)}" x2="{_n(end_x)}" y2="{_n(end_y)}" stroke="{BONE}" '
                   f'stroke-width="2.5"/>')
        label_lines = wrap(bone.label, span - 16, LABEL_SIZE, 1)
        box_w = min(span - 8, text_width(label_lines[0] if label_lines else "", LABEL_SIZE) + 20)
        box_y = end_y - LABEL_BOX if above else end_y
        out.append(f'<rect x="{_n(end_x - box_w / 2)}" y="{_n(box_y)}" width="{_n(box_w)}" height="{LABEL_BOX}" '
                   f'rx="6" fill="{LABEL_FILL}" stroke="{BONE}"/>')
        out.append(_text(end_x, box_y + LABEL_BOX / 2 + LABEL_SIZE / 2 - 2, label_lines, size=LABEL_SIZE,
                         line=CAUSE_LINE, anchor="middle", weight="bold"))
        causes = placed[index]
        y = (end_y + 12) if above else (mid + 14)
        if not causes:
            tick_y = y + CAUSE_LINE / 2
            out.append(_text(bone_x(tick_y) - 10, tick_y + 4, [_clean(texts.empty)], size=CAUSE_SIZE,
                             line=CAUSE_LINE, fill=MUTED, italic=True))
            continue
        for cause in causes:
            tick_y = y + CAUSE_LINE / 2 + 1
            x = bone_x(tick_y)
            # The bone slants, so a wrapped label is right-aligned to where the bone is furthest left beside it.
            text_x = min(x, bone_x(y + cause.height - 8)) - 12
            colour = ROOT if cause.is_root else INK
            out.append(f'<line x1="{_n(text_x + 4)}" y1="{_n(tick_y)}" x2="{_n(x)}" y2="{_n(tick_y)}" '
                       f'stroke="{colour}" stroke-width="1.5"/>')
            out.append(_text(text_x, y + CAUSE_LINE - 4, cause.lines, size=CAUSE_SIZE, line=CAUSE_LINE,
                             fill=colour, weight="bold" if cause.is_root else "normal"))
            y += cause.height
    legend_y = height - MARGIN - 6
    out.append(_text(MARGIN, legend_y, [ROOT_MARK + _clean(texts.root_cause)], size=CAUSE_SIZE, line=CAUSE_LINE,
                     anchor="start", fill=ROOT, weight="bold"))
    out.append("</svg>")
    return "".join(out)
