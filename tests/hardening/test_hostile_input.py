"""Hostile input: markup in free text is shown as text on pages and in PDFs; oversized, malformed and absurd
input is refused with a clear 4xx and the field at fault; SQL-looking text is stored and shown as written."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from core.db import utcnow
from tests.factories import (
    login_staff,
    make_callback,
    make_clinic,
    make_patient,
    make_pdca_cycle,
    make_pdca_project,
    make_staff,
    make_token,
    pdf_text,
    post_form,
)

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert("
SQL = "Robert'); DROP TABLE patient;--"


@dataclass(frozen=True)
class Place:
    """Where one domain's free text is shown: the role that reads it, the pages, and a PDF if it has one."""

    field: str
    role: str
    arrange: Callable[[Any, Any, Any, str], dict[str, int]]  # (session, clinic, staff, text) -> ids
    pages: tuple[str, ...]
    pdf: str | None = None


def _patient_name(session: Any, clinic: Any, staff: Any, text: str) -> dict[str, int]:
    patient = make_patient(session, clinic, name=text)
    make_callback(session, patient)
    return {"patient": patient.id}


def _callback_note(session: Any, clinic: Any, staff: Any, text: str) -> dict[str, int]:
    from clinic.auth import staff_principal
    from followup.callbacks.lifecycle import log_attempt

    patient = make_patient(session, clinic)
    callback = make_callback(session, patient)
    log_attempt(session=session, callback=callback, actor=staff_principal(staff),
                data={"outcome": "no_answer", "note": text})
    return {"patient": patient.id, "callback": callback.id}


def _complaint(session: Any, clinic: Any, staff: Any, text: str) -> dict[str, int]:
    from tests.feedback.feedback_builders import make_item

    return {"item": make_item(session, clinic, description=text).id}


def _rca(session: Any, clinic: Any, staff: Any, text: str) -> dict[str, int]:
    from tests.rca.rca_builders import make_analysis

    return {"analysis": make_analysis(session, clinic, staff, title="RCA " + text, problem_statement=text).id}


def _pdca(session: Any, clinic: Any, staff: Any, text: str) -> dict[str, int]:
    project = make_pdca_project(session, clinic, staff, title="Aim " + text, population=text)
    cycle = make_pdca_cycle(session, project, staff, change_idea=text, prediction=text)
    return {"project": project.id, "cycle": cycle.id}


PLACES = [
    Place("patient name", "doctor", _patient_name,
          ("/patients", "/patients/{patient}", "/callbacks"), pdf="/patients/{patient}/summary.pdf"),
    Place("callback note", "doctor", _callback_note, ("/callbacks/{callback}",)),
    Place("complaint text", "committee", _complaint, ("/feedback/{item}", "/feedback?status=all")),
    Place("RCA fields", "committee", _rca, ("/rca/{analysis}", "/rca")),
    Place("PDCA fields", "committee", _pdca,
          ("/pdca/projects/{project}", "/pdca/cycles/{cycle}", "/pdca"), pdf="/pdca/cycles/{cycle}/report.pdf"),
]


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.field)
def test_markup_in_free_text_is_shown_escaped_on_pages_and_as_text_in_pdfs(client, session, place):
    clinic = make_clinic(session, language="en", profile="us")
    staff = make_staff(session, clinic, role=place.role, username=f"reader-{place.role}")
    ids = place.arrange(session, clinic, staff, SCRIPT)
    session.commit()
    assert login_staff(client, staff.username).status_code in (302, 303)
    for template in place.pages:
        page = client.get(template.format(**ids))
        assert page.status_code == 200, template
        assert "<script>alert(" not in page.text and "<img src=x" not in page.text, template
        assert ESCAPED in page.text, f"{place.field} is not shown on {template}"
    if place.pdf:
        pdf = client.get(place.pdf.format(**ids))
        assert pdf.status_code == 200 and pdf.headers["content-type"].startswith("application/pdf")
        text = " ".join(pdf_text(pdf.content).split())
        assert '<script>alert("x")</script>' in text, "the markup is printed as the text it is"


def test_survey_free_text_is_shown_escaped_to_the_committee(client, session):
    from tests.surveys.survey_builders import GOOD, answer, sent_invitation

    clinic = make_clinic(session)
    make_staff(session, clinic, role="committee", username="qc-hostile")
    _, token = sent_invitation(session, clinic, make_patient(session, clinic))
    session.commit()
    assert answer(client, token, {**GOOD, "q_comment": SCRIPT}).status_code in (200, 302, 303)
    login_staff(client, "qc-hostile")
    page = client.get("/surveys").text
    assert ESCAPED in page and "<script>alert(" not in page


