"""Invitations: scheduling (at most one per patient per N days), links (random tokens kept as digests),
sending and the one reminder inside the clinic's sending hours, and expiry.

Sweeps claim each invitation with a conditional update, so two workers never send the same SMS twice.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlmodel import Session

from clinic.models import Clinic, Patient
from core.db import utcnow
from core.errors import Conflict, ValidationFailed
from core.messaging import queue_sms
from core.security import token_digest
from surveys.enums import InvitationStatus, SurveyTrigger
from surveys.models import SurveyInvitation, SurveySettings, SurveyTemplate
from surveys.scoring import month_key, week_key
from surveys.service import get_settings
from surveys.texts import survey_sms, survey_url

log = logging.getLogger(__name__)

TOKEN_BYTES = 16  # 128 bits → 22 URL-safe characters
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class InvitationLimitReached(Conflict):
    def __init__(self, *, last: str, days: int) -> None:
        super().__init__("This patient was already invited on %(last)s; at most one survey every %(days)s days.",
                         last=last, days=days)


class PatientCannotReceiveSms(ValidationFailed):
    def __init__(self) -> None:
        super().__init__("This patient cannot receive SMS (no mobile number, no SMS consent, or opted out).")


# --- sending hours -------------------------------------------------------------------------------------


def in_window(at: datetime, tz: ZoneInfo, start_hour: int, end_hour: int) -> bool:
    local = at.astimezone(tz)
    return start_hour <= local.hour < end_hour


def next_in_window(at: datetime, tz: ZoneInfo, start_hour: int, end_hour: int) -> datetime:
    """`at` if it falls inside the local sending hours, else the next opening (no survey SMS at night)."""
    if in_window(at, tz, start_hour, end_hour):
        return at
    local = at.astimezone(tz)
    day = local.date() if local.hour < start_hour else local.date() + timedelta(days=1)
    return datetime.combine(day, time(start_hour), tzinfo=tz).astimezone(at.tzinfo)


def clinic_zone(clinic: Clinic) -> ZoneInfo:
    return ZoneInfo(clinic.timezone)


# --- scheduling ----------------------------------------------------------------------------------------


def latest_invitation(*, session: Session, patient_id: int, since: datetime) -> SurveyInvitation | None:
    """The newest invitation since `since` that counts towards the per-patient limit (cancelled ones do not)."""
    return session.scalar(select(SurveyInvitation).where(
        SurveyInvitation.patient_id == patient_id, SurveyInvitation.created_at >= since,
        SurveyInvitation.status != InvitationStatus.cancelled,
    ).order_by(SurveyInvitation.created_at.desc()).limit(1))


def schedule_invitation(
    *, session: Session, patient: Patient, template: SurveyTemplate, trigger: SurveyTrigger,
    settings: SurveySettings, tz: ZoneInfo, send_after: datetime, doctor_id: int | None,
    callback_id: int | None = None, created_by: int | None = None, now: datetime | None = None,
) -> SurveyInvitation:
    """Create an invitation to be sent at `send_after` (moved into the sending hours).

    Raises PatientCannotReceiveSms, or InvitationLimitReached when the patient had one in the last N days.
    """
    now = now or utcnow()
    if not patient.may_receive_sms or not patient.active:
        raise PatientCannotReceiveSms()
    if session.get_bind().dialect.name == "postgresql":
        # Two callbacks of one patient closing together must not both pass the limit check.
        session.execute(select(Patient.id).where(Patient.id == patient.id).with_for_update())
    if settings.min_days_between > 0:
        last = latest_invitation(session=session, patient_id=patient.id,
                                 since=now - timedelta(days=settings.min_days_between))
        if last is not None:
            raise InvitationLimitReached(last=last.created_at.astimezone(tz).date().isoformat(),
                                         days=settings.min_days_between)
    invitation = SurveyInvitation(
        clinic_id=patient.clinic_id, patient_id=patient.id, template_id=template.id, trigger=trigger,
        callback_id=callback_id, doctor_id=doctor_id, language=patient.language, created_by=created_by,
        created_at=now, send_after=next_in_window(send_after, tz, settings.window_start_hour,
                                                  settings.window_end_hour),
    )
    session.add(invitation)
    session.flush()
    return invitation


# --- links ---------------------------------------------------------------------------------------------


def issue_token() -> tuple[str, str]:
    """A fresh link token and the digest that is stored in its place."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_digest(token)


