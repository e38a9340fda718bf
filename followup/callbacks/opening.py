"""Callbacks opened by rules: one open callback per patient and rule, later hits added to it, and the
clinic's policy applied (tier due time as a ceiling, out-of-hours emergencies routed to the on-call doctor)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic.models import Patient
from core.db import utcnow
from followup.callbacks.policy import clinic_timezone, get_policy, out_of_hours_owner, tier_due_at
from followup.enums import SEVERITY_ORDER, Severity
from followup.models import Callback, CallbackEvent, CallbackStatus


def open_callback(
    *, session: Session, patient: Patient, rule_code: str, rule_version: int, severity: Severity,
    due_at: datetime, reason_zh: str, reason_en: str, reading_ids: Sequence[int] = (),
) -> tuple[Callback, bool]:
    """Open a callback for (patient, rule), or add this hit to the one already open. Returns (callback, new).

    The partial unique index on open callbacks is the guarantee; the insert runs in a savepoint so that a
    concurrent transaction that opened the same callback first turns this hit into an update.

    A rule may ask for a call sooner than the clinic's promise for the tier, never later: the due time is
    the earlier of the rule's and the policy's."""
    now = utcnow()
    policy = get_policy(session=session, clinic_id=patient.clinic_id)
    tz = clinic_timezone(session=session, clinic_id=patient.clinic_id)
    ceiling = tier_due_at(policy, severity, now, tz)
    existing = _open_for(session, patient.id, rule_code)
    if existing is None:
        owner = out_of_hours_owner(session=session, policy=policy, severity=severity, at=now, tz=tz)
        callback = Callback(
            clinic_id=patient.clinic_id, patient_id=patient.id, rule_code=rule_code, rule_version=rule_version,
            severity=severity, due_at=min(due_at, ceiling), reason_zh=reason_zh, reason_en=reason_en,
            reading_ids=list(reading_ids), next_attempt_at=None, opened_at=now, assigned_to=owner,
        )
        try:
            with session.begin_nested():
                session.add(callback)
                session.flush()
        except IntegrityError:
            existing = _open_for(session, patient.id, rule_code)
            if existing is None:
                raise
        else:
            session.add(CallbackEvent(callback_id=callback.id, at=now, kind="opened", detail={
                "rule_code": rule_code, "rule_version": rule_version, "severity": str(severity),
                "reading_ids": list(reading_ids), "reason": reason_en, "reason_zh": reason_zh,
                "due_at": callback.due_at.isoformat(),
                "rule_due_at": due_at.isoformat()}))
            if owner is not None:
                session.add(CallbackEvent(callback_id=callback.id, at=now, kind="assigned",
                                          detail={"to": owner, "previous": None, "reason": "out_of_hours"}))
            session.flush()
            return callback, True
    _add_hit(session, existing, severity=severity, due_at=min(due_at, ceiling), reason_zh=reason_zh,
             reason_en=reason_en, reading_ids=reading_ids, rule_version=rule_version)
    if existing.assigned_to is None:
        owner = out_of_hours_owner(session=session, policy=policy, severity=existing.severity, at=now,
                                   tz=tz)
        if owner is not None:
            existing.assigned_to = owner
            session.add(CallbackEvent(callback_id=existing.id, at=now, kind="assigned",
                                      detail={"to": owner, "previous": None, "reason": "out_of_hours"}))
            session.flush()
    return existing, False


def _open_for(session: Session, patient_id: int, rule_code: str) -> Callback | None:
    query = select(Callback).where(Callback.patient_id == patient_id, Callback.rule_code == rule_code,
                                   Callback.status == CallbackStatus.open)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # serialise concurrent hits on the same callback
    return session.scalar(query)


def _add_hit(session: Session, callback: Callback, *, severity: Severity, due_at: datetime, reason_zh: str,
             reason_en: str, reading_ids: Sequence[int], rule_version: int) -> None:
    detail: dict[str, object] = {"reading_ids": list(reading_ids), "reason": reason_en, "reason_zh": reason_zh}
    if SEVERITY_ORDER[severity] < SEVERITY_ORDER[callback.severity]:
        detail["severity_raised_from"] = str(callback.severity)
        callback.severity = severity
    if due_at < callback.due_at:
        detail["due_moved_from"] = callback.due_at.isoformat()
        callback.due_at = due_at  # a more urgent hit brings the call forward, never pushes it back
    callback.reason_zh, callback.reason_en = reason_zh, reason_en
    callback.reading_ids = sorted(set(callback.reading_ids) | set(reading_ids))
    callback.rule_version = rule_version
    session.add(CallbackEvent(callback_id=callback.id, kind="hit_added", detail=detail))
    session.flush()


def open_callbacks_for(*, session: Session, patient_id: int) -> list[Callback]:
    return list(session.scalars(select(Callback).where(Callback.patient_id == patient_id,
                                                       Callback.status == CallbackStatus.open)))
