"""The Simple-style overdue list: programme patients with no follow-up (a reached call or a staff-entered
reading) within the follow-up interval, computed in one query per page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, or_, select, type_coerce
from sqlmodel import Session

from clinic.enums import Programme
from clinic.models import Clinic, Patient, StaffUser
from core.db import UTCDateTime
from followup.dates import (
    FOLLOW_UP_INTERVAL_DAYS,
    OVERDUE_LIST_HORIZON_DAYS,
    FollowUpStatus,
    follow_up_status,
    overdue_cutoff,
)
from followup.enums import ReadingSource
from followup.models import Callback, CallbackStatus, Reading

REACHED = "reached"


@dataclass(frozen=True)
class OverdueRow:
    patient: Patient
    doctor_name: str
    status: FollowUpStatus
    last_reading_at: datetime | None


def _later(a: ColumnElement[datetime], b: ColumnElement[datetime]) -> ColumnElement[datetime]:
    # GREATEST ignores NULLs on PostgreSQL but SQLite's max() returns NULL; a CASE behaves the same on both.
    return type_coerce(case((a.is_(None), b), (b.is_(None), a), (a > b, a), else_=b), UTCDateTime)


def last_follow_up_subqueries(clinic_id: int) -> tuple[object, object]:
    """Per patient: the last reached call and the last staff-entered reading (a clinic visit)."""
    calls = (
        select(Callback.patient_id.label("patient_id"), func.max(Callback.closed_at).label("at"))
        .where(Callback.clinic_id == clinic_id, Callback.status == CallbackStatus.closed,
               Callback.outcome == REACHED)
        .group_by(Callback.patient_id).subquery("last_call")
    )
    visits = (
        select(Reading.patient_id.label("patient_id"), func.max(Reading.taken_at).label("at"))
        .where(Reading.clinic_id == clinic_id, Reading.voided_at.is_(None),
               or_(Reading.source == ReadingSource.staff, Reading.entered_by_kind == "staff"))
        .group_by(Reading.patient_id).subquery("last_visit")
    )
    return calls, visits


def list_overdue(
    *, session: Session, clinic: Clinic, now: datetime, programme: Programme | None = None,
    doctor_id: int | None = None, include_older: bool = False, page: int = 1, per_page: int | None = 25,
    interval_days: int = FOLLOW_UP_INTERVAL_DAYS,
) -> tuple[list[OverdueRow], int]:
    """Overdue patients, longest wait first; `per_page=None` returns every row (the CSV export).

    By default patients more than a year overdue are left out, as in Simple: they are lost to follow-up and
    need a different conversation than a routine call."""
    tz = ZoneInfo(clinic.timezone)
    calls, visits = last_follow_up_subqueries(clinic.id)
    last_follow_up = _later(calls.c.at, visits.c.at)  # type: ignore[attr-defined]
    anchor = func.coalesce(last_follow_up, Patient.created_at)
    readings = (
        select(Reading.patient_id.label("patient_id"), func.max(Reading.taken_at).label("at"))
        .where(Reading.clinic_id == clinic.id, Reading.voided_at.is_(None))
        .group_by(Reading.patient_id).subquery("last_reading")
    )
    cutoff = overdue_cutoff(now, tz, interval_days)
    query = (
        select(Patient, type_coerce(last_follow_up, UTCDateTime), type_coerce(readings.c.at, UTCDateTime),
               StaffUser.display_name)
        .outerjoin(calls, calls.c.patient_id == Patient.id)  # type: ignore[attr-defined]
        .outerjoin(visits, visits.c.patient_id == Patient.id)  # type: ignore[attr-defined]
        .outerjoin(readings, readings.c.patient_id == Patient.id)
        .outerjoin(StaffUser, StaffUser.id == Patient.family_doctor_id)
        .where(Patient.clinic_id == clinic.id, Patient.active.is_(True),
               or_(Patient.has_hypertension.is_(True), Patient.has_diabetes.is_(True)),
               type_coerce(anchor, UTCDateTime) < cutoff)
    )
    if not include_older:
        query = query.where(type_coerce(anchor, UTCDateTime) >= cutoff - timedelta(days=OVERDUE_LIST_HORIZON_DAYS))
    if programme is Programme.hypertension:
        query = query.where(Patient.has_hypertension.is_(True))
    elif programme is Programme.diabetes:
        query = query.where(Patient.has_diabetes.is_(True))
    if doctor_id is not None:
        query = query.where(Patient.family_doctor_id == doctor_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = query.order_by(anchor, Patient.id)
    if per_page is not None:
        query = query.offset((page - 1) * per_page).limit(per_page)
    rows = [
        OverdueRow(
            patient=patient, doctor_name=doctor_name or "", last_reading_at=last_reading,
            status=follow_up_status(last_follow_up=followed, enrolled_at=patient.created_at, now=now, tz=tz,
                                    interval_days=interval_days),
        )
        for patient, followed, last_reading, doctor_name in session.execute(query).all()
    ]
    return rows, total

