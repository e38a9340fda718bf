"""Escalating a callback nobody managed to complete: pinned for supervisors and the on-call doctor, and the
patient (when SMS is allowed) asked by text to call the clinic. Exactly once per callback episode."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select, update
from sqlmodel import Session

from clinic.models import Clinic, Patient
from core.audit import record_audit
from core.db import utcnow
from core.jobs import enqueue, outbox_actor
from core.messaging import queue_sms
from core.models import AuditAction, SmsMessage
from core.security import Principal
from core.templating import TEMPLATE_DIR
from followup.callbacks.outcomes import AttemptOutcome
from followup.callbacks.policy import (
    clinic_timezone,
    get_policy,
    is_service_time,
    next_service_start,
    on_call_doctor,
)
from followup.models import Callback, CallbackEvent, CallbackStatus, FollowupPolicy

ESCALATION_SMS_PURPOSE = "callback_escalation"
DEFERRED_SMS_ACTOR = "followup.text_escalated_patient"


def escalate_callback(
    *, session: Session, callback_id: int, reason: str, now: datetime | None = None,
    actor: Principal | None = None, client_address: str = "",
) -> bool:
    """Mark the callback escalated if it is open and not escalated yet; True when this call did it.

    The conditional UPDATE is the claim: of two workers (or a sweep and a doctor's third "no answer")
    racing on the same callback, exactly one sees a changed row and does the rest."""
    now = now or utcnow()
    won = session.execute(
        update(Callback)
        .where(Callback.id == callback_id, Callback.status == CallbackStatus.open, Callback.escalated_at.is_(None))
        .values(escalated_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount == 1
    if not won:
        return False
    callback = session.get(Callback, callback_id)
    assert callback is not None
    policy = get_policy(session=session, clinic_id=callback.clinic_id)
    tz = clinic_timezone(session=session, clinic_id=callback.clinic_id)
    detail: dict[str, object] = {"reason": reason, "due_at": callback.due_at.isoformat(),
                                 "attempts": callback.attempts, "routed_to": None, "sms_message_id": None,
                                 "sms_after": None}
    on_call = on_call_doctor(session=session, policy=policy)
    if callback.assigned_to is None and on_call is not None and not is_service_time(policy, now, tz):
        # Out of hours nobody else is looking at the queue; the on-call doctor owns it from here.
        callback.assigned_to = on_call
        detail["routed_to"] = on_call
        session.add(CallbackEvent(callback_id=callback.id, at=now, kind="assigned", actor_id=None,
                                  detail={"to": on_call, "previous": None, "reason": "out_of_hours"}))
    patient = session.get(Patient, callback.patient_id)
    assert patient is not None
    if _may_text(session, callback, patient, policy):
        send_at = next_service_start(policy, now, tz)
        if send_at <= now:
            detail["sms_message_id"] = _text_patient(session, callback, patient, policy).id
        else:
            # A "please call us" text at 3 a.m. wakes an elderly patient to ring a closed clinic: it waits
            # for opening time, and is dropped if the callback is dealt with before then.
            enqueue(session=session, actor_name=DEFERRED_SMS_ACTOR, run_after=send_at,
                    payload={"callback_id": callback.id, "escalated_at": now.isoformat()},
                    dedupe_key=f"callback-escalation-sms:{callback.id}:{now.isoformat()}")
            detail["sms_after"] = send_at.isoformat()
    session.add(CallbackEvent(callback_id=callback.id, at=now, kind="escalated",
                              actor_id=actor.user_id if actor else None, detail=detail))
    record_audit(session=session, action=AuditAction.update, object_type="callback", object_id=callback.id,
                 principal=actor, clinic_id=callback.clinic_id, patient_id=callback.patient_id,
                 client_address=client_address, detail=f"escalated: {reason}",
                 actor_kind=None if actor else "system")
    session.flush()
    return True


@outbox_actor(DEFERRED_SMS_ACTOR)
def text_escalated_patient(*, session: Session, callback_id: int, escalated_at: str) -> None:
    """The deferred escalation text, sent at opening time if the same escalation still stands."""
    callback = session.get(Callback, callback_id)
    if (callback is None or callback.status != CallbackStatus.open or callback.escalated_at is None
            or callback.escalated_at != datetime.fromisoformat(escalated_at)):
        return  # reached, closed or re-escalated meanwhile: this text would be stale
    patient = session.get(Patient, callback.patient_id)
    policy = get_policy(session=session, clinic_id=callback.clinic_id)
    if patient is not None and _may_text(session, callback, patient, policy):
        _text_patient(session, callback, patient, policy)


def escalation_sms_text(*, language: str, clinic_phone: str, emergency_number: str) -> str:
    """The text asking a patient to call back: no reading, no diagnosis, no programme (DESIGN.md, SMS)."""
    lang = "zh-CN" if language.lower().startswith("zh") else "en"
    template = _environment().get_template(f"sms/callback_call_us.{lang}.txt")
    return template.render(phone=clinic_phone, n=emergency_number).strip()


def _may_text(session: Session, callback: Callback, patient: Patient, policy: FollowupPolicy) -> bool:
    if not policy.escalation_sms or not patient.may_receive_sms:
        return False
    # A reported wrong number reaches someone else: texting it would tell a stranger about the patient.
    return not _wrong_number_reported(session, callback.id)


def _text_patient(session: Session, callback: Callback, patient: Patient, policy: FollowupPolicy) -> SmsMessage:
    clinic = session.get(Clinic, callback.clinic_id)
    body = escalation_sms_text(language=patient.language, clinic_phone=policy.clinic_phone,
                               emergency_number=clinic.emergency_number if clinic else "120")
    assert patient.phone is not None
    return queue_sms(session=session, phone=patient.phone, body=body, purpose=ESCALATION_SMS_PURPOSE,
                     clinic_id=callback.clinic_id, patient_id=patient.id)


def _wrong_number_reported(session: Session, callback_id: int) -> bool:
    details = session.scalars(select(CallbackEvent.detail).where(CallbackEvent.callback_id == callback_id,
                                                                 CallbackEvent.kind == "attempt"))
    return any(d.get("outcome") == AttemptOutcome.wrong_number for d in details)


def due_for_escalation(*, session: Session, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Open, not yet escalated callbacks whose due time has passed, most overdue first."""
    now = now or utcnow()
    return list(session.scalars(
        select(Callback.id)
        .where(Callback.status == CallbackStatus.open, Callback.escalated_at.is_(None), Callback.due_at <= now)
        .order_by(Callback.due_at, Callback.id).limit(limit)
    ))


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=False, undefined=StrictUndefined)
