"""Reading the callback queue: filters, the order doctors work in, and what a card or an API item needs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, and_, case, func, or_, select
from sqlalchemy.sql import Select
from sqlmodel import Session

from clinic.enums import Programme
from clinic.models import Patient, StaffUser
from followup.callbacks.outcomes import QueueScope
from followup.callbacks.policy import get_policy
from followup.enums import SEVERITY_ORDER, Severity
from followup.models import Callback, CallbackEvent, CallbackStatus, FollowupPolicy, Reading

STATUSES = ("open", "closed", "all")
# Compared member by member (not CASE value WHEN 'x') so PostgreSQL's enum column is compared as an enum.
_SEVERITY_RANK = case(*[(Callback.severity == s, rank) for s, rank in SEVERITY_ORDER.items()], else_=99)


@dataclass(frozen=True)
class QueueFilters:
    scope: QueueScope = QueueScope.all
    severity: Severity | None = None
    programme: Programme | None = None
    has_phone: bool = False
    status: str = "open"  # open, closed or all
    assigned_to: int | None = None


def queue_query(*, clinic_id: int, viewer_id: int, filters: QueueFilters,
                policy: FollowupPolicy) -> Select[tuple[Callback, Patient]]:
    """Escalated callbacks first, then by severity, then by due time (the most overdue first).

    "Mine" is what the viewer should call: assigned to them, unassigned callbacks of their own patients, and
    — for the on-call doctor and the supervisor — every escalated callback."""
    query = (select(Callback, Patient).join(Patient, Patient.id == Callback.patient_id)
             .where(Callback.clinic_id == clinic_id))
    if filters.status in ("open", "closed"):
        query = query.where(Callback.status == filters.status)
    if filters.scope is QueueScope.mine:
        mine = [Callback.assigned_to == viewer_id,
                and_(Callback.assigned_to.is_(None), Patient.family_doctor_id == viewer_id)]
        if viewer_id in (policy.on_call_staff_id, policy.supervisor_staff_id):
            mine.append(and_(Callback.escalated_at.is_not(None), Callback.status == CallbackStatus.open))
        query = query.where(or_(*mine))
    elif filters.scope is QueueScope.unassigned:
        query = query.where(Callback.assigned_to.is_(None))
    if filters.assigned_to is not None:
        query = query.where(Callback.assigned_to == filters.assigned_to)
    if filters.severity is not None:
        query = query.where(Callback.severity == filters.severity)
    if filters.programme is Programme.hypertension:
        query = query.where(Patient.has_hypertension.is_(True))
    elif filters.programme is Programme.diabetes:
        query = query.where(Patient.has_diabetes.is_(True))
    if filters.has_phone:
        query = query.where(Patient.phone.is_not(None), Patient.phone_invalid.is_(False))
    if filters.status == "closed":
        return query.order_by(Callback.closed_at.desc(), Callback.id.desc())
    return query.order_by(
        case((Callback.status == CallbackStatus.open, 0), else_=1),
        case((Callback.escalated_at.is_not(None), 0), else_=1),
        _SEVERITY_RANK, Callback.due_at, Callback.closed_at.desc(), Callback.id,
    )


def list_callbacks(*, session: Session, clinic_id: int, viewer_id: int, filters: QueueFilters,
                   policy: FollowupPolicy | None = None, page: int = 1, per_page: int = 20
                   ) -> tuple[list[tuple[Callback, Patient]], int]:
    """One page of the queue and the count of all; the clinic's policy is read only when "mine" needs it."""
    query, total = _queue_and_total(session, clinic_id, viewer_id, filters, policy)
    rows = session.execute(query.offset((page - 1) * per_page).limit(per_page)).all()
    return [(c, p) for c, p in rows], total


def list_callback_rows(*, session: Session, clinic_id: int, viewer_id: int, filters: QueueFilters,
                       page: int = 1, per_page: int = 20) -> tuple[list[Row[Any]], int]:
    """The same page as plain rows of the callback's columns, without patients (the API shows ids only and
    reads the rows like Callback objects): no ORM objects for what is only turned into JSON."""
    query, total = _queue_and_total(session, clinic_id, viewer_id, filters, None)
    columns = query.with_only_columns(*Callback.__table__.columns)  # type: ignore[attr-defined]
    return list(session.execute(columns.offset((page - 1) * per_page).limit(per_page))), total


def _queue_and_total(session: Session, clinic_id: int, viewer_id: int, filters: QueueFilters,
                     policy: FollowupPolicy | None) -> tuple[Select[tuple[Callback, Patient]], int]:
    if policy is None:
        policy = (get_policy(session=session, clinic_id=clinic_id) if filters.scope is QueueScope.mine
                  else FollowupPolicy(clinic_id=clinic_id))
    query = queue_query(clinic_id=clinic_id, viewer_id=viewer_id, filters=filters, policy=policy)
    return query, session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


