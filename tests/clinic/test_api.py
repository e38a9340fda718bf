"""The patients API: bearer tokens, clinic scoping, validation answers."""

from __future__ import annotations

from sqlalchemy import select

from core.models import AuditAction, AuditEntry
from tests.factories import make_clinic, make_patient, make_staff, make_token

ZHANG = {"name": "张三", "phone": "+8613700000001", "language": "zh-CN", "programmes": ["hypertension", "diabetes"],
         "glucose_unit": "mmol/L", "sms_consent": True}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _doctor_token(session, clinic=None):
    clinic = clinic or make_clinic(session)
    token = make_token(session, make_staff(session, clinic, role="doctor"))
    session.commit()
    return clinic, token


def test_creating_a_patient_returns_201_with_its_id(client, session):
    clinic, token = _doctor_token(session)
    response = client.post("/api/v1/patients", json=ZHANG, headers=_bearer(token))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] > 0 and body["clinic_id"] == clinic.id
    assert body["programmes"] == ["hypertension", "diabetes"] and body["phone"] == "+8613700000001"
    assert body["timezone"] == "Asia/Shanghai"


def test_a_new_patient_lands_in_the_tokens_clinic_and_is_listed(client, session):
    clinic, token = _doctor_token(session)
    created = client.post("/api/v1/patients", json=ZHANG, headers=_bearer(token)).json()
    listed = client.get("/api/v1/patients", headers=_bearer(token)).json()
    assert listed["total"] == 1 and [p["id"] for p in listed["items"]] == [created["id"]]
    assert client.get(f"/api/v1/patients/{created['id']}", headers=_bearer(token)).json()["name"] == "张三"


def test_local_phone_numbers_are_stored_in_e164(client, session):
    _, token = _doctor_token(session)
    body = client.post("/api/v1/patients", json={**ZHANG, "phone": "137 0000 0002"}, headers=_bearer(token)).json()
    assert body["phone"] == "+8613700000002"


def test_patient_of_another_clinic_is_404(client, session):
    other = make_clinic(session)
    stranger = make_patient(session, other)
    _, token = _doctor_token(session)
    response = client.get(f"/api/v1/patients/{stranger.id}", headers=_bearer(token))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_list_never_shows_another_clinics_patients(client, session):
    other = make_clinic(session)
    make_patient(session, other)
    _, token = _doctor_token(session)
    assert client.get("/api/v1/patients", headers=_bearer(token)).json() == {
        "items": [], "total": 0, "page": 1, "per_page": 50}


def test_missing_or_wrong_token_is_401(client, session):
    _doctor_token(session)
    assert client.get("/api/v1/patients").status_code == 401
    assert client.get("/api/v1/patients", headers=_bearer("cl_wrong")).status_code == 401


def test_a_session_cookie_does_not_authenticate_the_api(client, session):
    from tests.factories import login_staff

    clinic = make_clinic(session)
    make_staff(session, clinic, username="wang")
    session.commit()
    login_staff(client, "wang")
    assert client.get("/api/v1/patients").status_code == 401


def test_bad_fields_are_422_with_field_level_messages(client, session):
    _, token = _doctor_token(session)
    response = client.post("/api/v1/patients", json={**ZHANG, "name": " ", "phone": "12345"}, headers=_bearer(token))
    assert response.status_code == 422
    fields = {f["field"] for f in response.json()["fields"]}
    assert fields == {"name", "phone"}


def test_wrong_types_are_422_not_500(client, session):
    _, token = _doctor_token(session)
    response = client.post("/api/v1/patients", json={**ZHANG, "programmes": ["astrology"], "sms_consent": "maybe"},
                           headers=_bearer(token))
    assert response.status_code == 422
    assert response.json()["fields"]


def test_duplicate_phone_is_refused(client, session):
    _, token = _doctor_token(session)
    client.post("/api/v1/patients", json=ZHANG, headers=_bearer(token))
    response = client.post("/api/v1/patients", json={**ZHANG, "name": "李四"}, headers=_bearer(token))
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "phone"


def test_committee_member_may_read_but_not_register_patients(client, session):
    clinic = make_clinic(session)
    token = make_token(session, make_staff(session, clinic, role="committee"))
    session.commit()
    assert client.get("/api/v1/patients", headers=_bearer(token)).status_code == 200
    assert client.post("/api/v1/patients", json=ZHANG, headers=_bearer(token)).status_code == 403


def test_reading_a_patient_through_the_api_is_audited(client, session):
    clinic, token = _doctor_token(session)
    patient = make_patient(session, clinic)
    session.commit()
    client.get(f"/api/v1/patients/{patient.id}", headers=_bearer(token))
    rows = session.scalars(select(AuditEntry).where(AuditEntry.patient_id == patient.id)).all()
    assert [(r.action, r.actor_kind) for r in rows] == [(AuditAction.view, "staff-api")]


def test_openapi_schema_lists_the_patient_endpoints(client):
    schema = client.get("/schema/openapi.json").json()
    assert "/api/v1/patients" in schema["paths"] and "/api/v1/patients/{patient_id}" in schema["paths"]
