"""Staff sign-in, lockout, CSRF, and patient sign-in by SMS code."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.models import AuditAction, AuditEntry, SmsMessage
from tests.factories import PASSWORD, login_staff, make_clinic, make_patient, make_staff, post_form


def test_staff_signs_in_with_the_right_password(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, username="wang")
    session.commit()
    response = login_staff(client, "wang")
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/patients"
    assert client.get("/patients").status_code == 200


def test_wrong_password_is_refused_with_a_message(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, username="wang")
    session.commit()
    response = login_staff(client, "wang", "not the password")
    assert response.status_code == 401
    assert "Wrong username or password" in response.text
    assert client.get("/patients", follow_redirects=False).status_code in (302, 303)


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, session, settings):
    clinic = make_clinic(session)
    make_staff(session, clinic, username="wang")
    session.commit()
    for _ in range(settings.login_max_failures):
        assert login_staff(client, "wang", "guess").status_code == 401
    response = login_staff(client, "wang", PASSWORD)
    assert response.status_code == 423
    assert "Too many failed attempts" in response.text


def test_failed_sign_in_is_audited(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, username="wang")
    session.commit()
    login_staff(client, "wang", "guess")
    rows = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.login_failed)).all()
    assert [r.actor_name for r in rows] == ["wang"]


def test_form_post_without_csrf_token_is_refused(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, username="wang")
    session.commit()
    client.get("/login")
    response = client.post("/login", data={"username": "wang", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/patients", follow_redirects=False).status_code in (302, 303)


def test_anonymous_page_request_is_sent_to_sign_in(client):
    response = client.get("/patients?q=x", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login?next=/patients")


def test_patient_signs_in_with_the_code_sent_by_sms(client, session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712345678")
    session.commit()
    response = post_form(client, "/login/code", {"phone": "13712345678"})
    assert response.status_code == 200
    message = session.scalars(select(SmsMessage).where(SmsMessage.purpose == "login_code")).one()
    assert message.phone == "+8613712345678" and message.patient_id == patient.id
    code = re.search(r"(?<!\d)\d{6}(?!\d)", message.body).group()
    response = post_form(client, "/login/verify", {"phone": "+8613712345678", "code": code}, follow_redirects=False)
    assert response.headers["location"] == "/me"
    assert patient.name in client.get("/me").text


def test_wrong_code_does_not_sign_in(client, session):
    clinic = make_clinic(session)
    make_patient(session, clinic, phone="+8613712345678")
    session.commit()
    post_form(client, "/login/code", {"phone": "+8613712345678"})
    response = post_form(client, "/login/verify", {"phone": "+8613712345678", "code": "000000"})
    assert response.status_code == 401
    assert client.get("/me", follow_redirects=False).status_code in (302, 303)


def test_unregistered_phone_gets_the_same_answer_and_no_sms(client, session):
    response = post_form(client, "/login/code", {"phone": "+8613799999999"})
    assert response.status_code == 200
    assert session.scalars(select(SmsMessage)).all() == []


def test_patient_cannot_open_staff_pages(client, session):
    clinic = make_clinic(session)
    make_patient(session, clinic, phone="+8613712345678")
    session.commit()
    post_form(client, "/login/code", {"phone": "+8613712345678"})
    message = session.scalars(select(SmsMessage)).one()
    code = re.search(r"(?<!\d)\d{6}(?!\d)", message.body).group()
    post_form(client, "/login/verify", {"phone": "+8613712345678", "code": code})
    assert client.get("/patients").status_code == 403
