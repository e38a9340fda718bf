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
