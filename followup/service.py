"""Readings: validating structured submissions, storing readings, and reading only what a window needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic.models import Clinic, Patient
from core.db import utcnow
from core.errors import FieldErrors
from followup.enums import GlucoseContext, MeterFlag, ReadingKind, ReadingSource
from followup.models import Reading
from followup.rules import ReadingFact, WindowSpec
from followup.units import (
    CANONICAL_UNIT,
    DEFAULT_BOUNDS,
    GLUCOSE_UNITS,
    WEIGHT_UNITS,
    Plausibility,
    Unit,
    canonical_value,
    check_plausibility,
    normalise_unit,
    round_glucose,
)
from followup.validation import ResolvedReading

EARLIEST_READING = datetime(2000, 1, 1).astimezone()


@dataclass(frozen=True)
class Entry:
    """Who entered a reading and through which door."""

    source: ReadingSource
    kind: str  # patient, caregiver, staff, api, import
    user_id: int | None = None
    sms_message_id: int | None = None


def resolve_submission(
    *, kind: ReadingKind, value: Decimal | float | str | None = None, systolic: int | None = None,
    diastolic: int | None = None, pulse: int | None = None, unit: str | None = None,
    context: GlucoseContext | None = None, meter_flag: MeterFlag | None = None, default_glucose_unit: str = "mmol/L",
) -> list[ResolvedReading]:
    """Turn a form or API submission into readings, or raise ValidationFailed naming each bad field.

    Structured input has no ambiguity to ask about: a value outside the hard bounds is refused, a value in
    the soft band is stored (the person entering it saw the number)."""
    errors = FieldErrors()
    resolved: list[ResolvedReading] = []
    if kind == ReadingKind.blood_pressure:
        if systolic is None:
            errors.add("systolic", "Enter the upper (systolic) number.")
        if diastolic is None:
            errors.add("diastolic", "Enter the lower (diastolic) number.")
        if unit not in (None, "", "mmHg", "mm[Hg]"):
            errors.add("unit", "Blood pressure is entered in mmHg.")
        errors.raise_if_any()
        values = (Decimal(systolic), Decimal(diastolic))  # type: ignore[arg-type]
        if check_plausibility(kind=kind, values=values, unit=Unit.mmhg).level == Plausibility.reject:
            errors.add("systolic", "Blood pressure %(s)s/%(d)s is outside what a meter can show. Please re-measure.",
                       s=systolic, d=diastolic)
        errors.raise_if_any()
        resolved.append(ResolvedReading(kind=kind, values=values, unit=Unit.mmhg, canonical=values))
        if pulse is not None:
            resolved.extend(resolve_submission(kind=ReadingKind.heart_rate, value=pulse, unit="/min"))
        return resolved
    if kind == ReadingKind.glucose and meter_flag is not None:
        glucose_unit = normalise_unit(unit or default_glucose_unit) or Unit.mmol_l
        return [ResolvedReading(kind=kind, values=(), unit=glucose_unit, canonical=(),
                                context=context or GlucoseContext.random, flag=meter_flag)]
    number = _decimal(value)
    if number is None:
        errors.add("value", "Enter the number shown on the meter.")
        errors.raise_if_any()
    allowed = {ReadingKind.glucose: GLUCOSE_UNITS, ReadingKind.heart_rate: {Unit.per_min},
               ReadingKind.weight: WEIGHT_UNITS}[kind]
    chosen = normalise_unit(unit) if unit else (
        normalise_unit(default_glucose_unit) if kind == ReadingKind.glucose else CANONICAL_UNIT[kind])
    if chosen not in allowed:
        errors.add("unit", "Choose one of: %(units)s.", units=", ".join(sorted(str(u) for u in allowed)))
        errors.raise_if_any()
    assert number is not None and chosen is not None
    if kind == ReadingKind.glucose and abs(number) < 100_000:  # larger: refused below, and too big to round
        number = round_glucose(number, chosen)
    if check_plausibility(kind=kind, values=(number,), unit=chosen, bounds=DEFAULT_BOUNDS).level == Plausibility.reject:
        errors.add("value", "%(value)s %(unit)s is outside what a meter can show. Please re-measure.",
                   value=number, unit=chosen)
        errors.raise_if_any()
    canonical = canonical_value(kind=kind, value=number, unit=chosen)
    return [ResolvedReading(kind=kind, values=(number,), unit=chosen, canonical=(canonical,),
                            context=(context or GlucoseContext.random) if kind == ReadingKind.glucose else None)]


def _decimal(value: Decimal | float | str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def record_readings(
    *, session: Session, patient: Patient, readings: Sequence[ResolvedReading], taken_at: datetime, entry: Entry,
    external_ids: Sequence[str | None] | None = None, ids_are_new: bool = False,
) -> list[Reading]:
    """Store readings; one whose external id is already stored for the patient is returned, not duplicated.

    `ids_are_new`: the caller has just stored, under its own unique key, the message the external ids derive
    from (an SMS), so none of them can be stored yet; the lookups and savepoints are skipped (the unique index
    still stands guard)."""
    if taken_at.tzinfo is None:
        raise ValueError("taken_at must carry a time zone")
    stored: list[Reading] = []
    for index, resolved in enumerate(readings):
        external_id = external_ids[index] if external_ids else None
        if ids_are_new:
            stored.append(_row(patient, resolved, taken_at, entry, external_id))
            session.add(stored[-1])
            continue
        if external_id is not None:
            existing = session.scalar(select(Reading).where(Reading.patient_id == patient.id,
                                                            Reading.external_id == external_id))
            if existing is not None:
                stored.append(existing)
                continue
        reading = _row(patient, resolved, taken_at, entry, external_id)
        if external_id is None:  # nothing to collide with: stored by the flush below, without a savepoint
            session.add(reading)
            stored.append(reading)
            continue
        try:
            with session.begin_nested():
                session.add(reading)
        except IntegrityError:  # the same external id arrived concurrently: keep the first
            existing = session.scalar(select(Reading).where(Reading.patient_id == patient.id,
                                                            Reading.external_id == external_id))
            if existing is None:
                raise
            stored.append(existing)
            continue
        stored.append(reading)
    session.flush()
    return stored


def _row(patient: Patient, resolved: ResolvedReading, taken_at: datetime, entry: Entry,
         external_id: str | None) -> Reading:
    is_bp = resolved.kind == ReadingKind.blood_pressure
    return Reading(
        clinic_id=patient.clinic_id, patient_id=patient.id, kind=resolved.kind, context=resolved.context,
        meter_flag=resolved.flag,
        value_original=None if is_bp or not resolved.values else resolved.values[0],
        unit_original=str(resolved.unit),
        systolic=int(resolved.values[0]) if is_bp else None, diastolic=int(resolved.values[1]) if is_bp else None,
        value_canonical=None if is_bp or not resolved.canonical else resolved.canonical[0],
        taken_at=taken_at, received_at=utcnow(), source=entry.source, entered_by_kind=entry.kind,
        entered_by_id=entry.user_id, sms_message_id=entry.sms_message_id, external_id=external_id,
    )


def _as_sent(value: Decimal | None, unit: str) -> Decimal | None:
    """The value as the patient wrote it: the database keeps two decimals (11.00), texts quote 11.0."""
    if value is None:
        return None
    step = Decimal("1") if unit in ("mg/dL", "/min", "mmHg") else Decimal("0.1")
    return value.quantize(step)


def as_fact(reading: Reading) -> ReadingFact:
    return ReadingFact(
        id=reading.id, kind=reading.kind, taken_at=reading.taken_at,
        value=_as_sent(reading.value_original, reading.unit_original),
        unit=reading.unit_original, systolic=reading.systolic, diastolic=reading.diastolic, context=reading.context,
        meter_flag=reading.meter_flag,
    )


# What a rule reads of a reading; selected as plain columns, as no rule needs the ORM object (a window holds up to
# dozens of readings, and building Reading objects for them was a good part of a reading's cost).
_FACT_COLUMNS = (Reading.id, Reading.kind, Reading.taken_at, Reading.value_original, Reading.unit_original,
                 Reading.systolic, Reading.diastolic, Reading.context, Reading.meter_flag)


def facts_in_window(*, session: Session, patient_id: int, spec: WindowSpec) -> list[ReadingFact]:
    """Exactly the readings a rule's window needs, newest first, through the (patient, kind, taken_at) index."""
    if spec.limit == 0:
        return []
    query = select(*_FACT_COLUMNS).where(Reading.patient_id == patient_id, Reading.voided_at.is_(None))
    if spec.kind is not None:
        query = query.where(Reading.kind == spec.kind)
    if spec.contexts:
        query = query.where(Reading.context.in_([str(c) for c in spec.contexts]))
    if spec.since is not None:
        query = query.where(Reading.taken_at >= spec.since)
    query = query.order_by(Reading.taken_at.desc(), Reading.id.desc())
    if spec.limit is not None:
        query = query.limit(spec.limit)
    return [ReadingFact(id=id_, kind=kind, taken_at=taken_at, value=_as_sent(value, unit), unit=unit, systolic=systolic,
                        diastolic=diastolic, context=context, meter_flag=flag)
            for id_, kind, taken_at, value, unit, systolic, diastolic, context, flag in session.execute(query)]


