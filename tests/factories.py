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


def make_callback(session: Session, patient: Patient, **overrides: Any) -> Any:
    """An open callback as a rule would open it (through followup.callbacks.open_callback)."""
    from datetime import timedelta

    from core.db import utcnow
    from followup.callbacks import open_callback

    values: dict[str, Any] = {"rule_code": "CN-DM-01b", "rule_version": 1, "severity": "urgent",
                              "due_at": utcnow() + timedelta(hours=1), "reason_zh": "血糖过低（2.8 mmol/L）",
                              "reason_en": "Low glucose (2.8 mmol/L)", "reading_ids": ()}
    values.update(overrides)
    callback, _ = open_callback(session=session, patient=patient, **values)
    return callback


def make_pdca_project(session: Session, clinic: Clinic, owner: StaffUser, **overrides: Any) -> Any:
    """An active improvement project whose aim measure is a manual monthly p chart (override any form field)."""
    from datetime import timedelta

    from core.db import utcnow
    from pdca.service import create_project

    today = utcnow().date()
    values: dict[str, Any] = {
        "title": "Faster callbacks", "population": "patients with hypertension", "source": "manual",
        "name": "Calls answered", "chart": "p", "direction": "increase", "frequency": "month",
        "numerator": "calls answered", "denominator": "calls made", "baseline": "40", "target": "60",
        "deadline": (today + timedelta(days=180)).isoformat(),
    }
    values.update(overrides)
    return create_project(session=session, clinic_id=clinic.id, values=values, actor_id=owner.id, today=today)


def make_pdca_cycle(session: Session, project: Any, owner: StaffUser, **overrides: Any) -> Any:
    """A cycle in Plan with a complete plan (so it may move to Do)."""
    from datetime import date

    from core.security import Principal, Role
    from pdca.service import create_cycle

    values: dict[str, Any] = {
        "change_idea": "Call back before noon", "prediction": "More patients answer", "plan_who": "Nurse Li",
        "plan_what": "Call morning callbacks first", "plan_when": "2026-01-05", "plan_where": "Clinic desk",
        "measure_id": str(project.aim_measure_id),
    }
    values.update(overrides)
    principal = Principal(kind="staff", user_id=owner.id, role=Role(owner.role), clinic_id=owner.clinic_id,
                          name=owner.display_name, language=owner.language)
    return create_cycle(session=session, project=project, values=values, principal=principal,
                        today=date.today())


def make_followup_policy(session: Session, clinic: Clinic, *, around_the_clock: bool = False,
                         **overrides: Any) -> Any:
    """A clinic's follow-up policy; `around_the_clock` keeps the clinic open at every moment, so a test of
    an escalation text does not depend on the hour it runs at."""
    from datetime import time

    from followup.models import FollowupPolicy

    if around_the_clock:
        overrides = {"service_day_start": time(0, 0), "service_day_end": time(23, 59, 59, 999999), **overrides}
    policy = FollowupPolicy(clinic_id=clinic.id, **overrides)
    session.add(policy)
    session.flush()
    return policy


def pdf_text(content: bytes, *, page: int | None = None) -> str:
    """The text poppler's pdftotext reads from a PDF (one page, or all), layout kept."""
    import subprocess

    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(["pdftotext", "-layout", *pages, "-", "-"], input=content, capture_output=True,
                          check=True).stdout.decode("utf-8")


def pdf_info(content: bytes, tool: str = "pdffonts") -> str:
    """What `pdffonts` (fonts, embedded or not) or `pdfinfo` (pages, page size) say about a PDF."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(content)
        handle.flush()
        return subprocess.run([tool, handle.name], capture_output=True, check=True).stdout.decode("utf-8")
