"""Turn a matplotlib Figure into the SVG the platform inlines in pages and PDFs: deterministic, accessible,
scalable, with ids that stay unique when several charts share a page.

The Figure is made directly (no pyplot), so drawing is thread-safe; the few settings matplotlib only reads
from its global rcParams (the SVG hash salt, text kept as text, fonts) are the same constants for every
chart and are set once, on first use, rather than at import.
"""

from __future__ import annotations

import io
import re
import threading
import warnings
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure

# Noto Sans CJK SC (Debian's fonts-noto-cjk) draws Chinese and Latin alike, so matplotlib measures text with
# the font the browser and WeasyPrint then draw it in; DejaVu Sans (bundled with matplotlib) is the fallback.
# Only installed families are listed: matplotlib logs a warning on every lookup of a missing one.
FONT_FAMILY = ["Noto Sans CJK SC", "DejaVu Sans"]
SETTINGS = {
    "svg.fonttype": "none",  # text stays text: smaller, searchable and selectable in the PDFs
    "svg.hashsalt": "careloop",  # marker and clip-path ids from a fixed salt: the same chart gives the same bytes
    "text.parse_math": False,  # labels come from users: "$5 or $6" is text, not TeX
    "axes.unicode_minus": False,  # an ASCII minus keeps tick labels searchable and parseable
    "path.simplify": False,
}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_AUTO_ID = re.compile(r' id="[A-Za-z][A-Za-z0-9.]*_\d+"')  # matplotlib's own "line2d_3"; our gids have a hyphen
_HASHED_ID = re.compile(r'(id="|#)([mp][0-9a-f]{10})\b')
_configured = threading.Lock()
_done = False


def configure() -> None:
    """Apply SETTINGS to matplotlib once per process (idempotent, same values every time)."""
    global _done
    if _done:
        return
    with _configured:
        if not _done:
            installed = {f.name for f in font_manager.fontManager.ttflist}
            families = [name for name in FONT_FAMILY if name in installed] or ["DejaVu Sans"]
            # The generic family last: the SVG then asks a browser without these fonts for its own sans-serif.
            matplotlib.rcParams.update(SETTINGS | {"font.family": ["sans-serif"], "font.sans-serif": families})
            # Text is kept as text, so the reader's browser or WeasyPrint draws every glyph with its own fonts;
            # matplotlib only measures, and a label with an emoji need not fill the logs with warnings.
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
            _done = True


def clean(text: str) -> str:
    """A label safe to draw: characters XML 1.0 forbids (and lone surrogates) removed."""
    return _NOT_XML.sub("", text)


def uid_of(id_prefix: str, default: str = "chart") -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "", id_prefix) or default


def new_figure(width: float, height: float) -> Figure:
    """A white figure `width` × `height` SVG units (points: the SVG's viewBox is in points at 72 dpi)."""
    configure()
    return Figure(figsize=(width / 72, height / 72), dpi=72, facecolor="#ffffff")


def to_svg(
    fig: Figure,
    *,
    uid: str,
    title: str,
    description: str = "",
    css_class: str = "chart",
    tips: Mapping[str, Sequence[str]] | None = None,
    aria_label: bool = False,
    fixed_size: bool = False,
) -> str:
    """The figure as inline SVG markup.

    The root gets role="img" and is labelled by a <title> and <desc> (or an aria-label, for tiny charts);
    it scales to its container (width 100 %, viewBox kept) unless `fixed_size`. `tips` maps an artist's
    (full) gid to one tooltip per marker it drew, in order. Ids are prefixed with `uid` so charts on one page differ.
    """
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    svg = _AUTO_ID.sub("", svg)
    svg = _HASHED_ID.sub(lambda m: f"{m.group(1)}{uid}-{m.group(2)}", svg)
    for gid, texts in (tips or {}).items():
        svg = _add_tips(svg, gid, texts)
    head_end = svg.index(">") + 1
    head = svg[:head_end]
    width_attr = re.search(r'width="([\d.]+)pt"', head)
    height_attr = re.search(r'height="([\d.]+)pt"', head)
    head = re.sub(r' (width|height)="[\d.]+pt"', "", head)
    size = (f' width="{width_attr.group(1)}" height="{height_attr.group(1)}"' if fixed_size and width_attr
            and height_attr else ' width="100%"')
    name = clean(title)
    if aria_label:
        label = f' aria-label="{escape(name, {chr(34): "&quot;"})}"'
        intro = f"\n <title>{escape(name)}</title>"
    else:
        label = f' aria-labelledby="{uid}-title {uid}-desc"'
        intro = (f'\n <title id="{uid}-title">{escape(name)}</title>'
                 f'\n <desc id="{uid}-desc">{escape(clean(description))}</desc>')
    head = head[:-1] + f' class="{css_class}"{size} role="img"{label}>'
    return head + intro + svg[head_end:].rstrip() + "\n"


def _add_tips(svg: str, gid: str, texts: Sequence[str]) -> str:
    """Wrap each marker <use> of the group `gid` in a <g> with its own <title> (a hover tooltip)."""
    start = svg.find(f'<g id="{gid}"')
    if start < 0 or not texts:
        return svg
    out, pos = [svg[:start]], start
    for text in texts:
        at = svg.find("<use ", pos)
        if at < 0:
            break
        end = svg.index("/>", at) + 2
        out.append(svg[pos:at])
        out.append(f"<g><title>{escape(clean(text))}</title>{svg[at:end]}</g>")
        pos = end
    out.append(svg[pos:])
    return "".join(out)
