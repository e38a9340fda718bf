"""Builders for test data: sensible defaults, override what the test is about."""

from __future__ import annotations

import itertools
from typing import Any

from litestar.testing import TestClient
from sqlmodel import Session

from clinic.auth import create_api_token
from clinic.enums import Programme
from clinic.models import Clinic, Patient, PatientCreate, StaffUser
from clinic.service import create_clinic, create_patient, create_staff_user

_counter = itertools.count(1)
PASSWORD = "correct horse battery"


def make_clinic(session: Session, **overrides: Any) -> Clinic:
    n = next(_counter)
    values: dict[str, Any] = {"code": f"c{n}", "name": f"Clinic {n}", "timezone": "Asia/Shanghai",
                              "profile": "cn", "language": "zh-CN"}
    values.update(overrides)
    return create_clinic(session=session, **values)


def make_staff(session: Session, clinic: Clinic, role: str = "doctor", **overrides: Any) -> StaffUser:
    n = next(_counter)
    values: dict[str, Any] = {"username": f"{role}{n}", "password": PASSWORD, "role": role,
                              "display_name": f"{role.title()} {n}", "language": "en"}
    values.update(overrides)
    return create_staff_user(session=session, clinic=clinic, **values)


def make_patient(session: Session, clinic: Clinic, **overrides: Any) -> Patient:
    n = next(_counter)
    values: dict[str, Any] = {"name": f"Patient {n}", "phone": f"+86137{n:08d}", "language": "zh-CN",
                              "programmes": [Programme.hypertension, Programme.diabetes], "sms_consent": True}
    values.update(overrides)
    return create_patient(session=session, clinic=clinic, patient_in=PatientCreate(**values))


def make_token(session: Session, user: StaffUser) -> str:
    return create_api_token(session=session, user=user, name="test")


def csrf_token(client: TestClient[Any], path: str = "/login") -> str:
    if "careloop_csrf" not in client.cookies:
        client.get(path)
    return client.cookies["careloop_csrf"]


def post_form(client: TestClient[Any], path: str, data: dict[str, Any], **kwargs: Any) -> Any:
    return client.post(path, data={**data, "_csrf_token": csrf_token(client)}, **kwargs)


def login_staff(client: TestClient[Any], username: str, password: str = PASSWORD) -> Any:
    return post_form(client, "/login", {"username": username, "password": password, "next": "/patients"},
                     follow_redirects=False)


def sign_twilio(settings: Any, path: str, params: dict[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(settings.twilio_auth_token or settings.dev_sms_token).compute_signature(
        settings.public_url.rstrip("/") + path, params)


def send_sms(client: TestClient[Any], settings: Any, *, from_: str, body: str, sid: str | None = None,
             to: str = "+15005550006") -> Any:
    """POST a correctly signed Twilio inbound-message webhook."""
    params = {"MessageSid": sid or f"SM{next(_counter):032d}", "AccountSid": "AC" + "0" * 32, "From": from_,
              "To": to, "Body": body, "NumMedia": "0"}
    return client.post("/sms/twilio", data=params,
                       headers={"X-Twilio-Signature": sign_twilio(settings, "/sms/twilio", params)})


def twiml_text(response: Any) -> str | None:
    """The <Message> text of a TwiML reply, or None for an empty <Response/>."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(response.text)
    message = root.find("Message")
    return None if message is None else (message.text or "")
