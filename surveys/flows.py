"""Multi-step survey work across domains: inviting after a completed callback (followup's event), after a
visit (staff), the monthly panel sample (clinic's patients), and the dispatch sweep."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic.models import Clinic, Patient, StaffUser
from clinic.service import get_patient
from core.db import utcnow
from core.errors import DomainError
from surveys.enums import InvitationStatus, SurveyTrigger
from surveys.invitations import (
    clinic_zone,
    expire_invitations,
    schedule_invitation,
    send_due_invitations,
    send_due_reminders,
)
from surveys.models import SurveyInvitation, SurveySampleRun
from surveys.scoring import month_key
from surveys.service import current_template, get_settings

log = logging.getLogger(__name__)

REACHED = "reached"  # the callback outcome that means the patient was spoken to


def _doctor_for(session: Session, patient: Patient, preferred: int | None) -> int | None:
    """Who the answers are about: the doctor who closed the callback, else the patient's family doctor."""
    if preferred is not None:
        staff = session.get(StaffUser, preferred)
        if staff is not None and staff.clinic_id == patient.clinic_id:
            return staff.id
    return patient.family_doctor_id


def invite_after_callback(
    *, session: Session, callback_id: int, patient_id: int, clinic_id: int, outcome: str,
    closed_by: int | None, now: datetime | None = None,
) -> SurveyInvitation | None:
    """Schedule the post-callback survey `delay_hours` after a callback that reached the patient.

    Nothing happens (None) when the patient was not reached, the clinic turned this trigger off, the
    patient cannot receive SMS, or they already had an invitation in the last N days.
    """
    now = now or utcnow()
    if outcome != REACHED:
        return None
    patient = session.get(Patient, patient_id)
    clinic = session.get(Clinic, clinic_id)
    if patient is None or clinic is None or patient.clinic_id != clinic.id:
        log.warning("callback.completed for patient %s names clinic %s; no survey", patient_id, clinic_id)
        return None
    if session.scalar(select(SurveyInvitation.id).where(SurveyInvitation.callback_id == callback_id)):
        return None  # this callback already has its invitation
    settings = get_settings(session=session, clinic_id=clinic.id)
    if not settings.after_callback:
        return None
    template = current_template(session=session, clinic_id=clinic.id, code=settings.callback_template)
    try:
        with session.begin_nested():
            return schedule_invitation(
                session=session, patient=patient, template=template, trigger=SurveyTrigger.callback,
                settings=settings, tz=clinic_zone(clinic), send_after=now + timedelta(hours=settings.delay_hours),
                doctor_id=_doctor_for(session, patient, closed_by), callback_id=callback_id, now=now,
            )
    except (DomainError, IntegrityError) as exc:
        log.info("no survey after callback %s: %s", callback_id, exc)
        return None


def invite_after_visit(*, session: Session, clinic_id: int, patient_id: int, template_code: str,
                       staff_id: int, now: datetime | None = None) -> SurveyInvitation:
    """Staff invite a patient after a visit; sent at once (or at the next sending hour). Raises the
    scheduling errors so the form can say why not."""
    now = now or utcnow()
    patient = get_patient(session=session, clinic_id=clinic_id, patient_id=patient_id)
    clinic = session.get(Clinic, clinic_id)
    assert clinic is not None
    settings = get_settings(session=session, clinic_id=clinic_id)
    template = current_template(session=session, clinic_id=clinic_id, code=template_code)
    staff = session.get(StaffUser, staff_id)
    doctor = staff_id if staff is not None and staff.role in ("doctor", "nurse") else None
    return schedule_invitation(
        session=session, patient=patient, template=template, trigger=SurveyTrigger.visit, settings=settings,
        tz=clinic_zone(clinic), send_after=now, doctor_id=doctor or patient.family_doctor_id, created_by=staff_id,
        now=now,
    )


def sample_panel(*, session: Session, clinic: Clinic, now: datetime | None = None) -> SurveySampleRun | None:
    """Draw this month's random sample of the clinic's active panel, once per month, on or after the
    clinic's sample day. Patients who cannot get SMS or were invited in the last N days are left out."""
    now = now or utcnow()
    settings = get_settings(session=session, clinic_id=clinic.id)
    tz = clinic_zone(clinic)
    local_today = now.astimezone(tz).date()
    month = month_key(local_today)
    if settings.sample_percent <= 0 or local_today.day < settings.sample_day:
        return None
    if session.scalar(select(SurveySampleRun.id).where(SurveySampleRun.clinic_id == clinic.id,
                                                       SurveySampleRun.month == month)):
        return None
    panel = session.scalar(select(func.count(Patient.id)).where(Patient.clinic_id == clinic.id,
                                                                Patient.active.is_(True))) or 0
    wanted = math.ceil(panel * settings.sample_percent / 100)
    since = now - timedelta(days=settings.min_days_between)
    recently_invited = exists().where(SurveyInvitation.patient_id == Patient.id, SurveyInvitation.created_at >= since,
                                      SurveyInvitation.status != InvitationStatus.cancelled)
    chosen = list(session.scalars(select(Patient).where(
        Patient.clinic_id == clinic.id, Patient.active.is_(True), Patient.phone.is_not(None),
        Patient.sms_consent.is_(True), Patient.sms_opted_out.is_(False), Patient.phone_invalid.is_(False),
        ~recently_invited,
    ).order_by(func.random()).limit(wanted))) if wanted else []
    run = SurveySampleRun(clinic_id=clinic.id, month=month, panel=panel, invited=0)
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None  # another scheduler run drew this month's sample first
    template = current_template(session=session, clinic_id=clinic.id, code=settings.sample_template)
    for patient in chosen:
        try:
            with session.begin_nested():
                schedule_invitation(session=session, patient=patient, template=template,
                                    trigger=SurveyTrigger.sample, settings=settings, tz=tz, send_after=now,
                                    doctor_id=patient.family_doctor_id, now=now)
            run.invited += 1
        except DomainError:
            continue
    session.flush()
    return run


def sample_all_panels(*, session: Session, now: datetime | None = None) -> int:
    drawn = 0
    for clinic in session.scalars(select(Clinic).order_by(Clinic.id)):
        if sample_panel(session=session, clinic=clinic, now=now) is not None:
            drawn += 1
    return drawn


def dispatch_invitations(*, session: Session, public_url: str, now: datetime | None = None) -> dict[str, int]:
    """One sweep: expire old links, send what is due, remind the unanswered."""
    now = now or utcnow()
    return {
        "expired": expire_invitations(session=session, now=now),
        "sent": send_due_invitations(session=session, public_url=public_url, now=now),
        "reminded": send_due_reminders(session=session, public_url=public_url, now=now),
    }
