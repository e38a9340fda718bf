"""Builders for the survey tests: a sent invitation with its link token, answering it on the public page."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from clinic.models import Clinic, Patient
from core.db import utcnow
from core.models import SmsMessage
from surveys.defaults import POST_CALLBACK
from surveys.enums import SurveyTrigger
from surveys.invitations import clinic_zone, schedule_invitation, send_invitation, send_reminder
from surveys.models import SurveyInvitation
from surveys.service import current_template, get_settings

PUBLIC_URL = "http://testserver"
_LINK = re.compile(r"/s/([A-Za-z0-9_-]+)")

# A full set of favourable answers to the default post-callback survey.
GOOD = {"q_explained": "4", "q_listened": "4", "q_timely": "4", "q_recommend": "10", "q_comment": ""}


def token_in(body: str) -> str:
    found = _LINK.search(body)
    assert found, body
    return found.group(1)


def sent_invitation(session: Session, clinic: Clinic, patient: Patient, *, code: str = POST_CALLBACK,
                    doctor_id: int | None = None, now: datetime | None = None,
                    trigger: SurveyTrigger = SurveyTrigger.visit) -> tuple[SurveyInvitation, str]:
    """An invitation sent now (sending hours ignored), and the token from its SMS."""
    now = now or utcnow()
    settings = get_settings(session=session, clinic_id=clinic.id)
    settings.min_days_between = 0  # tests build several invitations per patient
    invitation = schedule_invitation(
        session=session, patient=patient, template=current_template(session=session, clinic_id=clinic.id, code=code),
        trigger=trigger, settings=settings, tz=clinic_zone(clinic), send_after=now, doctor_id=doctor_id, now=now)
    assert send_invitation(session=session, invitation=invitation, public_url=PUBLIC_URL, now=now)
    message = session.get(SmsMessage, invitation.sms_message_id)
    return invitation, token_in(message.body)


def reminder_token(session: Session, invitation: SurveyInvitation, now: datetime | None = None) -> str:
    assert send_reminder(session=session, invitation=invitation, public_url=PUBLIC_URL, now=now or utcnow())
    return token_in(session.get(SmsMessage, invitation.reminder_sms_message_id).body)


def answer(client: TestClient[Any], token: str, answers: dict[str, str], **kwargs: Any) -> Any:
    """Open the survey (which sets the CSRF cookie) and send the answers with the form's CSRF token."""
    page = client.get(f"/s/{token}")
    csrf = client.cookies.get("careloop_csrf") or ""
    assert page.status_code == 200, page.text
    return client.post(f"/s/{token}", data={**answers, "_csrf_token": csrf}, **kwargs)


def outbound(session: Session, purpose: str) -> list[SmsMessage]:
    session.expire_all()
    return list(session.scalars(select(SmsMessage).where(SmsMessage.purpose == purpose).order_by(SmsMessage.id)))
