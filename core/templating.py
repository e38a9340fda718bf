"""The Jinja2 environment for pages, PDFs and SMS texts, with translation and formatting helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from markupsafe import Markup

from core import i18n
from core.i18n import N_  # noqa: F401 - re-exported for wiring code
from core.security import mask_phone
from core.settings import REPO_ROOT

TEMPLATE_DIR = REPO_ROOT / "templates"


def _language_of(context: Any) -> str:
    language = context.get("lang")
    if language:
        return str(language)
    request = context.get("request")
    if request is not None:
        return str(request.state.get("language", "zh-CN"))
    return "zh-CN"


def _timezone_of(context: Any) -> ZoneInfo:
    tz = context.get("tz")
    if tz is not None:
        return tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
    request = context.get("request")
    if request is not None and request.state.get("timezone"):
        return ZoneInfo(request.state.get("timezone"))
    return ZoneInfo("Asia/Shanghai")


@pass_context
def _gettext(context: Any, message: str, **params: Any) -> str:
    return i18n.gettext(_language_of(context), message, **params)


@pass_context
def _ngettext(context: Any, singular: str, plural: str, n: int, **params: Any) -> str:
    return i18n.ngettext(_language_of(context), singular, plural, n, **params)


@pass_context
def _format_datetime(context: Any, value: datetime | None, fmt: str = "medium") -> str:
    return i18n.format_datetime(value, _language_of(context), _timezone_of(context), fmt=fmt)


@pass_context
def _format_date(context: Any, value: Any, fmt: str = "medium") -> str:
    return i18n.format_date(value, _language_of(context), _timezone_of(context), fmt=fmt)


@pass_context
def _format_number(context: Any, value: Decimal | float | int | None) -> str:
    return i18n.format_number(value, _language_of(context))


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    roles: frozenset[str]


_STYLE_ATTR = re.compile(r' style="([^"]*)"')
_STYLE_SHEET = re.compile(r"\s*<style[^>]*>\*\{([^}]*)\}</style>")
_FONT = re.compile(r"(?:(italic|oblique|normal) )?(?:(\w+) )?([\d.]+px) (.+)")


def _declarations(css: str) -> list[tuple[str, str]]:
    pairs = [tuple(part.strip() for part in item.split(":", 1)) for item in css.split(";") if ":" in item]
    out: list[tuple[str, str]] = []
    for name, value in pairs:
        font = _FONT.fullmatch(value) if name == "font" else None
        if font:  # the shorthand is no SVG attribute: spell it out
            style, weight, size, family = font.groups()
            out += [("font-style", style), ("font-weight", weight), ("font-size", size), ("font-family", family)]
        else:
            out.append((name, value))
    return [(name, value) for name, value in out if value]


def _attributes(css: str) -> str:
    return "".join(f' {name}="{value}"' for name, value in _declarations(css) if name.replace("-", "").isalpha())


def csp_safe_svg(markup: str) -> str:
    """Inline SVG without inline CSS: the pages' Content-Security-Policy blocks style attributes and <style>
    elements (matplotlib writes both), which would leave charts black. Each declaration becomes the SVG
    presentation attribute of the same name; a sheet's `*{...}` rule becomes inherited attributes on the root."""
    sheet = _STYLE_SHEET.search(markup)
    if sheet:
        markup = markup[:sheet.start()] + markup[sheet.end():]
        markup = markup.replace("<svg ", "<svg" + _attributes(sheet.group(1)) + " ", 1)
    return _STYLE_ATTR.sub(lambda m: _attributes(m.group(1)), markup)


def _svg(markup: str) -> Markup:
    """Charts are built by our own renderers with every label escaped, so they can be inlined."""
    return Markup(csp_safe_svg(markup))


def configure_environment(env: Environment, *, nav_items: list[NavItem] | None = None) -> Environment:
    env.undefined = StrictUndefined
    env.globals.update(
        nav_items=nav_items or [],
        _=_gettext, gettext=_gettext, ngettext=_ngettext, languages=i18n.LANGUAGES,
        language_names=i18n.LANGUAGE_NAMES,
    )
    env.filters.update(
        datetime=_format_datetime, date=_format_date, number=_format_number, mask_phone=mask_phone, svg=_svg,
    )
    return env


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=True, lstrip_blocks=True,
    )
    return configure_environment(env)