def facts_for_windows(*, session: Session, patient_id: int, specs: Sequence[WindowSpec]) -> list[list[ReadingFact]]:
    """What each spec asks for (as facts_in_window would return it), reading each kind's widest dated window
    once and cutting it per spec in Python: a reading costs one query per kind, not one per rule.

    A spec with only a count (the newest n) is cut from that window when the window holds n of its readings;
    otherwise it gets its own limited query, so no rule ever reads further back than its window."""
    dated: dict[ReadingKind, list[WindowSpec]] = {}
    for spec in specs:
        if spec.limit != 0 and spec.since is not None and spec.kind is not None:
            dated.setdefault(spec.kind, []).append(spec)
    fetched: dict[ReadingKind, tuple[frozenset[str] | None, list[ReadingFact]]] = {}
    for kind, group in dated.items():
        contexts = None if any(not s.contexts for s in group) else frozenset(
            str(c) for s in group for c in s.contexts or ())
        union = tuple(GlucoseContext(c) for c in sorted(contexts)) if contexts else None
        widest = WindowSpec(kind=kind, contexts=union, since=min(s.since for s in group if s.since), limit=None)
        fetched[kind] = (contexts, facts_in_window(session=session, patient_id=patient_id, spec=widest))
    results: list[list[ReadingFact]] = []
    for spec in specs:
        got = fetched.get(spec.kind) if spec.kind is not None and spec.limit != 0 else None
        if got is not None and _covers(got[0], spec.contexts):
            cut = _cut(got[1], spec)
            if spec.since is not None or (spec.limit is not None and len(cut) >= spec.limit):
                results.append(cut)
                continue
        results.append(facts_in_window(session=session, patient_id=patient_id, spec=spec))
    return results


