"""Builders for the feedback tests: items made through the real intake service, and a signed-in patient."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from clinic.auth import staff_principal
from clinic.models import Clinic, StaffUser
from core.models import SmsMessage
from core.security import Principal
from feedback.enums import Category, Channel, FeedbackKind
from feedback.models import FeedbackItem
from feedback.service import create_item
from tests.factories import post_form


def make_item(session: Session, clinic: Clinic, **overrides: Any) -> FeedbackItem:
    values: dict[str, Any] = {"kind": FeedbackKind.complaint, "category": Category.waiting_time,
                              "channel": Channel.phone, "description": "Waited two hours to see the doctor.",
                              "submitted_by_kind": "staff"}
    values.update(overrides)
    return create_item(session=session, clinic=clinic, **values)


def principal(user: StaffUser) -> Principal:
    return staff_principal(user)


def login_patient(client: Any, session: Session, phone: str) -> None:
    """Sign in with the one-time code, read from the SMS the development transport recorded."""
    post_form(client, "/login/code", {"phone": phone})
    message = session.scalars(select(SmsMessage).where(SmsMessage.purpose == "login_code", SmsMessage.phone == phone)
                              .order_by(SmsMessage.id.desc())).first()
    assert message is not None
    code = re.search(r"(?<!\d)\d{6}(?!\d)", message.body).group()  # type: ignore[union-attr]
    response = post_form(client, "/login/verify", {"phone": phone, "code": code}, follow_redirects=False)
    assert response.status_code in (302, 303)


def sms_to(session: Session, phone: str) -> list[SmsMessage]:
    return list(session.scalars(select(SmsMessage).where(SmsMessage.phone == phone).order_by(SmsMessage.id)))