def find_by_token(*, session: Session, token: str) -> SurveyInvitation | None:
    """The invitation a link belongs to (invitation or reminder link); None for anything malformed or unknown."""
    if not _TOKEN_SHAPE.match(token or ""):
        return None
    digest = token_digest(token)
    return session.scalar(select(SurveyInvitation).where(or_(SurveyInvitation.token_digest == digest,
                                                             SurveyInvitation.reminder_token_digest == digest)))


def link_state(invitation: SurveyInvitation | None, *, now: datetime) -> str:
    """open, answered, expired or unknown — what the public page shows."""
    if invitation is None or invitation.status in (InvitationStatus.scheduled, InvitationStatus.cancelled):
        return "unknown"
    if invitation.status == InvitationStatus.answered:
        return "answered"
    if invitation.status == InvitationStatus.expired or (invitation.expires_at and invitation.expires_at <= now):
        return "expired"
    return "open"


# --- sending -------------------------------------------------------------------------------------------


def _claim(session: Session, invitation_id: int, *conditions: object, **values: object) -> bool:
    result = session.execute(update(SurveyInvitation).where(SurveyInvitation.id == invitation_id, *conditions)
                             .values(**values).execution_options(synchronize_session=False))
    return bool(result.rowcount)


def send_invitation(*, session: Session, invitation: SurveyInvitation, public_url: str,
                    now: datetime | None = None) -> bool:
    """Send one scheduled invitation now; False when another worker took it or it had to be cancelled."""
    now = now or utcnow()
    patient = session.get(Patient, invitation.patient_id)
    if patient is None or not patient.active or not patient.may_receive_sms:
        _claim(session, invitation.id, SurveyInvitation.status == InvitationStatus.scheduled,
               status=InvitationStatus.cancelled, cancelled_reason="no_sms")
        return False
    if not _claim(session, invitation.id, SurveyInvitation.status == InvitationStatus.scheduled,
                  status=InvitationStatus.sent, sent_at=now):
        return False
    session.refresh(invitation)
    clinic = session.get(Clinic, invitation.clinic_id)
    assert clinic is not None
    settings = get_settings(session=session, clinic_id=clinic.id)
    tz = clinic_zone(clinic)
    token, digest = issue_token()
    local_day = now.astimezone(tz).date()
    invitation.token_digest = digest
    invitation.sent_local_date = local_day
    invitation.sent_month, invitation.sent_week = month_key(local_day), week_key(local_day)
    invitation.expires_at = now + timedelta(days=settings.token_days)
    invitation.reminder_due_at = next_in_window(now + timedelta(days=settings.reminder_after_days), tz,
                                                settings.window_start_hour, settings.window_end_hour)
    body = survey_sms(kind="invite", language=invitation.language, url=survey_url(public_url, token),
                      clinic_name=clinic.name, days=settings.token_days, signature=clinic.sms_signature)
    message = queue_sms(session=session, phone=patient.phone or "", body=body, purpose="survey_invite",
                        clinic_id=clinic.id, patient_id=patient.id)
    invitation.sms_message_id = message.id
    session.flush()
    return True