# What a card's lines, alt text and chart, and an API item, read of a reading. Selected as plain rows (attribute
# names as on Reading): a queue page reads some 20 readings for each of its 20 patients, and building Reading
# objects for them was the largest part of the page's time.
_CHART_COLUMNS = (Reading.id, Reading.patient_id, Reading.kind, Reading.context, Reading.meter_flag,
                  Reading.value_original, Reading.unit_original, Reading.systolic, Reading.diastolic,
                  Reading.value_canonical, Reading.taken_at)


def tripped_readings(*, session: Session, callbacks: Iterable[Any]) -> dict[int, Row[Any]]:
    """The readings that opened (or were added to) these callbacks, by id, as rows of `_CHART_COLUMNS`."""
    ids = {i for c in callbacks for i in c.reading_ids}
    if not ids:
        return {}
    return {r.id: r for r in session.execute(select(*_CHART_COLUMNS).where(Reading.id.in_(ids)))}


def recent_readings(*, session: Session, patient_ids: Iterable[int], since: datetime,
                    per_patient: int = 30) -> dict[int, list[Row[Any]]]:
    """Each patient's latest readings since `since` (newest first), at most `per_patient` each, in one query, as
    rows of `_CHART_COLUMNS`."""
    ids = set(patient_ids)
    if not ids:
        return {}
    ranked = (select(Reading.id, func.row_number().over(partition_by=Reading.patient_id,
                                                        order_by=(Reading.taken_at.desc(), Reading.id.desc()))
                     .label("n"))
              .where(Reading.patient_id.in_(ids), Reading.taken_at >= since, Reading.voided_at.is_(None))
              .subquery())
    rows = session.execute(select(*_CHART_COLUMNS).join(ranked, ranked.c.id == Reading.id)
                           .where(ranked.c.n <= per_patient).order_by(Reading.patient_id, Reading.taken_at.desc()))
    grouped: dict[int, list[Row[Any]]] = defaultdict(list)
    for reading in rows:
        grouped[reading.patient_id].append(reading)
    return grouped


def events_for(*, session: Session, callback_ids: Iterable[int], kinds: Sequence[str] | None = None
               ) -> dict[int, list[CallbackEvent]]:
    """History rows per callback, oldest first (all kinds, or only `kinds`)."""
    ids = set(callback_ids)
    if not ids:
        return {}
    query = select(CallbackEvent).where(CallbackEvent.callback_id.in_(ids))
    if kinds:
        query = query.where(CallbackEvent.kind.in_(list(kinds)))
    grouped: dict[int, list[CallbackEvent]] = defaultdict(list)
    for event in session.scalars(query.order_by(CallbackEvent.at, CallbackEvent.id)):
        grouped[event.callback_id].append(event)
    return grouped


def staff_names(*, session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return dict(session.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(wanted)))
                .all())


def reason_in(callback: Callback | Row[Any], language: str) -> str:
    return (callback.reason_zh if language == "zh-CN" else callback.reason_en) or callback.reason_en


def reading_item(reading: Reading | Row[Any], tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": reading.id, "kind": str(reading.kind),
        "value": str(reading.value_original) if reading.value_original is not None else None,
        "unit": reading.unit_original, "systolic": reading.systolic, "diastolic": reading.diastolic,
        "context": str(reading.context) if reading.context else None,
        "meter_flag": str(reading.meter_flag) if reading.meter_flag else None,
        "taken_at": reading.taken_at.astimezone(tz).isoformat(),
    }


def callback_item(callback: Callback | Row[Any], *, readings: Mapping[int, Row[Any]], language: str,
                  tz: ZoneInfo) -> dict[str, Any]:
    """One callback as the API shows it; times are ISO 8601 with the clinic's offset."""
    def iso(value: datetime | None) -> str | None:
        return value.astimezone(tz).isoformat() if value is not None else None

    return {
        "id": callback.id, "patient_id": callback.patient_id, "rule_code": callback.rule_code,
        "rule_version": callback.rule_version, "severity": str(callback.severity), "status": str(callback.status),
        "opened_at": iso(callback.opened_at), "due_at": iso(callback.due_at),
        "next_attempt_at": iso(callback.next_attempt_at), "reason": reason_in(callback, language),
        "readings": [reading_item(readings[i], tz) for i in callback.reading_ids if i in readings],
        "attempts": callback.attempts, "assigned_to": callback.assigned_to,
        "escalated": callback.escalated_at is not None, "escalated_at": iso(callback.escalated_at),
        "closed_at": iso(callback.closed_at), "closed_by": callback.closed_by,
        "outcome": callback.outcome or None, "close_reason": callback.close_reason or None,
    }
