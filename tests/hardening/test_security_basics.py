"""Security basics: cookie flags, CSRF, sign-in throttling and lockout, password policy, session expiry and
rotation, security headers, secrets kept out of logs, masked phone numbers, audit of patient views, and an
audit log nobody can change."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, text

import core.web
from clinic import auth as clinic_auth
from clinic.auth import AccountLocked, LoginFailed, authenticate_staff, record_failed_login
from core.app import create_app
from core.db import utcnow
from core.models import AuditAction, AuditEntry
from core.security import mask_phone
from core.templating import TEMPLATE_DIR
from tests.factories import (
    PASSWORD,
    csrf_token,
    login_staff,
    make_callback,
    make_clinic,
    make_patient,
    make_staff,
    make_token,
    post_form,
    send_sms,
)


def _cookie_headers(response: Any, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


# --- cookies and CSRF --------------------------------------------------------------------------------------

def test_session_cookie_is_httponly_and_samesite_and_not_secure_over_http(client, session):
    make_staff(session, make_clinic(session), username="wang")
    session.commit()
    (cookie,) = _cookie_headers(login_staff(client, "wang"), "careloop_session")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie


def test_cookies_are_secure_when_the_public_url_is_https(settings, broker, session):
    settings.public_url = "https://careloop.example.org"
    make_staff(session, make_clinic(session), username="wang")
    session.commit()
    app = create_app(settings, broker=broker, start_workers=False)
    with TestClient(app=app, base_url="https://careloop.example.org") as client:
        page = client.get("/login")
        (csrf,) = _cookie_headers(page, "careloop_csrf")
        assert "Secure" in csrf
        assert page.headers["strict-transport-security"].startswith("max-age=")
        response = client.post("/login", data={"username": "wang", "password": PASSWORD, "next": "/patients",
                                               "_csrf_token": client.cookies["careloop_csrf"]},
                               follow_redirects=False)
        (cookie,) = _cookie_headers(response, "careloop_session")
        assert "Secure" in cookie and "HttpOnly" in cookie


def test_a_signed_in_form_post_without_or_with_a_wrong_csrf_token_is_refused(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="admin", username="boss")
    session.commit()
    login_staff(client, "boss")
    form = {"username": "sneaky", "password": "a long password 42", "role": "admin", "display_name": "X"}
    assert client.post("/admin/staff", data=form).status_code == 403
    assert client.post("/admin/staff", data={**form, "_csrf_token": "forged"}).status_code == 403
    assert client.post("/logout", data={}).status_code == 403
    assert "sneaky" not in client.get("/admin/staff").text


# --- throttling and lockout --------------------------------------------------------------------------------

def test_lockout_after_repeated_failures_says_so_and_is_audited(client, session, settings):
    make_staff(session, make_clinic(session), username="wang")
    session.commit()
    for _ in range(settings.login_max_failures):
        assert login_staff(client, "wang", "guess").status_code == 401
    response = login_staff(client, "wang", PASSWORD)
    assert response.status_code == 423
    assert f"Try again in {settings.login_lockout_minutes} minutes" in response.text
    details = session.scalars(select(AuditEntry.detail).where(AuditEntry.action == AuditAction.login_failed)).all()
    assert details.count("not_authenticated") == settings.login_max_failures and details[-1] == "locked"


def test_lockout_is_per_username_and_address_and_ends_after_the_window(session, settings, monkeypatch):
    user = make_staff(session, make_clinic(session), username="wang")
    limits = {"max_failures": 3, "lockout_minutes": 15}
    for _ in range(3):
        with pytest.raises(LoginFailed):
            authenticate_staff(session=session, username="wang", password="guess", client_address="10.0.0.9",
                               **limits)
        record_failed_login(session=session, username="wang", client_address="10.0.0.9", reason=LoginFailed.code)
    with pytest.raises(AccountLocked):
        authenticate_staff(session=session, username="WANG ", password=PASSWORD, client_address="10.0.0.9", **limits)
    # Her own desk is not locked by someone guessing elsewhere.
    assert authenticate_staff(session=session, username="wang", password=PASSWORD, client_address="10.0.0.1",
                              **limits).id == user.id
    user.last_login_at = utcnow() - timedelta(days=1)
    later = utcnow() + timedelta(minutes=16)
    monkeypatch.setattr(clinic_auth, "utcnow", lambda: later)
    assert authenticate_staff(session=session, username="wang", password=PASSWORD, client_address="10.0.0.9",
                              **limits).id == user.id


def test_a_successful_sign_in_forgives_earlier_failures(session):
    make_staff(session, make_clinic(session), username="wang")
    limits = {"max_failures": 2, "lockout_minutes": 15, "client_address": "10.0.0.9"}
    record_failed_login(session=session, username="wang", client_address="10.0.0.9", reason=LoginFailed.code)
    authenticate_staff(session=session, username="wang", password=PASSWORD, **limits)
    record_failed_login(session=session, username="wang", client_address="10.0.0.9", reason=LoginFailed.code)
    authenticate_staff(session=session, username="wang", password=PASSWORD, **limits)


# --- password policy ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("password, message", [
    ("short pw", "Use a password of at least 10 characters."),
    ("newdoctor1", "The password must not be the username."),
    ("Password123", "This password is too common. Choose another."),
    ("qwertyuiop", "This password is too common. Choose another."),
])
def test_a_weak_staff_password_is_refused_with_a_field_message(client, session, password, message):
    make_staff(session, make_clinic(session), role="admin", username="boss")
    session.commit()
    login_staff(client, "boss")
    response = post_form(client, "/admin/staff", {"username": "newdoctor1", "password": password, "role": "doctor",
                                                  "display_name": "Dr New"})
    assert response.status_code == 422
    assert message in response.text
    assert login_staff(TestClient(app=client.app), "newdoctor1", password).status_code != 303


# --- sessions ----------------------------------------------------------------------------------------------

def test_the_session_id_changes_at_sign_in_so_a_planted_one_is_worthless(client, session):
    make_staff(session, make_clinic(session), username="wang")
    session.commit()
    planted = "a" * 64  # an id an attacker set in the victim's browser before she signed in
    client.cookies.set("careloop_session", planted, domain="testserver.local")
    login_staff(client, "wang")
    first = client.cookies.get("careloop_session")
    assert first and first not in (planted, "null")
    assert client.get("/patients").status_code == 200
    attacker = TestClient(app=client.app, base_url="http://testserver")
    attacker.cookies.set("careloop_session", planted, domain="testserver.local")
    assert attacker.get("/patients", follow_redirects=False).status_code in (302, 303)
    login_staff(client, "wang")  # signing in again while signed in also gets a new id
    assert client.cookies.get("careloop_session") not in (first, planted)
    attacker.cookies.set("careloop_session", first, domain="testserver.local")
    assert attacker.get("/patients", follow_redirects=False).status_code in (302, 303)


def test_an_idle_session_expires_and_asks_to_sign_in_again(client, session, settings, monkeypatch):
    make_staff(session, make_clinic(session), username="wang")
    session.commit()
    login_staff(client, "wang")
    assert client.get("/patients").status_code == 200
    now = core.web._clock()
    monkeypatch.setattr(core.web, "_clock", lambda: now + (settings.session_idle_minutes - 1) * 60)
    assert client.get("/patients").status_code == 200  # activity keeps it alive
    resumed = now + (settings.session_idle_minutes - 1) * 60
    monkeypatch.setattr(core.web, "_clock", lambda: resumed + settings.session_idle_minutes * 60 + 1)
    response = client.get("/patients", follow_redirects=False)
    assert response.status_code in (302, 303) and response.headers["location"].startswith("/login")


def test_the_idle_timeout_is_a_setting(settings):
    assert settings.session_idle_minutes == 30


# --- headers -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/login", "/patients", "/api/v1/patients", "/no-such-page", "/healthz",
                                  "/static/careloop.css"])
def test_every_response_carries_the_security_headers(client, session, path):
    make_staff(session, make_clinic(session), username="wang")
    session.commit()
    login_staff(client, "wang")
    response = client.get(path)
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    if not path.startswith("/static/"):
        assert response.headers["cache-control"] == "no-store"


def test_patient_pages_and_pdfs_are_never_cached(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, username="wang")
    patient = make_patient(session, clinic)
    session.commit()
    login_staff(client, "wang")
    for path in (f"/patients/{patient.id}", f"/patients/{patient.id}/summary.pdf"):
        assert client.get(path).headers["cache-control"] == "no-store", path


def test_templates_have_no_inline_script_style_or_event_handler():
    """The CSP allows no inline code; this keeps it that way (PDF templates are rendered by WeasyPrint)."""
    offenders = []
    for path in Path(TEMPLATE_DIR).rglob("*.html"):
        if ".pdf." in path.name or "/pdf/" in path.as_posix():
            continue
        source = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source) or re.search(r"<style\b", source) \
                or re.search(r"\sstyle\s*=", source) or re.search(r"\son[a-z]+\s*=", source) \
                or "javascript:" in source:
            offenders.append(path.relative_to(TEMPLATE_DIR).as_posix())
    assert offenders == []


# --- secrets and logs --------------------------------------------------------------------------------------

def test_passwords_tokens_and_session_ids_never_reach_the_logs(client, session, settings, caplog):
    clinic = make_clinic(session)
    make_staff(session, clinic, username="wang")
    patient = make_patient(session, clinic)
    token = make_token(session, make_staff(session, clinic))
    session.commit()
    caplog.set_level(logging.DEBUG)
    login_staff(client, "wang", "a wrong password 1")
    login_staff(client, "wang")
    session_id = client.cookies["careloop_session"]
    client.get("/patients")
    client.get("/api/v1/patients", headers={"Authorization": f"Bearer {token}"})
    send_sms(client, settings, from_=patient.phone, body="血压 150/95")
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert "login" in logged or "/patients" in logged, "the logs were captured"
    for secret in (PASSWORD, "a wrong password 1", token, session_id, settings.dev_sms_token,
                   csrf_token(client)):
        assert secret not in logged


# --- phone numbers and audit -------------------------------------------------------------------------------

def test_phone_numbers_are_masked_in_lists_except_for_the_callback_owner(client, session):
    clinic = make_clinic(session)
    nurse = make_staff(session, clinic, role="nurse", username="owner")
    make_staff(session, clinic, role="nurse", username="other")
    patient = make_patient(session, clinic)
    callback = make_callback(session, patient)
    session.commit()
    masked = mask_phone(patient.phone)
    login_staff(client, "owner")
    assert patient.phone not in client.get("/patients").text and masked in client.get("/patients").text
    assert post_form(client, f"/callbacks/{callback.id}/claim", {}, follow_redirects=False).status_code in (302, 303)
    assert patient.phone in client.get(f"/callbacks/{callback.id}").text
    other = TestClient(app=client.app, base_url="http://testserver")
    login_staff(other, "other")
    for path in ("/callbacks", f"/callbacks/{callback.id}", "/patients"):
        page = other.get(path).text
        assert patient.phone not in page and masked in page, path
    assert nurse.id


def test_every_staff_view_of_a_patient_is_audited(client, session):
    clinic = make_clinic(session)
    doctor = make_staff(session, clinic, username="wang")
    patient = make_patient(session, clinic)
    callback = make_callback(session, patient)
    token = make_token(session, doctor)
    session.commit()
    login_staff(client, "wang")
    views = [f"/patients/{patient.id}", f"/patients/{patient.id}/summary.pdf", f"/callbacks/{callback.id}"]
    for path in views:
        assert client.get(path).status_code == 200
    client.get(f"/api/v1/patients/{patient.id}", headers={"Authorization": f"Bearer {token}"})
    rows = session.scalars(select(AuditEntry).where(AuditEntry.patient_id == patient.id,
                                                    AuditEntry.actor_id == doctor.id)).all()
    assert len(rows) >= len(views) + 1
    assert {r.action for r in rows} <= {AuditAction.view, AuditAction.export}
    assert any(r.actor_kind == "staff-api" for r in rows)


def test_no_route_changes_the_audit_log(app):
    writers = [(route.path, sorted(route.methods)) for route in app.routes
               if "audit" in route.path and set(getattr(route, "methods", ())) - {"GET", "HEAD", "OPTIONS"}]
    assert writers == []


@pytest.mark.parametrize("statement", ["UPDATE audit_entry SET detail = 'rewritten'", "DELETE FROM audit_entry"])
def test_the_database_refuses_to_change_an_audit_row(session, engine, statement):
    record_failed_login(session=session, username="wang", client_address="10.0.0.9", reason="test")
    session.commit()
    with pytest.raises(Exception, match=r"(?i)append.only|audit"), engine.begin() as connection:
        connection.execute(text(statement))
    assert session.scalars(select(AuditEntry.detail)).all() == ["test"]