def send_reminder(*, session: Session, invitation: SurveyInvitation, public_url: str,
                  now: datetime | None = None) -> bool:
    """The one reminder of an unanswered invitation, with a second link to the same questionnaire."""
    now = now or utcnow()
    patient = session.get(Patient, invitation.patient_id)
    if not _claim(session, invitation.id, SurveyInvitation.status == InvitationStatus.sent,
                  SurveyInvitation.reminded_at.is_(None), reminded_at=now):
        return False
    session.refresh(invitation)
    if patient is None or not patient.active or not patient.may_receive_sms:
        return False  # marked as reminded so the sweep stops looking; nothing is sent
    clinic = session.get(Clinic, invitation.clinic_id)
    assert clinic is not None
    token, digest = issue_token()
    invitation.reminder_token_digest = digest
    days_left = max(1, -(-int(((invitation.expires_at or now) - now).total_seconds()) // 86400))
    body = survey_sms(kind="reminder", language=invitation.language, url=survey_url(public_url, token),
                      clinic_name=clinic.name, days=days_left, signature=clinic.sms_signature)
    message = queue_sms(session=session, phone=patient.phone or "", body=body, purpose="survey_reminder",
                        clinic_id=clinic.id, patient_id=patient.id)
    invitation.reminder_sms_message_id = message.id
    session.flush()
    return True


def send_due_invitations(*, session: Session, public_url: str, now: datetime | None = None,
                         limit: int = 200) -> int:
    """Send scheduled invitations whose time has come; those outside their clinic's hours move to the next
    opening (a sweep delayed into the night must not text patients at 3 a.m.)."""
    now = now or utcnow()
    due = list(session.scalars(select(SurveyInvitation).where(
        SurveyInvitation.status == InvitationStatus.scheduled, SurveyInvitation.send_after <= now,
    ).order_by(SurveyInvitation.send_after).limit(limit)))
    sent = 0
    for invitation in due:
        settings, tz = _clinic_context(session, invitation.clinic_id)
        if not in_window(now, tz, settings.window_start_hour, settings.window_end_hour):
            invitation.send_after = next_in_window(now, tz, settings.window_start_hour, settings.window_end_hour)
            session.flush()
            continue
        sent += _guarded(session, lambda inv=invitation: send_invitation(
            session=session, invitation=inv, public_url=public_url, now=now), invitation.id)
    return sent


def send_due_reminders(*, session: Session, public_url: str, now: datetime | None = None, limit: int = 200) -> int:
    now = now or utcnow()
    due = list(session.scalars(select(SurveyInvitation).where(
        SurveyInvitation.status == InvitationStatus.sent, SurveyInvitation.reminded_at.is_(None),
        SurveyInvitation.reminder_due_at <= now, SurveyInvitation.expires_at > now,
    ).order_by(SurveyInvitation.reminder_due_at).limit(limit)))
    sent = 0
    for invitation in due:
        settings, tz = _clinic_context(session, invitation.clinic_id)
        if not in_window(now, tz, settings.window_start_hour, settings.window_end_hour):
            invitation.reminder_due_at = next_in_window(now, tz, settings.window_start_hour,
                                                        settings.window_end_hour)
            session.flush()
            continue
        sent += _guarded(session, lambda inv=invitation: send_reminder(
            session=session, invitation=inv, public_url=public_url, now=now), invitation.id)
    return sent


def expire_invitations(*, session: Session, now: datetime | None = None) -> int:
    now = now or utcnow()
    result = session.execute(update(SurveyInvitation).where(
        SurveyInvitation.status == InvitationStatus.sent, SurveyInvitation.expires_at <= now,
    ).values(status=InvitationStatus.expired).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def _clinic_context(session: Session, clinic_id: int) -> tuple[SurveySettings, ZoneInfo]:
    clinic = session.get(Clinic, clinic_id)
    assert clinic is not None
    return get_settings(session=session, clinic_id=clinic_id), clinic_zone(clinic)


def _guarded(session: Session, action: object, invitation_id: int | None) -> int:
    """Run one send in a savepoint, so a single bad row cannot hold back the rest of the batch."""
    try:
        with session.begin_nested():
            return int(bool(action()))  # type: ignore[operator]
    except Exception:
        log.exception("survey invitation %s could not be sent; it stays due", invitation_id)
        return 0


# --- listing -------------------------------------------------------------------------------------------


def list_invitations(*, session: Session, clinic_id: int, page: int = 1,
                     per_page: int = 20) -> tuple[list[tuple[SurveyInvitation, Patient]], int]:
    query = (select(SurveyInvitation, Patient).join(Patient, Patient.id == SurveyInvitation.patient_id)
             .where(SurveyInvitation.clinic_id == clinic_id))
    total = session.scalar(select(func.count()).select_from(
        select(SurveyInvitation.id).where(SurveyInvitation.clinic_id == clinic_id).subquery())) or 0
    rows = session.execute(query.order_by(SurveyInvitation.created_at.desc(), SurveyInvitation.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return [(inv, patient) for inv, patient in rows], total
