"""FHIR R4 both ways: readings as Observations shaped as clinical-rules.md §4.2, the export endpoint, and an
export imported into a fresh patient coming back the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.errors import ValidationFailed
from core.models import AuditAction, AuditEntry
from followup import fhir
from followup.enums import GlucoseContext, MeterFlag, ReadingKind, ReadingSource
from followup.importer import Importer, read_source
from followup.models import Reading
from followup.service import Entry, record_readings, resolve_submission
from tests.factories import make_clinic, make_patient, make_staff, make_token

SHANGHAI = ZoneInfo("Asia/Shanghai")
SYSTEM = "http://testserver/fhir/sid/reading"
TAKEN = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)  # 07:30 on the 20th in Shanghai


def _reading(**values) -> Reading:
    base = {"id": 41, "clinic_id": 1, "patient_id": 7, "kind": ReadingKind.glucose, "unit_original": "mmol/L",
            "value_original": Decimal("11.2"), "value_canonical": Decimal("11.2"), "taken_at": TAKEN,
            "received_at": TAKEN + timedelta(minutes=1), "source": ReadingSource.sms, "entered_by_kind": "patient",
            "context": GlucoseContext.random}
    base.update(values)
    return Reading(**base)


def _observation(**values) -> dict:
    return fhir.observation(_reading(**values), tz=SHANGHAI, identifier_system=SYSTEM)


def _codes(resource: dict) -> list[str]:
    return [c["code"] for c in resource["code"]["coding"]]


def test_blood_pressure_is_a_panel_with_systolic_and_diastolic_components():
    obs = _observation(kind=ReadingKind.blood_pressure, unit_original="mmHg", value_original=None,
                       value_canonical=None, systolic=150, diastolic=95, context=None)
    assert _codes(obs) == ["85354-9"] and "valueQuantity" not in obs
    assert obs["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/bp"]
    assert obs["category"][0]["coding"][0]["code"] == "vital-signs"
    systolic, diastolic = obs["component"]
    assert _codes(systolic) == ["8480-6"] and systolic["valueQuantity"] == {
        "value": 150, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
    assert _codes(diastolic) == ["8462-4"] and diastolic["valueQuantity"]["value"] == 95
    assert obs["effectiveDateTime"] == "2026-11-20T07:30:00+08:00"
    assert obs["identifier"] == [{"system": SYSTEM, "value": "41"}] and obs["subject"] == {"reference": "Patient/7"}


@pytest.mark.parametrize(("unit", "value", "context", "code"), [
    ("mmol/L", "11.2", GlucoseContext.random, "14743-9"),
    ("mg/dL", "202", GlucoseContext.after_meal_2h, "41653-7"),
    ("mmol/L", "7.4", GlucoseContext.fasting, "14770-2"),
    ("mg/dL", "133", GlucoseContext.fasting, "41604-0"),
])
def test_the_glucose_code_is_chosen_from_the_unit_sent(unit, value, context, code):
    obs = _observation(unit_original=unit, value_original=Decimal(value), context=context)
    assert _codes(obs) == [code] and obs["category"][0]["coding"][0]["code"] == "laboratory"
    assert obs["valueQuantity"]["code"] == unit and obs["valueQuantity"]["value"] == float(value)


def test_heart_rate_and_weight_have_their_own_codes_and_ucum_units():
    hr = _observation(kind=ReadingKind.heart_rate, unit_original="/min", value_original=Decimal(72), context=None)
    assert _codes(hr) == ["8867-4"] and hr["valueQuantity"]["code"] == "/min" and hr["valueQuantity"]["value"] == 72
    kg = _observation(kind=ReadingKind.weight, unit_original="kg", value_original=Decimal("70.5"), context=None)
    assert _codes(kg) == ["29463-7"] and kg["valueQuantity"]["code"] == "kg"
    jin = _observation(kind=ReadingKind.weight, unit_original="jin", value_original=Decimal("130"),
                       value_canonical=Decimal("65.0"), context=None)
    assert jin["valueQuantity"]["value"] == 65 and jin["valueQuantity"]["code"] == "kg"  # 斤 has no UCUM code


def test_a_meter_hi_is_exported_as_off_scale_high_without_a_number():
    obs = _observation(value_original=None, value_canonical=None, meter_flag=MeterFlag.hi)
    assert "valueQuantity" not in obs and obs["valueString"] == "HI"
    assert obs["interpretation"][0]["coding"][0]["code"] == ">"
    assert fhir.submission(obs).meter_flag == MeterFlag.hi


def test_an_exported_observation_reads_back_as_the_same_submission():
    obs = _observation(unit_original="mg/dL", value_original=Decimal("202"), context=GlucoseContext.after_meal_2h)
    back = fhir.submission(json.loads(json.dumps(obs)))
    assert (back.kind, back.value, back.unit, back.context) == (ReadingKind.glucose, Decimal("202"), "mg/dL",
                                                                GlucoseContext.after_meal_2h)
    assert back.taken_at == TAKEN and back.external_id == f"{SYSTEM}|41"


def test_a_bp_panel_with_a_heart_rate_component_brings_the_pulse():
    obs = _observation(kind=ReadingKind.blood_pressure, unit_original="mmHg", value_original=None, systolic=150,
                       diastolic=95, context=None)
    obs["component"].append({"code": {"coding": [{"system": fhir.LOINC, "code": "8867-4"}]},
                             "valueQuantity": {"value": 72, "system": fhir.UCUM, "code": "/min"}})
    back = fhir.submission(obs)
    assert (back.systolic, back.diastolic, back.pulse) == (150, 95, 72)


def _problems(resource: dict) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        fhir.submission(resource)
    return {e.field: e.message % e.params if e.params else e.message for e in caught.value.field_errors}


def test_unusable_observations_say_what_is_wrong():
    lab = _observation()
    lab["code"]["coding"] = [{"system": fhir.LOINC, "code": "2345-7"}]
    assert "laboratory" in _problems(lab)["code"]
    retracted = {**_observation(), "status": "entered-in-error"}
    assert "entered-in-error" in _problems(retracted)["status"]
    no_offset = {**_observation(), "effectiveDateTime": "2026-11-20T07:30:00"}
    assert "offset" in _problems(no_offset)["effectiveDateTime"]
    date_only = {**_observation(), "effectiveDateTime": "2026-11-20"}
    assert "effectiveDateTime" in _problems(date_only)
    bp = _observation(kind=ReadingKind.blood_pressure, unit_original="mmHg", value_original=None, systolic=150,
                      diastolic=95, context=None)
    bp["component"] = bp["component"][:1]
    assert "component[diastolic]" in _problems(bp)
    kpa = _observation()
    kpa["valueQuantity"]["code"] = "g/L"
    assert "valueQuantity.code" in _problems(kpa)
    assert "code" in _problems({**_observation(), "code": {"coding": [{"system": fhir.LOINC, "code": "8310-5"}]}})


# --- through the API ----------------------------------------------------------------------------------------


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _store(session, patient, hours_ago, **submission):
    readings = resolve_submission(**submission)
    return record_readings(session=session, patient=patient, readings=readings,
                           taken_at=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours_ago),
                           entry=Entry(source=ReadingSource.web, kind="patient", user_id=patient.id))


def _patient_with_history(session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    token = make_token(session, make_staff(session, clinic))
    _store(session, patient, 60, kind=ReadingKind.glucose, value="7.4", unit="mmol/L", context=GlucoseContext.fasting)
    _store(session, patient, 50, kind=ReadingKind.glucose, value="202", unit="mg/dL",
           context=GlucoseContext.after_meal_2h)
    _store(session, patient, 40, kind=ReadingKind.glucose, unit="mmol/L", meter_flag=MeterFlag.lo)
    _store(session, patient, 30, kind=ReadingKind.blood_pressure, systolic=150, diastolic=95, pulse=72)
    _store(session, patient, 20, kind=ReadingKind.weight, value="70.5", unit="kg")
    session.commit()
    return clinic, patient, token


def test_the_export_is_a_searchset_bundle_of_the_patients_observations(client, session):
    _, patient, token = _patient_with_history(session)
    response = client.get(f"/api/v1/patients/{patient.id}/observations", headers=_bearer(token))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "searchset", 6)
    resources = [e["resource"] for e in bundle["entry"]]
    assert sorted(_codes(r)[0] for r in resources) == sorted(
        ["14770-2", "41653-7", "14743-9", "85354-9", "8867-4", "29463-7"])
    assert all(r["effectiveDateTime"].endswith("+08:00") for r in resources)
    assert all(e["fullUrl"].startswith("urn:uuid:") and e["search"] == {"mode": "match"} for e in bundle["entry"])
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export,
                                                    AuditEntry.patient_id == patient.id)).one()


def test_the_export_pages_with_next_links(client, session):
    _, patient, token = _patient_with_history(session)
    bundle = client.get(f"/api/v1/patients/{patient.id}/observations", params={"per_page": 4},
                        headers=_bearer(token)).json()
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert len(bundle["entry"]) == 4 and "page=2" in links["next"]
    rest = client.get(links["next"].removeprefix("http://testserver"), headers=_bearer(token)).json()
    assert len(rest["entry"]) == 2 and "next" not in {link["relation"] for link in rest["link"]}


def test_another_clinics_patient_cannot_be_exported(client, session):
    _, _, token = _patient_with_history(session)
    stranger = make_patient(session, make_clinic(session))
    session.commit()
    assert client.get(f"/api/v1/patients/{stranger.id}/observations", headers=_bearer(token)).status_code == 404


def _snapshot(session, patient_id):
    rows = session.scalars(select(Reading).where(Reading.patient_id == patient_id).order_by(Reading.taken_at,
                                                                                           Reading.kind)).all()
    return [(r.kind, r.value_original, r.unit_original, r.systolic, r.diastolic, r.context, r.meter_flag, r.taken_at)
            for r in rows]


def test_an_export_imported_into_a_fresh_patient_round_trips(client, session):
    clinic, patient, token = _patient_with_history(session)
    fresh = make_patient(session, clinic)
    session.commit()
    exported = client.get(f"/api/v1/patients/{patient.id}/observations", headers=_bearer(token)).content
    source = read_source(exported, name="export.json")
    importer = Importer(clinic_id=clinic.id, patient_id=fresh.id, identifier_system=SYSTEM)
    importer.run(session, source.rows)
    session.commit()
    assert importer.report.rejected_rows == 0 and importer.report.readings_added == 6
    assert _snapshot(session, fresh.id) == _snapshot(session, patient.id)
    assert {r.source for r in session.scalars(select(Reading).where(Reading.patient_id == fresh.id))} == {"import"}
    again = Importer(clinic_id=clinic.id, patient_id=fresh.id, identifier_system=SYSTEM)
    again.run(session, read_source(exported, name="export.json").rows)
    assert (again.report.readings_added, again.report.present_rows) == (0, 6)


def test_an_export_imported_back_into_the_same_patient_adds_nothing(client, session):
    clinic, patient, token = _patient_with_history(session)
    exported = client.get(f"/api/v1/patients/{patient.id}/observations", headers=_bearer(token)).content
    importer = Importer(clinic_id=clinic.id, patient_id=patient.id, identifier_system=SYSTEM)
    importer.run(session, read_source(exported, name="export.json").rows)
    assert importer.report.readings_added == 0 and importer.report.present_rows == 6


def test_offsets_other_than_the_patients_keep_the_same_instant():
    obs = {**_observation(), "effectiveDateTime": "2026-11-19T18:30:00-05:00"}
    assert fhir.submission(obs).taken_at == TAKEN
