"""The reading form: what a phone keyboard sends, turned into resolved readings and a time taken, or into
field errors that sit next to the field at fault."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from core.db import utcnow
from core.errors import FieldError, FieldErrors, ValidationFailed
from core.i18n import N_
from followup.enums import GlucoseContext, MeterFlag, ReadingKind
from followup.service import resolve_submission
from followup.units import Unit
from followup.validation import ResolvedReading

# The order a patient sees the kinds in, by programme: what their doctor asks for most comes first.
KIND_ORDER = {
    "hypertension": [ReadingKind.blood_pressure, ReadingKind.glucose, ReadingKind.weight, ReadingKind.heart_rate],
    "diabetes": [ReadingKind.glucose, ReadingKind.blood_pressure, ReadingKind.weight, ReadingKind.heart_rate],
}
WEIGHT_UNITS = (Unit.kg, Unit.jin, Unit.lb)
GLUCOSE_UNITS = (Unit.mmol_l, Unit.mg_dl)
CONTEXTS = tuple(GlucoseContext)
# A phone clock a few minutes ahead of the server is not a reading from the future.
CLOCK_SKEW = timedelta(minutes=5)
PATIENT_DAYS_BACK = 2  # today back to the day before yesterday: enough to catch up after a weekend away
STAFF_DAYS_BACK = 30  # staff transcribe a home diary at a visit
_TOKEN = re.compile(r"[0-9a-f]{32}")
_TIME = re.compile(r"([01]?\d|2[0-3])[:：.](\d\d)")


@dataclass(frozen=True)
class Submission:
    readings: list[ResolvedReading]
    taken_at: datetime  # aware, UTC
    token: str  # the form's one-time key: a second submit of the same form stores nothing new


def new_token() -> str:
    return secrets.token_hex(16)


def kinds_for(programmes: list[str]) -> list[ReadingKind]:
    for programme in programmes:
        if programme in KIND_ORDER:
            return KIND_ORDER[programme]
    return KIND_ORDER["hypertension"]


def parse_kind(raw: Any) -> ReadingKind | None:
    return ReadingKind(raw) if raw in ReadingKind.__members__ else None


def form_defaults(*, kind: ReadingKind, glucose_unit: str, tz: tzinfo, now: datetime | None = None) -> dict[str, str]:
    local = (now or utcnow()).astimezone(tz)
    return {"kind": kind.value, "unit": glucose_unit if kind == ReadingKind.glucose else Unit.kg.value,
            "date": local.date().isoformat(), "time": local.strftime("%H:%M"), "token": new_token()}


def allowed_days(*, tz: tzinfo, days_back: int, now: datetime | None = None) -> list[date]:
    today = (now or utcnow()).astimezone(tz).date()
    return [today - timedelta(days=k) for k in range(days_back + 1)]


def parse_submission(
    data: dict[str, Any], *, glucose_unit: str, tz: tzinfo, days_back: int, now: datetime | None = None,
) -> Submission:
    """Raise ValidationFailed with every field's problem at once; messages are msgids for the boundary."""
    now = now or utcnow()
    errors = FieldErrors()
    kind = parse_kind(_text(data, "kind"))
    if kind is None:
        raise ValidationFailed("Please correct the highlighted fields.",
                               field_errors=[FieldError("kind", "Choose what you measured.")])
    taken_at = _taken_at(data, tz=tz, days_back=days_back, now=now, errors=errors)
    readings = _readings(kind, data, glucose_unit=glucose_unit, errors=errors)
    errors.raise_if_any()
    assert taken_at is not None
    token = _text(data, "token")
    return Submission(readings=readings, taken_at=taken_at, token=token if _TOKEN.fullmatch(token) else new_token())


