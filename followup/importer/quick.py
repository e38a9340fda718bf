"""The importer's shortcut for the rows nearly every file is made of: a glucose in mmol/L or mg/dL, or a blood
pressure (with or without a pulse), on time and within what a meter can show.

`quick_resolve` gives exactly what `followup.submission.resolve` gives for such a row, through the same unit
functions and bounds, without building the error collectors, closures and unit look-ups that a general
submission (an API body, a FHIR Observation, a hand-typed unit) needs. Any other row, and any row that would
be refused, gets None: the general path then judges it and words the rejection, so a rejection is never
produced here. tests/followup/test_importer_quick.py holds the two paths to the same results.
"""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal

from followup.enums import GlucoseContext, ReadingKind
from followup.submission import EARLIEST, FUTURE_TOLERANCE, Submission, unit_name
from followup.units import DEFAULT_BOUNDS, Unit, canonical_value, normalise_unit, round_glucose
from followup.validation import ResolvedReading

_GLUCOSE, _BP, _HR = ReadingKind.glucose, ReadingKind.blood_pressure, ReadingKind.heart_rate
_RANDOM = GlucoseContext.random
# The unit cells the shortcut takes, mapped as the general path maps them (unit_name, then normalise_unit).
GLUCOSE_UNITS = {raw: normalise_unit(unit_name(raw) or "") for raw in ("mmol/L", "mmol/l", "mg/dL", "mg/dl")}
BP_UNITS = frozenset({None, "mmHg", "mm[Hg]"})  # what resolve_submission accepts for a pressure, as sent
_B = DEFAULT_BOUNDS
GLUCOSE_RANGE = {Unit.mmol_l: (_B.glucose_mmol_min, _B.glucose_mmol_max),
                 Unit.mg_dl: (_B.glucose_mgdl_min, _B.glucose_mgdl_max)}
ROUNDABLE = 100_000  # resolve_submission rounds a glucose below this; a larger one is refused there


def quick_resolve(s: Submission, taken_at: datetime, now: datetime) -> list[ResolvedReading] | None:
    """The readings of a common, acceptable row (`taken_at` already carries the patient's zone), or None."""
    if taken_at.tzinfo is None or taken_at.utcoffset() is None or taken_at > now + FUTURE_TOLERANCE \
            or taken_at < EARLIEST or s.meter_flag is not None:
        return None
    if s.kind is _GLUCOSE:
        return _glucose(s)
    if s.kind is _BP:
        return _pressure(s)
    return None


def _glucose(s: Submission) -> list[ResolvedReading] | None:
    unit = GLUCOSE_UNITS.get(s.unit)  # type: ignore[arg-type]
    value = s.value
    context = s.context
    if (unit is None or type(value) is not Decimal or not value.is_finite() or abs(value) >= ROUNDABLE
            or s.systolic is not None or s.diastolic is not None or s.pulse is not None
            or (context is not None and type(context) is not GlucoseContext)):
        return None
    reading = _glucose_reading(value, unit, context)
    return None if reading is None else [reading]


def _pressure(s: Submission) -> list[ResolvedReading] | None:
    systolic, diastolic, pulse = s.systolic, s.diastolic, s.pulse
    if s.value is not None or s.unit not in BP_UNITS or type(systolic) is not int or type(diastolic) is not int:
        return None
    pressure = _pressure_reading(systolic, diastolic)
    if pressure is None:
        return None
    if pulse is None:
        return [pressure]
    rate = _pulse_reading(pulse) if type(pulse) is int else None
    return None if rate is None else [pressure, rate]


# A file repeats the same few hundred values, so each reading is worked out once per value and shared (it is
# frozen). Exact: rounding gives a glucose a fixed number of decimals, so 7.2 and 7.20 resolve to the same
# reading, and a pressure's or pulse's numbers are whole.


@functools.lru_cache(maxsize=65_536)
def _glucose_reading(value: Decimal, unit: Unit, context: GlucoseContext | None) -> ResolvedReading | None:
    number = round_glucose(value, unit)
    low, high = GLUCOSE_RANGE[unit]
    if not low <= number <= high:
        return None
    canonical = canonical_value(kind=_GLUCOSE, value=number, unit=unit)
    return ResolvedReading(kind=_GLUCOSE, values=(number,), unit=unit, canonical=(canonical,),
                           context=context or _RANDOM)


@functools.lru_cache(maxsize=65_536)
def _pressure_reading(systolic: int, diastolic: int) -> ResolvedReading | None:
    if not (_B.sbp_min <= systolic <= _B.sbp_max and _B.dbp_min <= diastolic <= _B.dbp_max and diastolic < systolic):
        return None
    values = (Decimal(systolic), Decimal(diastolic))
    return ResolvedReading(kind=_BP, values=values, unit=Unit.mmhg, canonical=values)


@functools.lru_cache(maxsize=65_536)
def _pulse_reading(pulse: int) -> ResolvedReading | None:
    if not _B.hr_min <= pulse <= _B.hr_max:
        return None
    rate = Decimal(pulse)
    return ResolvedReading(kind=_HR, values=(rate,), unit=Unit.per_min, canonical=(rate,))
