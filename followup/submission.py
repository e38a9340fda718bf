"""Structured reading submissions (API body, import row, FHIR Observation): shape and time checks, then
the readings to store and the stable external ids that make every door idempotent."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.errors import FieldError, FieldErrors, ValidationFailed
from followup.enums import GlucoseContext, MeterFlag, ReadingKind
from followup.service import resolve_submission
from followup.units import Unit
from followup.validation import ResolvedReading

# Phones and meters drift; a reading "taken" a few minutes ahead of the server clock is still plausible.
FUTURE_TOLERANCE = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
EXAMPLE_TIME = "2026-11-20T07:30:00+08:00"
# The pulse sent with a blood pressure is a reading of its own; its id derives from the pressure's.
PULSE_SUFFIX = "#pulse"
EXTERNAL_ID_MAX = 100
# What a unit field may say, beyond what patients type (followup.units): UCUM codes from FHIR and devices.
UCUM_UNITS = {"mmol/l": Unit.mmol_l, "mg/dl": Unit.mg_dl, "mm[hg]": Unit.mmhg, "mmhg": Unit.mmhg,
              "/min": Unit.per_min, "{beats}/min": Unit.per_min, "beats/min": Unit.per_min, "bpm": Unit.per_min,
              "kg": Unit.kg, "[lb_av]": Unit.lb, "lb": Unit.lb, "lbs": Unit.lb, "jin": Unit.jin, "斤": Unit.jin,
              "公斤": Unit.kg}


@dataclass(frozen=True)
class Submission:
    """One reading as a caller sent it, parsed into types but not yet judged.

    `taken_at` may be naive only when the source allows local times (CSV rows); the importer places it in
    the patient's time zone before `resolve` is called."""

    kind: ReadingKind
    taken_at: datetime
    value: Decimal | None = None
    systolic: int | None = None
    diastolic: int | None = None
    pulse: int | None = None
    unit: str | None = None
    context: GlucoseContext | None = None
    meter_flag: MeterFlag | None = None
    external_id: str | None = None


def unit_name(raw: str | None) -> str | None:
    """The unit spelling resolve_submission understands, from a UCUM code or a typed unit."""
    if raw is None or not raw.strip():
        return None
    key = raw.strip().lower().replace(" ", "")
    unit = UCUM_UNITS.get(key)
    if unit is Unit.jin:
        return "斤"  # followup.units.normalise_unit knows the character, not the stored spelling "jin"
    return str(unit) if unit is not None else raw.strip()


def resolve(submission: Submission, *, now: datetime) -> list[ResolvedReading]:
    """The readings to store (a pressure with a pulse is two), or ValidationFailed naming every bad field."""
    errors = FieldErrors()
    _check_shape(submission, errors)
    _check_time(submission.taken_at, now, errors)
    resolved: list[ResolvedReading] = []
    if not any(e.field in ("value", "systolic", "diastolic", "unit", "meter_flag") for e in errors.errors):
        resolved = _collect(errors, "", lambda: resolve_submission(
            kind=submission.kind, value=submission.value, systolic=submission.systolic,
            diastolic=submission.diastolic, unit=unit_name(submission.unit),
            context=submission.context if submission.kind == ReadingKind.glucose else None,
            meter_flag=submission.meter_flag))
    if submission.kind == ReadingKind.blood_pressure and submission.pulse is not None:
        # Checked apart from the pressure so an error names "pulse", not the heart-rate "value".
        resolved += _collect(errors, "pulse", lambda: resolve_submission(
            kind=ReadingKind.heart_rate, value=submission.pulse, unit="/min"))
    errors.raise_if_any()
    return resolved


def _collect(errors: FieldErrors, rename: str, resolver: Callable[[], list[ResolvedReading]]) -> list[ResolvedReading]:
    try:
        return list(resolver())
    except ValidationFailed as exc:
        for error in exc.field_errors:
            errors.errors.append(FieldError(rename or error.field, error.message, error.params))
        return []


def _check_shape(s: Submission, errors: FieldErrors) -> None:
    if s.kind == ReadingKind.blood_pressure:
        if s.value is not None:
            errors.add("value", "Blood pressure is sent as systolic and diastolic, not as one value.")
        if s.meter_flag is not None:
            errors.add("meter_flag", "Only glucose readings have a meter flag.")
        return
    for name, given in (("systolic", s.systolic), ("diastolic", s.diastolic), ("pulse", s.pulse)):
        if given is not None:
            errors.add(name, "Only blood-pressure readings have %(field)s.", field=name)
    if s.kind == ReadingKind.glucose:
        if s.meter_flag is not None and s.value is not None:
            errors.add("value", "Send either a value or a meter flag (HI/LO), not both.")
        if s.meter_flag is None and not unit_name(s.unit):
            # 20 is a plausible glucose in both units: a structured submission must say which.
            errors.add("unit", "Give the unit: mmol/L or mg/dL.")
    elif s.meter_flag is not None:
        errors.add("meter_flag", "Only glucose readings have a meter flag.")
    if s.kind == ReadingKind.weight and not unit_name(s.unit):
        errors.add("unit", "Give the unit: kg, jin or lb.")


def _check_time(taken_at: datetime, now: datetime, errors: FieldErrors) -> None:
    if taken_at.tzinfo is None or taken_at.utcoffset() is None:
        errors.add("taken_at", "Give the time with its UTC offset, e.g. %(example)s.", example=EXAMPLE_TIME)
    elif taken_at > now + FUTURE_TOLERANCE:
        errors.add("taken_at", "The time is in the future. Check the date and the UTC offset.")
    elif taken_at < EARLIEST:
        errors.add("taken_at", "The date is before the year 2000. Check the date.")


def external_ids(base: str | None, readings: list[ResolvedReading]) -> list[str | None]:
    """One id per stored reading: the base for the first, base#pulse for a pressure's pulse."""
    if base is None:
        return [None] * len(readings)
    return [base if i == 0 else f"{base}{PULSE_SUFFIX}" for i in range(len(readings))]


def fit_external_id(raw: str) -> str:
    """An external id short enough for the column (with room for the pulse suffix); long ones are hashed."""
    raw = raw.strip()
    if len(raw) <= EXTERNAL_ID_MAX - len(PULSE_SUFFIX):
        return raw
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()[:64]


def content_key(readings: list[ResolvedReading], taken_at: datetime) -> str:
    """A stable id for a row that brings none: the same reading, written "11.20" or "11.2", in CSV or FHIR,
    hashes the same, so importing it again finds it."""
    parts = [taken_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")]
    for r in readings:
        parts += [str(r.kind), str(r.unit), ",".join(format(v.normalize(), "f") for v in r.values),
                  str(r.context or ""), str(r.flag or "")]
    return "import:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]