def _readings(kind: ReadingKind, data: dict[str, Any], *, glucose_unit: str,
              errors: FieldErrors) -> list[ResolvedReading]:
    if kind == ReadingKind.blood_pressure:
        return _blood_pressure(data, errors)
    flag_raw = _text(data, "meter_flag") if kind == ReadingKind.glucose else ""
    flag = MeterFlag(flag_raw) if flag_raw in MeterFlag.__members__ else None
    context = None
    if kind == ReadingKind.glucose:
        raw_context = _text(data, "context")
        context = GlucoseContext(raw_context) if raw_context in GlucoseContext.__members__ else None
        if context is None and flag is None:
            errors.add("context", "Choose when you measured.")
    value = _number_text(data, "value")
    if flag is None and value and _decimal(value) is None:
        errors.add("value", "Enter a number, like %(example)s.", example=_EXAMPLES[kind])
        return []
    unit = _text(data, "unit") or None
    if kind == ReadingKind.heart_rate:
        unit = Unit.per_min.value
    elif unit == Unit.jin.value:
        unit = "斤"  # units.normalise_unit reads what patients type, and they type 斤, not the enum's "jin"
    return _resolve(errors, {}, kind=kind, value=value, unit=unit, context=context, meter_flag=flag,
                    default_glucose_unit=glucose_unit)


_EXAMPLES = {ReadingKind.glucose: "7.2", ReadingKind.weight: "65.5", ReadingKind.heart_rate: "72",
             ReadingKind.blood_pressure: "150"}


def _blood_pressure(data: dict[str, Any], errors: FieldErrors) -> list[ResolvedReading]:
    numbers: dict[str, int | None] = {}
    for name, missing in (("systolic", N_("Enter the upper (systolic) number.")),
                          ("diastolic", N_("Enter the lower (diastolic) number.")), ("pulse", "")):
        raw = _number_text(data, name)
        number = _decimal(raw)
        if not raw:
            numbers[name] = None
            if missing:
                errors.add(name, missing)
        elif number is None or number != number.to_integral_value():
            numbers[name] = None
            errors.add(name, "Enter a whole number, like %(example)s.", example={"pulse": "72"}.get(name, "150"))
        else:
            numbers[name] = int(number)
    systolic, diastolic, pulse = numbers["systolic"], numbers["diastolic"], numbers["pulse"]
    if errors.errors:
        return []
    assert systolic is not None and diastolic is not None
    if diastolic >= systolic:
        # A meter shows the upper number first; the same two numbers the other way round are a swap.
        errors.add("diastolic", "The lower number must be smaller than the upper one. Please check you have not "
                                "swapped them.")
        return []
    readings = _resolve(errors, {}, kind=ReadingKind.blood_pressure, systolic=systolic, diastolic=diastolic)
    if pulse is not None:
        readings += _resolve(errors, {"value": "pulse"}, kind=ReadingKind.heart_rate, value=pulse, unit="/min")
    return readings


def _resolve(errors: FieldErrors, rename: dict[str, str], **submission: Any) -> list[ResolvedReading]:
    try:
        return resolve_submission(**submission)
    except ValidationFailed as exc:
        for e in exc.field_errors:
            errors.add(rename.get(e.field, e.field), e.message, **e.params)
        return []


def _taken_at(data: dict[str, Any], *, tz: tzinfo, days_back: int, now: datetime,
              errors: FieldErrors) -> datetime | None:
    try:
        day = date.fromisoformat(_text(data, "date"))
    except ValueError:
        day = None
    if day is None or day not in allowed_days(tz=tz, days_back=days_back, now=now):
        if days_back == PATIENT_DAYS_BACK:
            errors.add("date", "Choose today, yesterday or the day before yesterday.")
        else:
            errors.add("date", "Choose a day within the last %(days)s days.", days=days_back)
        return None
    match = _TIME.fullmatch(_number_text(data, "time"))
    if match is None:
        errors.add("time", "Enter the time as hours:minutes, like 07:30.")
        return None
    local = datetime.combine(day, time(int(match[1]), int(match[2])), tzinfo=tz)
    if local > now + CLOCK_SKEW:
        errors.add("time", "This time has not come yet today. Check the time, or choose yesterday.")
        return None
    return local.astimezone(now.tzinfo)


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip()[:40]


def _number_text(data: dict[str, Any], name: str) -> str:
    """Full-width digits and the Chinese full stop come from Chinese keyboards: read them as ASCII."""
    return unicodedata.normalize("NFKC", _text(data, name)).replace("。", ".").replace(",", ".").replace(" ", "")


def _decimal(raw: str) -> Decimal | None:
    try:
        number = Decimal(raw)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None