def _covers(fetched: frozenset[str] | None, wanted: Sequence[GlucoseContext] | None) -> bool:
    return fetched is None or (bool(wanted) and {str(c) for c in wanted or ()} <= fetched)


def _cut(facts: list[ReadingFact], spec: WindowSpec) -> list[ReadingFact]:
    """The spec's slice of a wider window (already newest first), as facts_in_window's query would select it."""
    wanted = {str(c) for c in spec.contexts} if spec.contexts else None
    cut = [f for f in facts if (wanted is None or (f.context is not None and str(f.context) in wanted))
           and (spec.since is None or f.taken_at >= spec.since)]
    return cut if spec.limit is None else cut[:spec.limit]


def list_readings(
    *, session: Session, patient_id: int, kind: ReadingKind | None = None, since: datetime | None = None,
    until: datetime | None = None, page: int = 1, per_page: int = 50,
) -> tuple[list[Reading], int]:
    query = select(Reading).where(Reading.patient_id == patient_id, Reading.voided_at.is_(None))
    if kind is not None:
        query = query.where(Reading.kind == kind)
    if since is not None:
        query = query.where(Reading.taken_at >= since)
    if until is not None:
        query = query.where(Reading.taken_at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Reading.taken_at.desc(), Reading.id.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def last_reading_at(*, session: Session, patient_id: int) -> datetime | None:
    return session.scalar(select(func.max(Reading.taken_at)).where(Reading.patient_id == patient_id,
                                                                   Reading.voided_at.is_(None)))


def clinic_of(*, session: Session, patient: Patient) -> Clinic:
    clinic = session.get(Clinic, patient.clinic_id)
    assert clinic is not None
    return clinic
