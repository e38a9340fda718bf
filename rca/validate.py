"""Reading form and API values for RCA services, collecting every problem at once as field errors.

Values arrive as form strings or typed API values; times without a zone are read in the clinic's time zone
(a committee member types the local time the event happened).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlmodel import Session

from clinic.models import StaffUser
from core.errors import FieldErrors
from core.security import STAFF_ROLES

E = TypeVar("E", bound=StrEnum)

# A little slack for clocks that disagree by a minute or two.
FUTURE_SLACK = timedelta(minutes=5)


def text(errors: FieldErrors, field: str, raw: Any, *, max_length: int, required: str | None = None) -> str:
    """Stripped text; `required` is the message shown when it is empty (None: may be empty)."""
    value = str(raw or "").strip()
    if not value and required:
        errors.add(field, required)
    elif len(value) > max_length:
        errors.add(field, "At most %(max)s characters, please.", max=max_length)
    return value


def choice(errors: FieldErrors, field: str, raw: Any, enum: type[E], *, required: str | None = None) -> E | None:
    value = str(raw or "").strip()
    if not value:
        if required:
            errors.add(field, required)
        return None
    try:
        return enum(value)
    except ValueError:
        errors.add(field, "Choose one of the options.")
        return None


def moment(errors: FieldErrors, field: str, raw: Any, *, tz: ZoneInfo, now: datetime,
           required: str | None = None) -> datetime | None:
    """An aware datetime, not in the future. Accepts datetimes and 'YYYY-MM-DDTHH:MM' (read in `tz`)."""
    if isinstance(raw, datetime):
        value = raw if raw.tzinfo else raw.replace(tzinfo=tz)
    else:
        text_value = str(raw or "").strip()
        if not text_value:
            if required:
                errors.add(field, required)
            return None
        try:
            value = datetime.fromisoformat(text_value.replace(" ", "T"))
        except ValueError:
            errors.add(field, "Enter a date and time, e.g. 2026-05-03 14:30.")
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
    if value > now + FUTURE_SLACK:
        errors.add(field, "This time is in the future.")
        return None
    return value


def day(errors: FieldErrors, field: str, raw: Any, *, required: str | None = None) -> date | None:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    value = str(raw or "").strip()
    if not value:
        if required:
            errors.add(field, required)
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.add(field, "Enter a date as YYYY-MM-DD.")
        return None


def whole_number(errors: FieldErrors, field: str, raw: Any, *, low: int, high: int) -> int | None:
    value = str(raw if raw is not None else "").strip()
    if not value.isdigit() or not low <= int(value) <= high:
        errors.add(field, "Enter a whole number from %(low)s to %(high)s.", low=low, high=high)
        return None
    return int(value)


def staff_member(session: Session, errors: FieldErrors, field: str, raw: Any, *, clinic_id: int,
                 required: str | None = None) -> StaffUser | None:
    """An active staff member of this clinic; anyone else reads as 'not a choice', never as 'exists'."""
    value = str(raw or "").strip()
    if not value:
        if required:
            errors.add(field, required)
        return None
    staff = session.get(StaffUser, int(value)) if value.isdigit() else None
    if staff is None or staff.clinic_id != clinic_id or not staff.active or staff.role not in STAFF_ROLES:
        errors.add(field, "Choose a staff member of this clinic.")
        return None
    return staff


def int_or_none(raw: Any) -> int | None:
    value = str(raw or "").strip()
    return int(value) if value.isdigit() else None
