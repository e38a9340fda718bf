"""Languages, message catalogs and locale-aware formatting for pages, SMS and PDFs.

Catalogs are Babel .po files read at first use, so there is no compiled artefact to keep in step.
"""

from __future__ import annotations

import io
from datetime import datetime, tzinfo
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal as _format_decimal
from babel.support import NullTranslations, Translations

LANGUAGES: tuple[str, ...] = ("zh-CN", "en")
LANGUAGE_NAMES = {"zh-CN": "简体中文", "en": "English"}
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
_CATALOG_DIRS = {"zh-CN": "zh_CN"}


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Marks a msgid for extraction where it is translated later (in a template or at the boundary)."""
    return message


def normalise_language(value: str | None, *, default: str = "zh-CN") -> str:
    """Map what browsers and users send (zh, zh-Hans, zh_CN, en-US…) onto a supported language."""
    if not value:
        return default
    value = value.strip().replace("_", "-").lower()
    if value.startswith("zh"):
        return "zh-CN"
    if value.startswith("en"):
        return "en"
    return default


def negotiate(accept_language: str | None, *, default: str) -> str:
    if not accept_language:
        return default
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip()
        if tag and tag != "*":
            candidate = normalise_language(tag, default="")
            if candidate:
                return candidate
    return default


@cache
def translations(language: str) -> NullTranslations:
    folder = _CATALOG_DIRS.get(language)
    if folder is None:
        return NullTranslations()
    po_path = LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext(language: str, message: str, **params: object) -> str:
    text = translations(language).gettext(message)
    return text % params if params else text


def ngettext(language: str, singular: str, plural: str, n: int, **params: object) -> str:
    text = translations(language).ngettext(singular, plural, n)
    params.setdefault("num", n)
    return text % params


@cache  # a parsed Locale keeps its loaded data; parsing one per date formatted doubled the cost of a busy page
def babel_locale(language: str) -> Locale:
    return Locale.parse("zh_Hans_CN" if language == "zh-CN" else "en_GB")


def format_datetime(value: datetime | None, language: str, tz: tzinfo, *, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return _formatted_datetime(value, language, tz, fmt)


@lru_cache(maxsize=8192)
def _formatted_datetime(value: datetime, language: str, tz: tzinfo, fmt: str) -> str:
    # Kept: a doctor's queue shows the same readings' times on every visit, and babel takes ~20 µs a time.
    return _format_datetime(value.astimezone(tz), format=fmt, tzinfo=tz, locale=babel_locale(language))


def format_date(value: datetime | None, language: str, tz: tzinfo | None = None, *, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime) and tz is not None:
        value = value.astimezone(tz)
    return _format_date(value, format=fmt, locale=babel_locale(language))


def format_number(value: Decimal | float | int | None, language: str) -> str:
    if value is None:
        return ""
    return _format_decimal(value, locale=babel_locale(language))