def test_sql_looking_text_is_stored_and_shown_as_written(client, session):
    clinic = make_clinic(session, language="en", profile="us")
    doctor = make_staff(session, clinic, role="doctor", username="doc-sql")
    token = make_token(session, doctor)
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/patients", json={"name": SQL, "phone": "+8613700001111"}, headers=headers)
    assert created.status_code == 201
    assert client.get(f"/api/v1/patients/{created.json()['id']}", headers=headers).json()["name"] == SQL
    login_staff(client, "doc-sql")
    found = client.get("/patients", params={"q": "' OR 1=1 --"})
    assert found.status_code == 200 and "Robert" not in found.text  # the filter matched nothing, literally
    listed = client.get("/patients", params={"q": "DROP TABLE"})
    assert "Robert&#39;); DROP TABLE patient;--" in listed.text
    assert client.get("/patients").status_code == 200  # the table is still there


# --- size, encoding and shape -------------------------------------------------------------------------------

@pytest.fixture
def api(client, session):
    clinic = make_clinic(session, language="en", profile="us")
    doctor = make_staff(session, clinic, role="doctor", username="doc-api")
    patient = make_patient(session, clinic)
    token = make_token(session, doctor)
    session.commit()
    return {"headers": {"Authorization": f"Bearer {token}"}, "patient": patient, "clinic": clinic}


