"""The ways feedback comes in from people: the patient web form (signed in or anonymous), staff entry of
phone and in-person complaints, and the JSON API. Each validates everything at once, then calls create_item."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from clinic.models import Caregiver, Clinic, Patient
from core.errors import FieldErrors, RateLimited
from core.security import Principal, Role
from feedback.enums import Category, Channel, Complexity, FeedbackKind, Severity
from feedback.models import FeedbackCreate, FeedbackItem
from feedback.service import (
    choice,
    clean_description,
    clean_phone,
    clinic_patient,
    clinic_staff,
    create_item,
    items_today_from_phone,
    language_choice,
    recent_duplicate,
)

ANONYMOUS_DAILY_LIMIT = 5
STAFF_CHANNELS = (Channel.phone, Channel.in_person, Channel.web)


def _on(values: dict[str, Any], name: str) -> bool:
    return str(values.get(name, "")) in ("1", "on", "true", "yes")


def submit_web_feedback(*, session: Session, clinic: Clinic, values: dict[str, Any], principal: Principal | None,
                        language: str) -> FeedbackItem:
    """A patient's own complaint. Signed-in patients and caregivers are known; anyone else leaves a name and a
    mobile number. Returns the existing item when the same text was just sent (a double tap)."""
    errors = FieldErrors()
    category = choice(Category, values.get("category"), errors, "category", "Choose what your feedback is about.")
    description = clean_description(values.get("description"), errors)
    harm = str(values.get("harm", "")).strip()
    if harm not in ("yes", "no"):
        errors.add("harm", "Tell us whether anyone was harmed or put at risk.")
    patient: Patient | None = None
    name, phone, consent = "", "", False
    if principal is not None and principal.role == Role.patient:
        patient = session.get(Patient, principal.user_id)
    elif principal is not None and principal.role == Role.caregiver:
        ids = sorted(principal.patient_ids)
        raw = str(values.get("patient_id", "")).strip()
        if len(ids) == 1 and not raw:
            patient = session.get(Patient, ids[0])
        elif ids:
            chosen = int(raw) if raw.isdigit() else None
            if chosen not in ids:
                errors.add("patient_id", "Choose who this feedback is about.")
            else:
                patient = session.get(Patient, chosen)
        else:
            caregiver = session.get(Caregiver, principal.user_id)
            name, phone, consent = principal.name, caregiver.phone if caregiver else "", True
    else:
        name = str(values.get("name", "")).strip()[:120]
        if not name:
            errors.add("name", "Enter your name so we know who to reply to.")
        phone = clean_phone(clinic, values.get("phone"), errors, required=True)
        consent = _on(values, "consent")
    errors.raise_if_any()
    duplicate = recent_duplicate(session=session, clinic_id=clinic.id, description=description,
                                 patient_id=patient.id if patient else None, contact_phone=phone)
    if duplicate is not None:
        return duplicate
    if principal is None and items_today_from_phone(session=session, clinic_id=clinic.id,
                                                    phone=phone) >= ANONYMOUS_DAILY_LIMIT:
        raise RateLimited("You have sent several messages today. We will contact you; if it is urgent, "
                          "please call the clinic.")
    return create_item(
        session=session, clinic=clinic, kind=FeedbackKind.complaint, category=category, channel=Channel.web,
        description=description, severity=Severity.high if harm == "yes" else Severity.medium,
        submitted_by_kind=principal.kind if principal else "anonymous",
        submitted_by_id=principal.user_id if principal else None, principal=principal, patient=patient,
        contact_name=name, contact_phone=phone, contact_language=language, contact_consent=consent,
    )


def _departments(raw: Any) -> list[str]:
    values = raw if isinstance(raw, list) else str(raw or "").replace("，", ",").replace("、", ",").split(",")
    return [str(v).strip()[:80] for v in values if str(v).strip()][:10]


def enter_staff_feedback(*, session: Session, clinic: Clinic, values: dict[str, Any],
                         principal: Principal) -> FeedbackItem:
    """A complaint or concern taken by phone or at the desk; the patient record is optional."""
    errors = FieldErrors()
    kind = choice(FeedbackKind, values.get("kind") or "complaint", errors, "kind", "Choose complaint or concern.")
    category = choice(Category, values.get("category"), errors, "category", "Choose a category.")
    channel = choice(Channel, values.get("channel"), errors, "channel", "Choose how it reached us.")
    if channel is not None and channel not in STAFF_CHANNELS:
        errors.add("channel", "Choose how it reached us.")
    severity = choice(Severity, values.get("severity") or "medium", errors, "severity", "Choose a severity.")
    complexity = choice(Complexity, values.get("complexity") or "simple", errors, "complexity",
                        "Choose how complex it is.")
    description = clean_description(values.get("description"), errors)
    patient = clinic_patient(session, clinic.id, values.get("patient_id"), errors, "patient_id")
    phone = clean_phone(clinic, values.get("contact_phone"), errors, required=False, field="contact_phone")
    subject = clinic_staff(session, clinic.id, values.get("subject_staff_id"), errors, "subject_staff_id")
    errors.raise_if_any()
    return create_item(
        session=session, clinic=clinic, kind=kind, category=category, channel=channel, description=description,
        severity=severity, complexity=complexity, submitted_by_kind="staff", submitted_by_id=principal.user_id,
        principal=principal, patient=patient, contact_name=str(values.get("contact_name", "")),
        contact_phone=phone, contact_language=language_choice(values.get("contact_language"), clinic.language),
        contact_consent=_on(values, "contact_consent"), subject_staff_id=subject,
        lead_department=str(values.get("lead_department", "")), departments=_departments(values.get("departments")),
    )


def create_from_api(*, session: Session, clinic: Clinic, data: FeedbackCreate, principal: Principal) -> FeedbackItem:
    errors = FieldErrors()
    description = clean_description(data.description, errors)
    patient = clinic_patient(session, clinic.id, data.patient_id, errors, "patient_id")
    phone = clean_phone(clinic, data.contact_phone, errors, required=False, field="contact_phone")
    subject = clinic_staff(session, clinic.id, data.subject_staff_id, errors, "subject_staff_id")
    if data.channel == Channel.sms or data.channel == Channel.survey:
        errors.add("channel", "SMS and survey feedback arrive by themselves; choose another channel.")
    errors.raise_if_any()
    return create_item(
        session=session, clinic=clinic, kind=data.kind, category=data.category, channel=data.channel,
        description=description, severity=data.severity, complexity=data.complexity, submitted_by_kind="api",
        submitted_by_id=principal.user_id, principal=principal, patient=patient, contact_name=data.contact_name,
        contact_phone=phone, contact_language=language_choice(data.contact_language, clinic.language),
        contact_consent=data.contact_consent, subject_staff_id=subject, lead_department=data.lead_department,
        departments=_departments(data.departments),
    )
