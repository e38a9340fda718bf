"""Messages about feedback items: the patient's acknowledgement and reply, and escalations to the supervisor.

Patient texts carry the reference number and the reply staff wrote, never a diagnosis or a programme name;
they go only to people who may be texted (consented, not opted out). Staff texts carry only the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from sqlmodel import Session

from clinic.models import Clinic, Patient, StaffUser
from core.events import record_event
from core.i18n import format_datetime
from core.messaging import queue_sms
from core.models import SmsMessage
from core.security import Role
from core.settings import REPO_ROOT
from feedback.history import add_history
from feedback.models import FeedbackItem, FeedbackPolicy


@dataclass(frozen=True)
class Contact:
    phone: str
    language: str
    may_text: bool


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Plain text for SMS: no HTML escaping (the carrier shows characters as they are).
    return Environment(loader=FileSystemLoader(REPO_ROOT / "templates"), undefined=StrictUndefined,
                       autoescape=False, trim_blocks=True, keep_trailing_newline=False)


def sms_text(name: str, language: str, **params: object) -> str:
    lang = "zh-CN" if language.lower().startswith("zh") else "en"
    return _environment().get_template(f"sms/feedback_{name}.{lang}.txt").render(**params).strip()


def local_due(value: datetime, language: str, tz: ZoneInfo) -> str:
    return format_datetime(value, language, tz, fmt="M月d日 HH:mm" if language == "zh-CN" else "d MMM HH:mm")


def patient_contact(*, session: Session, item: FeedbackItem) -> Contact | None:
    """Who to text about this item, and whether we may: a registered patient's consent, or the consent an
    anonymous complainant gave on the form (unless that number has opted out as a patient)."""
    if item.patient_id is not None:
        patient = session.get(Patient, item.patient_id)
        if patient is None or not patient.phone:
            return None
        return Contact(patient.phone, patient.language, patient.may_receive_sms)
    if not item.contact_phone:
        return None
    registered = session.scalar(select(Patient).where(Patient.phone == item.contact_phone))
    blocked = registered is not None and (registered.sms_opted_out or registered.phone_invalid)
    return Contact(item.contact_phone, item.contact_language, item.contact_consent and not blocked)


def text_patient(*, session: Session, item: FeedbackItem, clinic: Clinic, template: str,
                 **params: object) -> SmsMessage | None:
    contact = patient_contact(session=session, item=item)
    if contact is None or not contact.may_text:
        return None
    body = sms_text(template, contact.language, ref=item.reference, **params)
    message = queue_sms(session=session, phone=contact.phone, body=body, purpose=f"feedback_{template}",
                        clinic_id=clinic.id, patient_id=item.patient_id)
    add_history(session=session, item=item, kind="sms_queued", detail={"template": template,
                                                                       "sms_message_id": message.id})
    return message


def supervisors(*, session: Session, clinic_id: int, policy: FeedbackPolicy) -> list[StaffUser]:
    if policy.supervisor_id is not None:
        chosen = session.get(StaffUser, policy.supervisor_id)
        if chosen is not None and chosen.active:
            return [chosen]
    return list(session.scalars(select(StaffUser).where(
        StaffUser.clinic_id == clinic_id, StaffUser.active.is_(True),
        StaffUser.role.in_([Role.committee.value, Role.admin.value])).order_by(StaffUser.id)))


def text_staff(*, session: Session, item: FeedbackItem, clinic: Clinic, people: list[StaffUser], template: str,
               **params: object) -> list[int]:
    """Text each person who has a phone; returns the ids of those texted."""
    texted = []
    for person in people:
        if not person.phone:
            continue
        body = sms_text(template, person.language, ref=item.reference, **params)
        queue_sms(session=session, phone=person.phone, body=body, purpose=f"feedback_{template}",
                  clinic_id=clinic.id)
        texted.append(person.id)
    return texted


def escalate(*, session: Session, item: FeedbackItem, clinic: Clinic, policy: FeedbackPolicy, reason: str,
             timer: str = "", due_at: datetime | None = None) -> None:
    """Tell the supervisor (or the whole committee) and record that we did; the inbox shows it too."""
    people = supervisors(session=session, clinic_id=clinic.id, policy=policy)
    tz = ZoneInfo(clinic.timezone)
    if reason == "high_severity":
        texted = text_staff(session=session, item=item, clinic=clinic, people=people, template="staff_high")
    else:
        texted = [sid for person in people for sid in text_staff(
            session=session, item=item, clinic=clinic, people=[person], template="staff_breach", timer=timer,
            due=local_due(due_at or item.received_at, person.language, tz))]
    add_history(session=session, item=item, kind="escalated", detail={
        "reason": reason, "timer": timer, "notified": [p.id for p in people], "texted": texted})
    record_event(session=session, name="feedback.escalated", clinic_id=clinic.id, payload={
        "item_id": item.id, "clinic_id": clinic.id, "reason": reason, "timer": timer,
        "notified_staff_ids": [p.id for p in people]})


def warn_owner(*, session: Session, item: FeedbackItem, clinic: Clinic, policy: FeedbackPolicy, timer: str,
               due_at: datetime) -> None:
    """A deadline is near: the owner (or, for committee-owned items, the supervisors) gets a reminder."""
    owner = session.get(StaffUser, item.owner_id) if item.owner_id else None
    people = [owner] if owner is not None and owner.active else supervisors(
        session=session, clinic_id=clinic.id, policy=policy)
    tz = ZoneInfo(clinic.timezone)
    texted = [sid for person in people for sid in text_staff(
        session=session, item=item, clinic=clinic, people=[person], template="staff_due_soon", timer=timer,
        due=local_due(due_at, person.language, tz))]
    add_history(session=session, item=item, kind="due_soon", detail={
        "timer": timer, "notified": [p.id for p in people], "texted": texted})
