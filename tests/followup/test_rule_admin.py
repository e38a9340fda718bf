"""The clinic admin's rule pages: list, edit with field errors, preview over the last 30 days, save as a new
version that new readings use, switch off and on, history; nobody but an admin gets in."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import event, select

from core.db import utcnow
from core.models import AuditEntry
from followup.enums import ReadingKind
from followup.models import Callback, ClinicRule
from followup.routes.rule_form import form_values
from followup.rule_admin import preview_rule
from followup.rulebook import active_rules, ensure_default_rules
from followup.rules import RuleDefinition, default_rules
from tests.factories import login_staff, make_clinic, make_patient, make_staff, post_form, send_sms
from tests.followup.quality_builders import add_reading


@pytest.fixture
def clinic(session):
    clinic = make_clinic(session)
    ensure_default_rules(session=session, clinic=clinic)
    session.commit()
    return clinic


@pytest.fixture
def admin(client, session, clinic):
    user = make_staff(session, clinic, role="admin", username="rules-admin", display_name="Admin Zhou")
    session.commit()
    login_staff(client, "rules-admin")
    return user


def default(code: str) -> RuleDefinition:
    return next(r for r in default_rules("cn") if r.code == code)


def form_for(code: str, **changes: str) -> dict[str, object]:
    values = form_values(default(code).to_dict())
    values.pop("advanced_json")
    values["base_version"] = "1"
    values.update(changes)
    return values


def hidden_definition(html: str) -> str:
    match = re.search(r'name="definition" value="([^"]*)"', html)
    assert match, "the preview page carries the rule it previewed"
    return unescape(match.group(1))


def test_rule_list_shows_each_rule_in_the_admins_language(client, admin):
    text = client.get("/admin/rules").text
    assert "DES-GLU-3D" in text and "High glucose on consecutive days" in text
    assert "&gt;10.0 mmol/L (&gt;180 mg/dL) or HI on 3 consecutive days (the day&#39;s highest reading)" in text
    assert "Within 1 day" in text and "Default set" in text and "Same day" in text
    client.get("/lang/zh-CN?next=/admin/rules")
    assert "血糖连续数天偏高" in client.get("/admin/rules").text


def test_rule_pages_are_for_clinic_admins_only(client, session, clinic):
    make_staff(session, clinic, role="doctor", username="dr-rules")
    session.commit()
    login_staff(client, "dr-rules")
    assert client.get("/admin/rules").status_code == 403
    assert client.get("/admin/rules/DES-GLU-3D").status_code == 403
    assert post_form(client, "/admin/rules/DES-GLU-3D/save", form_for("DES-GLU-3D")).status_code == 403
    assert session.scalars(select(ClinicRule).where(ClinicRule.version > 1)).all() == []


def test_edit_form_puts_each_error_beside_its_field(client, admin):
    response = post_form(client, "/admin/rules/DES-GLU-3D/preview", form_for(
        "DES-GLU-3D", days="1", **{"bound0.mg/dL": "", "title.en": "", "due_value": "soon"}))
    assert response.status_code == 422
    text = response.text
    for field in ("days", "bound0.mg/dL", "title.en", "due"):
        assert f'id="{field}-error"' in text, field
    assert "Enter a whole number from 2 to 31." in text
    assert "Give this threshold in every unit" in text


def test_mismatched_units_are_caught_on_the_mg_dl_field(client, admin):
    response = post_form(client, "/admin/rules/CN-DM-01a/preview", form_for("CN-DM-01a", **{"bound0.mg/dL": "30"}))
    assert response.status_code == 422
    assert 'id="bound0.mg/dL-error"' in response.text and "does not match 16.7 mmol/L" in response.text


def test_errors_in_the_advanced_json_are_shown_at_the_json_box(client, admin):
    broken = default("CN-DM-01a").to_dict()
    broken["params"]["condition"]["bounds"][0]["op"] = "above"
    response = post_form(client, "/admin/rules/CN-DM-01a/preview", {
        **form_for("CN-DM-01a"), "use_advanced": "on", "advanced_json": json.dumps(broken)})
    assert response.status_code == 422
    assert 'id="advanced_json-error"' in response.text
    assert "params.condition.bounds[0].op" in response.text


def test_preview_shows_the_episodes_the_edited_rule_would_have_opened(client, session, clinic, admin):
    now = utcnow()
    high = make_patient(session, clinic, name="High Wang")
    borderline = make_patient(session, clinic, name="Borderline Li")
    stranger = make_patient(session, make_clinic(session), name="Other Clinic Zhao")
    for day, (a, b) in enumerate(((11.0, 10.6), (11.5, 10.7), (12.0, 10.8)), start=1):
        taken = now - timedelta(days=6 - day)
        add_reading(session, high, taken, value=str(a))
        add_reading(session, borderline, taken, value=str(b))
        add_reading(session, stranger, taken, value="15.0")
    session.commit()
    response = post_form(client, "/admin/rules/DES-GLU-3D/preview", form_for(
        "DES-GLU-3D", **{"bound0.mmol/L": "10.5", "bound0.mg/dL": "189"}))
    assert response.status_code == 200, response.text
    text = response.text
    assert "High Wang" in text and "Borderline Li" in text and "Other Clinic Zhao" not in text
    assert "above 10.5 mmol/L on 3 consecutive days (10.6, 10.7, 10.8)" in text
    assert "Opened a callback" in text and "Patients 1 to 2 of 2" in text
    audit = session.scalars(select(AuditEntry).where(AuditEntry.object_type == "rule_preview")).one()
    assert audit.actor_id == admin.id and "episodes=2" in audit.detail
    assert session.scalars(select(ClinicRule).where(ClinicRule.version > 1)).all() == [], "a preview saves nothing"


def test_preview_reads_one_page_of_patients_with_one_readings_query(session, clinic):
    now = utcnow()
    for n in range(3):
        patient = make_patient(session, clinic, name=f"Preview {n}")
        for day in range(1, 5):
            add_reading(session, patient, now - timedelta(days=day), value="11.2")
    session.commit()
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "FROM reading" in statement and "reading.patient_id IN" in statement:
            statements.append(statement)

    event.listen(session.get_bind(), "before_cursor_execute", count)
    try:
        page = preview_rule(session=session, clinic=clinic, rule=default("DES-GLU-3D"), now=now, page=2, per_page=2)
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", count)
    assert len(statements) == 1
    assert (page.total_patients, len(page.patients), page.number) == (3, 1, 2)
    assert [h.patient_id for h in page.hits] == list(page.patients)


def test_saving_makes_version_2_which_new_readings_use(client, session, clinic, admin, settings):
    preview = post_form(client, "/admin/rules/CN-DM-01a/preview", form_for(
        "CN-DM-01a", **{"bound0.mmol/L": "15.0", "bound0.mg/dL": "270"}))
    saved = post_form(client, "/admin/rules/CN-DM-01a/save",
                      {"definition": hidden_definition(preview.text), "base_version": "1"}, follow_redirects=False)
    assert saved.status_code in (302, 303) and saved.headers["location"] == "/admin/rules/CN-DM-01a?saved=2"
    session.expire_all()
    row = session.scalars(select(ClinicRule).where(ClinicRule.code == "CN-DM-01a", ClinicRule.version == 2)).one()
    assert (row.created_by, row.active, row.definition["params"]["condition"]["bounds"][0]["mmol/L"]) == (
        admin.id, True, "15.0")
    assert session.scalars(select(AuditEntry).where(AuditEntry.object_type == "clinic_rule")).one().detail == \
        "CN-DM-01a v2"
    assert "Saved as version 2" in client.get("/admin/rules/CN-DM-01a?saved=2").text
    patient = make_patient(session, clinic, phone="+8613712349901")
    session.commit()
    send_sms(client, settings, from_=patient.phone, body="血糖15.5")
    callback = session.scalars(select(Callback).where(Callback.patient_id == patient.id)).one()
    assert (callback.rule_code, callback.rule_version) == ("CN-DM-01a", 2)


def test_saving_over_someone_elses_newer_version_is_refused(client, session, clinic, admin):
    first = post_form(client, "/admin/rules/CN-HTN-01/preview", form_for("CN-HTN-01", **{"systolic.mmHg": "175"}))
    definition = hidden_definition(first.text)
    assert post_form(client, "/admin/rules/CN-HTN-01/save", {"definition": definition, "base_version": "1"},
                     follow_redirects=False).status_code in (302, 303)
    stale = post_form(client, "/admin/rules/CN-HTN-01/save", {"definition": definition, "base_version": "1"})
    assert stale.status_code == 409
    assert "Someone saved version 2 of this rule while you were editing" in stale.text
    versions = session.scalars(select(ClinicRule.version).where(ClinicRule.code == "CN-HTN-01")).all()
    assert sorted(versions) == [1, 2]


def test_switching_a_rule_off_and_on_adds_versions(client, session, clinic, admin, settings):
    post_form(client, "/admin/rules/CN-DM-01a/deactivate", {})
    session.expire_all()
    assert "CN-DM-01a" not in {r.definition.code for r in active_rules(session=session, clinic=clinic)}
    patient = make_patient(session, clinic, phone="+8613712349902")
    session.commit()
    send_sms(client, settings, from_=patient.phone, body="血糖17.0")
    assert session.scalars(select(Callback).where(Callback.rule_code == "CN-DM-01a")).all() == []
    assert "Switched off" in client.get("/admin/rules").text
    post_form(client, "/admin/rules/CN-DM-01a/activate", {})
    session.expire_all()
    rows = session.scalars(select(ClinicRule).where(ClinicRule.code == "CN-DM-01a")
                           .order_by(ClinicRule.version)).all()
    assert [(r.version, r.active) for r in rows] == [(1, True), (2, False), (3, True)]
    history = client.get("/admin/rules/CN-DM-01a/history").text
    assert "Admin Zhou" in history and "Default set" in history


def test_a_new_rule_goes_through_preview_and_is_saved_as_version_1(client, session, clinic, admin):
    assert "Type of rule" in client.get("/admin/rules/new").text
    form = client.get("/admin/rules/new?type=k_of_n&kind=blood_pressure")
    assert form.status_code == 200 and 'name="systolic.mmHg"' in form.text
    fields = {"type": "k_of_n", "kind": "blood_pressure", "code": "CLINIC-BP-2", "title.zh-CN": "血压反复偏高",
              "title.en": "Repeated high BP", "systolic.op": "ge", "systolic.mmHg": "160", "diastolic.op": "ge",
              "diastolic.mmHg": "100", "k": "2", "n": "3", "within_value": "7", "within_unit": "days",
              "severity": "same_day", "due_value": "0", "due_unit": "hours", "due_policy": "end_of_service_day",
              "reason.zh-CN": "{subject}{values}", "reason.en": "{subject} {values}"}
    preview = post_form(client, "/admin/rules/new/preview", fields)
    assert preview.status_code == 200, preview.text
    assert "No patient sent readings this rule reads" in preview.text
    saved = post_form(client, "/admin/rules/new/save", {"definition": hidden_definition(preview.text)},
                      follow_redirects=False)
    assert saved.headers["location"] == "/admin/rules/CLINIC-BP-2?saved=1"
    assert "CLINIC-BP-2" in {r.definition.code for r in active_rules(session=session, clinic=clinic)}
    again = post_form(client, "/admin/rules/new/preview", fields)
    assert again.status_code == 422 and 'id="code-error"' in again.text


def test_a_new_rule_needs_a_kind_of_reading(client, admin):
    response = client.get("/admin/rules/new?type=single_threshold")
    assert response.status_code == 422 and 'id="kind-error"' in response.text


def test_an_unknown_rule_code_is_not_found(client, admin):
    assert client.get("/admin/rules/NOPE-1").status_code == 404
    assert post_form(client, "/admin/rules/NOPE-1/preview", form_for("CN-DM-01a")).status_code == 404


def test_a_copied_rule_starts_with_an_empty_code(client, admin):
    text = client.get("/admin/rules/new?copy=CN-DM-03").text
    assert 'name="code" type="text" value=""' in text and "空腹血糖控制不满意" in text


def test_missing_data_preview_counts_silence_from_the_last_reading(session, clinic):
    now = utcnow()
    quiet = make_patient(session, clinic, name="Quiet Sun")
    quiet.created_at = now - timedelta(days=200)
    add_reading(session, quiet, now - timedelta(days=20), kind=ReadingKind.blood_pressure, bp=(130, 80))
    session.commit()
    page = preview_rule(session=session, clinic=clinic, rule=default("DES-MISS-01"), now=now)
    outcomes = [(h.patient_id, h.outcome.value) for h in page.hits]
    assert (quiet.id, "callback") in outcomes


@pytest.mark.parametrize("profile", ["cn", "us"])
def test_every_default_rule_survives_a_round_trip_through_the_form(profile):
    from followup.routes.rule_form import definition_from_form

    for rule in default_rules(profile):  # type: ignore[arg-type]
        values = form_values(rule.to_dict())
        definition, errors = definition_from_form(values, code=rule.code, rule_type=values["type"],
                                                  kind=values["kind"])
        assert errors.errors == [], rule.code
        assert RuleDefinition.from_dict(definition) == rule, rule.code
