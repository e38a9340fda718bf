"""PDF rendering: a Jinja2 template extending `pdf/base.pdf.html`, rendered in one language and time zone and
turned into an A4 PDF by WeasyPrint, with the content's sha256.

Every report shares the frame the base template draws from a `ReportFrame` (clinic name and logo slot, title,
period, "generated at … by …", "page X of Y"); a report template only fills `{% block body %}`. Fonts come
from fontconfig (Noto Sans CJK SC), charts are inline SVG, and nothing is fetched from the network: the URL
fetcher admits `data:` URIs only, so a template (or a value in one) can never make the renderer call out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, Template
from markupsafe import Markup

from core import i18n
from core.db import utcnow
from core.templating import TEMPLATE_DIR, make_environment

MEDIA_TYPE = "application/pdf"
BASE_TEMPLATE = "pdf/base.pdf.html"
_PAGE, _PAGES = "\x01", "\x02"


@dataclass(frozen=True, kw_only=True)
class ReportFrame:
    """What the shared frame shows on every page of every report."""

    title: str
    clinic_name: str
    period: str = ""  # as the reader reads it ("1 Oct 2026 – 31 Oct 2026"), already translated
    generated_at: datetime = field(default_factory=utcnow)
    generated_by: str = ""
    logo: str | None = None  # a data: URI; without one the slot shows the clinic's initial
    confidential: bool = False  # patient-identifiable content: say so in every footer


@dataclass(frozen=True)
class RenderedPdf:
    content: bytes
    sha256: str
    pages: int

    @property
    def size(self) -> int:
        return len(self.content)


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@cache
def pdf_environment() -> Environment:
    """One Jinja environment for every PDF (templates are compiled once per process)."""
    return make_environment()


def render_html(template: str | Template, context: Mapping[str, Any], *, frame: ReportFrame, language: str,
                tz: tzinfo | str) -> str:
    """The report as HTML; the `_`, `date`, `datetime` and `number` helpers follow `language` and `tz`."""
    language = i18n.normalise_language(language)
    zone = tz if isinstance(tz, tzinfo) else ZoneInfo(tz)
    chosen = pdf_environment().get_template(template) if isinstance(template, str) else template
    return chosen.render({
        **context, "lang": language, "tz": zone, "frame": frame,
        "page_counter_css": Markup(page_counter_css(language)),
    })


def render_pdf(template: str | Template, context: Mapping[str, Any], *, frame: ReportFrame, language: str,
               tz: tzinfo | str) -> RenderedPdf:
    """Render `template` (a name like "followup/patient_summary.pdf.html", or a compiled template) to PDF.

    The output is deterministic: the same data, frame and language give the same bytes and hash, which is what
    lets the archive store a report once."""
    # Imported here: loading WeasyPrint costs half a second that pages and jobs without PDFs should not pay.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    markup = render_html(template, context, frame=frame, language=language, tz=tz)
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=False)
    document = HTML(string=markup, base_url=str(TEMPLATE_DIR), url_fetcher=fetcher).render()
    content = document.write_pdf()
    assert content is not None
    return RenderedPdf(content=content, sha256=content_hash(content), pages=len(document.pages))


def page_counter_css(language: str) -> str:
    """A CSS `content` value saying "Page 2 of 5" in `language` (e.g. "第 2 页，共 5 页")."""
    text = i18n.gettext(language, "Page %(page)s of %(pages)s", page=_PAGE, pages=_PAGES)
    parts: list[str] = []
    for piece in re.split(f"({_PAGE}|{_PAGES})", text):
        if piece == _PAGE:
            parts.append("counter(page)")
        elif piece == _PAGES:
            parts.append("counter(pages)")
        elif piece:
            parts.append(css_string(piece))
    return " ".join(parts)


def css_string(text: str) -> str:
    """A quoted CSS string: backslashes, quotes and line breaks escaped, `<` too (it sits inside <style>)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ").replace("<", "\\3c ")
    return f'"{escaped}"'


def download_headers(filename: str, *, fallback: str = "report.pdf", inline: bool = False) -> dict[str, str]:
    """Headers of a PDF response whose name may be Chinese (RFC 6266/5987: an ASCII `fallback` for old clients,
    the UTF-8 name for the rest). `inline` opens it in the browser's viewer, ready to print. Never cached by a
    shared proxy: reports carry health data."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "-", fallback).strip("-") or "report.pdf"
    disposition = "inline" if inline else "attachment"
    return {"Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
