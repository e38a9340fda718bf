"""The SMS conversation with a patient: one inbound message in, readings and callbacks stored, one reply out.

Clinical-rules.md §5–§6: a redelivered message (same provider id) gets the stored reply and creates
nothing; an unknown sender gets a short "not registered" reply and nothing but a security log row;
questions wait 30 minutes for OK/确认 or N/不对; opting out stops texts, never follow-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic.models import Clinic, Patient
from clinic.service import (
    find_patient_and_clinic_by_phone,
    normalise_phone,
    record_sms_opt_in,
    record_sms_opt_out,
)
from core.audit import record_audit
from core.db import utcnow
from core.events import record_event
from core.models import AuditAction, SmsDirection, SmsMessage, SmsStatus
from core.security import mask_phone
from core.sms import InboundSms
from followup.callbacks import open_callback
from followup.enums import Intent, QuestionKind, ReadingSource, ReplyTier, Severity
from followup.flows import Evaluation, deserialise, evaluate_readings, recent_urgent_reply, serialise
from followup.grammar import parse
from followup.models import PendingConfirmation, PendingStatus, Reading
from followup.replies import ReplyKind, compose_reply, reply_for_message
from followup.service import Entry, record_readings
from followup.validation import interpret

QUESTION_LIFETIME = timedelta(minutes=30)
# A message that starts with one of these is feedback for the quality team, not a reading (issue 5).
COMPLAINT_WORDS = ("投诉", "complaint", "complain")
URGENT_REPLY_SPACING = timedelta(minutes=10)
_URGENT = {ReplyTier.urgent_bp, ReplyTier.urgent_glucose_high, ReplyTier.urgent_low, ReplyTier.symptom}


@dataclass
class SmsOutcome:
    reply: str | None
    duplicate: bool = False
    message_id: int | None = None
    patient_id: int | None = None
    readings: list[Reading] = field(default_factory=list)
    evaluation: Evaluation | None = None


def handle_inbound_sms(*, session: Session, inbound: InboundSms) -> SmsOutcome:
    """Store, understand and answer one inbound message. A redelivery (same provider message id) stores nothing
    and repeats the first reply: its insert hits the message's unique key (Twilio retries are rare, so the common
    new message pays no lookup for them)."""
    phone = normalise_phone(inbound.from_e164) or inbound.from_e164
    found = find_patient_and_clinic_by_phone(session=session, phone=phone)
    parsed = parse(inbound.body)
    if found is None:
        # Only a security note: an unknown number's message is not health data we may keep (PIPL minimum).
        record_audit(session=session, action=AuditAction.security, object_type="sms_inbound",
                     actor_kind="unknown-sender", detail=f"SMS from unregistered number {mask_phone(phone)}")
        language = parsed.language_hint or "zh-CN"
        return SmsOutcome(reply=compose_reply(kind=ReplyKind.not_registered, language=language,
                                              emergency_number="120" if language == "zh-CN" else "911"))
    patient, clinic = found
    message = SmsMessage(
        direction=SmsDirection.inbound, provider=inbound.provider, provider_message_id=inbound.provider_message_id,
        clinic_id=clinic.id, patient_id=patient.id, phone=phone, body=inbound.body[:1600], status=SmsStatus.received,
    )
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:  # a redelivery, or a concurrent delivery of the same message that won
        stored = _stored(session, inbound)
        if stored is None:
            raise
        return SmsOutcome(reply=stored.reply_body or None, duplicate=True, message_id=stored.id,
                          patient_id=stored.patient_id)
    outcome = _converse(session, patient, clinic, message, parsed, inbound)
    message.reply_body = outcome.reply or ""
    record_audit(session=session, action=AuditAction.sms_received, object_type="sms_message", object_id=message.id,
                 clinic_id=clinic.id, patient_id=patient.id, actor_kind="patient", actor_name=patient.name)
    session.flush()
    return outcome


def _stored(session: Session, inbound: InboundSms) -> SmsMessage | None:
    return session.scalar(select(SmsMessage).where(
        SmsMessage.provider == inbound.provider, SmsMessage.provider_message_id == inbound.provider_message_id))


def _converse(session: Session, patient: Patient, clinic: Clinic, message: SmsMessage, parsed, inbound) -> SmsOutcome:
    now = utcnow()
    if inbound.body.strip().lower().startswith(COMPLAINT_WORDS):
        return _complaint(session, patient, clinic, message, inbound)
    interpretation = interpret(parsed, glucose_unit=str(patient.glucose_unit),
                               programmes=[str(p) for p in patient.programmes])
    outcome = SmsOutcome(reply=None, message_id=message.id, patient_id=patient.id)
    entry = Entry(source=ReadingSource.sms, kind="patient", user_id=patient.id, sms_message_id=message.id)
    intent = interpretation.intent
    if intent == Intent.opt_out:
        record_sms_opt_out(session=session, patient=patient, keyword=parsed.keyword or "stop")
    elif intent == Intent.opt_in:
        record_sms_opt_in(session=session, patient=patient, keyword=parsed.keyword or "start")
    elif intent in (Intent.confirm, Intent.reject):
        pending = _open_question(session, patient.id, now)
        if pending is not None:
            pending.status = PendingStatus.confirmed if intent == Intent.confirm else PendingStatus.rejected
            pending.resolved_at = now
            if intent == Intent.confirm and pending.proposal:
                outcome.readings = record_readings(session=session, patient=patient, readings=[
                    deserialise(pending.proposal)], taken_at=pending.created_at, entry=entry,
                    external_ids=[f"{inbound.provider}:{inbound.provider_message_id}:0"], ids_are_new=True)
                outcome.evaluation = evaluate_readings(session=session, patient=patient, clinic=clinic,
                                                       readings=outcome.readings, now=now)
    elif intent == Intent.opt_out_like:
        # Carriers act only on single-word STOP; a sentence asking to stop needs a person (§5.4 item 4).
        open_callback(session=session, patient=patient, rule_code="SMS-REVIEW", rule_version=1,
                      severity=Severity.routine, due_at=now + timedelta(days=1),
                      reason_zh=f"患者短信：「{parsed.normalised[:60]}」——可能希望停止短信，请联系确认。",
                      reason_en=f"Patient wrote: \"{parsed.normalised[:60]}\" — may want texts stopped; please check.")
    if interpretation.accepted or interpretation.questions or parsed.symptoms:
        _supersede_questions(session, patient.id, now)
        if interpretation.accepted:
            outcome.readings = record_readings(
                session=session, patient=patient, readings=interpretation.accepted, taken_at=inbound.received_at,
                entry=entry, external_ids=[f"{inbound.provider}:{inbound.provider_message_id}:{i}"
                                           for i in range(len(interpretation.accepted))], ids_are_new=True)
        candidates = []
        for question in interpretation.questions[:1]:
            session.add(PendingConfirmation(
                patient_id=patient.id, sms_message_id=message.id, question_kind=str(question.kind),
                proposal=serialise(question.proposed) if question.proposed else None,
                expires_at=now + QUESTION_LIFETIME))
            if question.kind in (QuestionKind.glucose_unit, QuestionKind.bare_ambiguous):
                candidates.extend(question.candidates)
        outcome.evaluation = evaluate_readings(session=session, patient=patient, clinic=clinic,
                                               readings=outcome.readings, symptoms=parsed.symptoms,
                                               candidates=candidates, now=now)
    tier = outcome.evaluation.tier if outcome.evaluation else None
    message.purpose = str(tier) if tier else ""
    if tier in _URGENT and recent_urgent_reply(session=session, phone=message.phone, now=now,
                                               within=URGENT_REPLY_SPACING, exclude_message_id=message.id):
        tier = None  # the care team is already coming; a second alarm in ten minutes only frightens
    if patient.sms_opted_out and intent != Intent.opt_in:
        return outcome  # stored and evaluated, but no text to a patient who asked for none
    outcome.reply = reply_for_message(
        parsed=parsed, interpretation=interpretation, tier=tier, language=patient.language,
        emergency_number=clinic.emergency_number, glucose_unit=str(patient.glucose_unit),
    )
    return outcome


def _complaint(session: Session, patient: Patient, clinic: Clinic, message: SmsMessage,
               inbound: InboundSms) -> SmsOutcome:
    """Hand the text to the feedback domain (which owns complaints) through an event; acknowledge it."""
    message.purpose = "complaint"
    record_event(session=session, name="sms.complaint_received", clinic_id=clinic.id, payload={
        "patient_id": patient.id, "clinic_id": clinic.id, "sms_message_id": message.id, "body": inbound.body[:1600]})
    reply = None if patient.sms_opted_out else compose_reply(
        kind=ReplyKind.complaint_received, language=patient.language, emergency_number=clinic.emergency_number)
    return SmsOutcome(reply=reply, message_id=message.id, patient_id=patient.id)


def _open_question(session: Session, patient_id: int, now) -> PendingConfirmation | None:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(PendingConfirmation).where(PendingConfirmation.patient_id == patient_id,
                                          PendingConfirmation.status == PendingStatus.open,
                                          PendingConfirmation.expires_at > now)
        .order_by(PendingConfirmation.id.desc()).limit(1))


def _supersede_questions(session: Session, patient_id: int, now) -> None:  # type: ignore[no-untyped-def]
    """A new reading replaces any question still waiting (§6.5)."""
    session.execute(update(PendingConfirmation).where(
        PendingConfirmation.patient_id == patient_id, PendingConfirmation.status == PendingStatus.open,
    ).values(status=PendingStatus.superseded, resolved_at=now))
