"""Builders for readings, callbacks and their history rows, for the rule admin, reminder and metrics tests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from clinic.models import Patient
from followup.enums import GlucoseContext, MeterFlag, ReadingKind, ReadingSource, Severity
from followup.models import Callback, CallbackEvent, CallbackStatus, Reading


def add_reading(session: Session, patient: Patient, taken_at: datetime, *, kind: ReadingKind = ReadingKind.glucose,
                value: str | None = None, unit: str | None = None, bp: tuple[int, int] | None = None,
                context: GlucoseContext | None = GlucoseContext.fasting, flag: MeterFlag | None = None,
                source: ReadingSource = ReadingSource.sms, entered_by: str = "patient") -> Reading:
    is_bp = bp is not None
    reading = Reading(
        clinic_id=patient.clinic_id, patient_id=patient.id, kind=ReadingKind.blood_pressure if is_bp else kind,
        context=None if is_bp or kind != ReadingKind.glucose else context, meter_flag=flag,
        value_original=None if is_bp or value is None else Decimal(value),
        unit_original="mmHg" if is_bp else (unit or "mmol/L"),
        systolic=bp[0] if bp else None, diastolic=bp[1] if bp else None,
        value_canonical=None if is_bp or value is None else Decimal(value), taken_at=taken_at, received_at=taken_at,
        source=source, entered_by_kind=entered_by,
    )
    session.add(reading)
    session.flush()
    return reading


def add_callback(session: Session, patient: Patient, *, opened_at: datetime, due_at: datetime,
                 closed_at: datetime | None = None, outcome: str = "", rule_code: str = "DES-GLU-3D",
                 assigned_to: int | None = None, **overrides: Any) -> Callback:
    callback = Callback(
        clinic_id=patient.clinic_id, patient_id=patient.id, rule_code=rule_code, rule_version=1,
        severity=overrides.pop("severity", Severity.same_day), opened_at=opened_at, due_at=due_at,
        status=CallbackStatus.closed if closed_at else CallbackStatus.open, closed_at=closed_at, outcome=outcome,
        assigned_to=assigned_to, reason_zh="原因", reason_en="reason", reading_ids=[], **overrides,
    )
    session.add(callback)
    session.flush()
    return callback


def add_attempt(session: Session, callback: Callback, at: datetime, outcome: str = "reached",
                result: str | None = "advice_given") -> CallbackEvent:
    event = CallbackEvent(callback_id=callback.id, at=at, kind="attempt",
                          detail={"outcome": outcome, "result": result if outcome == "reached" else None})
    session.add(event)
    session.flush()
    return event