def test_an_oversized_api_body_is_refused_with_413_and_a_reason(client, api, settings):
    body = json.dumps({"name": "x" * (settings.max_body_bytes + 1)})
    response = client.post("/api/v1/patients", content=body, headers={**api["headers"],
                                                                       "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["message"] == "The request is too large."


def test_an_oversized_form_is_refused_with_413_page(client, session, settings):
    response = post_form(client, "/login", {"username": "x", "password": "p" * (settings.max_body_bytes + 1)})
    assert response.status_code == 413
    assert "The request is too large." in response.text


def test_the_body_limit_defaults_to_two_megabytes(settings):
    assert settings.max_body_bytes == 2_000_000


@pytest.mark.parametrize("raw", [b'{"name": "\xff\xfe bad"}', b"\xc3\x28", b'{"name": "ok"', b"[]", b"null"])
def test_invalid_utf8_or_malformed_json_is_a_400_not_a_crash(client, api, raw):
    response = client.post("/api/v1/patients", content=raw,
                           headers={**api["headers"], "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["message"]


def test_invalid_utf8_in_a_form_is_refused_or_read_as_text_never_a_crash(client, session):
    make_staff(session, make_clinic(session), username="wang")
    session.commit()
    client.get("/login")
    token = client.cookies["careloop_csrf"]
    response = client.post("/login", content=b"username=%ff%fe%fd&password=\xff\xfe&_csrf_token=" + token.encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code in (400, 401, 422)


def _reading(patient_id: int, **overrides: Any) -> dict[str, Any]:
    body = {"patient_id": patient_id, "kind": "glucose", "value": "6.1", "unit": "mmol/L", "context": "fasting",
            "taken_at": utcnow().isoformat()}
    body.update(overrides)
    return body


@pytest.mark.parametrize("overrides, field", [
    ({"taken_at": "0001-01-01T00:00:00+00:00"}, "taken_at"),
    ({"taken_at": "9999-12-31T23:59:59+00:00"}, "taken_at"),
    ({"value": "-5"}, "value"),
    ({"value": "1e308"}, "value"),
    ({"value": "99999999999999999999999999"}, "value"),
    ({"value": "NaN"}, "value"),
    ({"kind": "blood_pressure", "value": None, "unit": None, "context": None, "systolic": -120, "diastolic": 80},
     "systolic"),
    ({"kind": "blood_pressure", "value": None, "unit": None, "context": None, "systolic": 10**30, "diastolic": 80},
     "systolic"),
    ({"kind": "weight", "value": "-70", "unit": "kg", "context": None}, "value"),
])
def test_absurd_dates_and_numbers_in_a_reading_are_refused_with_the_field(client, api, overrides, field):
    response = client.post("/api/v1/readings", json=_reading(api["patient"].id, **overrides), headers=api["headers"])
    assert response.status_code in (400, 422), response.text
    body = response.json()
    assert body["message"]
    assert any(field in f["field"] for f in body.get("fields", [])), body


@pytest.mark.parametrize("dob", ["0001-01-01", "9999-12-31"])
def test_an_absurd_date_of_birth_is_refused(client, api, dob):
    response = client.post("/api/v1/patients", json={"name": "Li", "phone": "+8613700002222", "date_of_birth": dob},
                           headers=api["headers"])
    assert response.status_code in (400, 422), response.text
    assert any("date_of_birth" in f["field"] for f in response.json().get("fields", []))


@pytest.mark.parametrize("query", ["since=0001-01-01", "since=9999-12-31T23:59:59", "until=0000-00-00",
                                   "per_page=-1", "per_page=999999999999999999999", "page=-5"])
def test_absurd_query_values_are_a_400_or_clamped_never_a_crash(client, api, query):
    response = client.get(f"/api/v1/patients/{api['patient'].id}/readings?{query}", headers=api["headers"])
    assert response.status_code in (200, 400), response.text


CSV_HEADER = "patient_id,phone,kind,value,systolic,diastolic,pulse,unit,context,taken_at,external_id\n"


def _import(session: Any, clinic: Any, data: bytes, name: str, patient_id: int | None = None) -> Any:
    from followup.importer import Importer, read_source

    importer = Importer(clinic_id=clinic.id, patient_id=patient_id)
    importer.run(session, read_source(data, name=name).rows)
    session.commit()
    return importer.report


@pytest.mark.parametrize("row, field", [
    ("{p},,glucose,6.1,,,,mmol/L,,0001-01-01T00:00:00+00:00,", "taken_at"),
    ("{p},,glucose,6.1,,,,mmol/L,,9999-12-31T23:59:59+00:00,", "taken_at"),
    ("{p},,glucose,-6.1,,,,mmol/L,,{t},", "value"),
    ("{p},,glucose,1e308,,,,mmol/L,,{t},", "value"),
    ("{p},,glucose,NaN,,,,mmol/L,,{t},", "value"),
    ("{p},,blood_pressure,,99999999999999999999,80,,mmHg,,{t},", "systolic"),
    ("{p},,weight,-70,,,,kg,,{t},", "value"),
    ("99999999999999999999999,,glucose,6.1,,,,mmol/L,,{t},", "patient_id"),
    ("{p},,<script>alert(1)</script>,6.1,,,,mmol/L,,{t},", "kind"),
    ("{p},,glucose,6.1'; DROP TABLE reading;--,,,,mmol/L,,{t},", "value"),
])
def test_csv_rows_with_absurd_values_are_rejected_by_row_and_field(session, row, field):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    session.commit()
    now = utcnow().replace(microsecond=0).isoformat()
    good = f"{patient.id},,glucose,6.2,,,,mmol/L,,{now},\n"
    data = (CSV_HEADER + good + row.format(p=patient.id, t=now) + "\n").encode()
    report = _import(session, clinic, data, "readings.csv")
    assert report.added_rows == 1, "the good row still imports"
    assert [(problem.number, {e.field for e in problem.errors}) for problem in report.problems] == [(3, {field})]


def _observation(patient_id: int, **overrides: Any) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": utcnow().replace(microsecond=0).isoformat(),
        "valueQuantity": {"value": 6.1, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
    }
    observation.update(overrides)
    return observation


@pytest.mark.parametrize("bad", [
    {"effectiveDateTime": "9999-12-31T00:00:00+00:00"},
    {"effectiveDateTime": "0001-01-01T00:00:00+00:00"},
    {"valueQuantity": {"value": -3, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}},
    {"valueQuantity": {"value": 1e308, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}},
    {"valueQuantity": {"value": "lots", "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}},
    {"code": {"coding": [{"system": "http://loinc.org", "code": "<script>"}]}},
    {"status": "<b>final</b>"},
    {"valueQuantity": None},
])
def test_a_fhir_bundle_entry_with_absurd_values_is_rejected_and_the_rest_imported(session, bad):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    session.commit()
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": _observation(patient.id)}, {"resource": _observation(patient.id, **bad)}]}
    report = _import(session, clinic, json.dumps(bundle).encode(), "bundle.json", patient_id=patient.id)
    assert report.added_rows == 1
    assert [problem.number for problem in report.problems] == [2]
    assert all(e.message for problem in report.problems for e in problem.errors)
