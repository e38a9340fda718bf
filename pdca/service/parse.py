"""Reading form values for PDCA services: every problem becomes a field error with an English msgid."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

from core.errors import FieldErrors
from core.i18n import N_

TEXT_MAX = 4000


def text(values: Mapping[str, Any], name: str, errors: FieldErrors, *, required: str | None = None,
         max_length: int = TEXT_MAX) -> str:
    """A trimmed string; `required` is the message to show when it is empty."""
    raw = values.get(name)
    value = "" if raw is None else str(raw).strip()
    if not value and required:
        errors.add(name, required)
    elif len(value) > max_length:
        errors.add(name, "Keep this under %(n)s characters.", n=max_length)
        value = value[:max_length]
    return value


def number(values: Mapping[str, Any], name: str, errors: FieldErrors, *, required: str | None = None,
           minimum: float | None = None, maximum: float | None = None) -> float | None:
    raw = values.get(name)
    cleaned = "" if raw is None else str(raw).strip().replace(",", "").replace("，", "").rstrip("%").strip()
    if not cleaned:
        if required:
            errors.add(name, required)
        return None
    try:
        value = float(cleaned)
    except ValueError:
        errors.add(name, "Enter a number, for example 12 or 4.5.")
        return None
    if not math.isfinite(value):
        errors.add(name, "Enter a number, for example 12 or 4.5.")
        return None
    if minimum is not None and value < minimum:
        errors.add(name, "Enter %(min)s or more.", min=_plain(minimum))
        return None
    if maximum is not None and value > maximum:
        errors.add(name, "Enter %(max)s or less.", max=_plain(maximum))
        return None
    return value


def day(values: Mapping[str, Any], name: str, errors: FieldErrors, *, required: str | None = None) -> date | None:
    """A date as YYYY-MM-DD (what a date input sends)."""
    raw = values.get(name)
    cleaned = "" if raw is None else str(raw).strip()
    if not cleaned:
        if required:
            errors.add(name, required)
        return None
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        errors.add(name, "Enter a date as YYYY-MM-DD.")
        return None


def choice(values: Mapping[str, Any], name: str, errors: FieldErrors, allowed: Mapping[str, Any] | set[str], *,
           required: str = N_("Choose one of the options."), default: str | None = None) -> str | None:
    raw = values.get(name)
    value = default if raw in (None, "") else str(raw).strip()
    if value is None or value not in allowed:
        errors.add(name, required)
        return None
    return value


def integer_id(values: Mapping[str, Any], name: str) -> int | None:
    raw = str(values.get(name) or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _plain(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def plain_number(v: float | None) -> str:
    """A number as a person writes it: 12, 4.5, 0.25 (no trailing zeros)."""
    if v is None:
        return ""
    return _plain(round(v, 6))
