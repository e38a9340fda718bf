"""Bulk import of readings: CSV and FHIR rows, row-numbered errors, idempotency, rules on recent readings only,
and the `careloop import readings` command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.cli import main
from core.models import AuditEntry
from followup.importer import Importer, ImportFileInvalid, read_source
from followup.models import Callback, Reading
from tests.factories import make_clinic, make_patient

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = "patient_id,phone,kind,value,systolic,diastolic,pulse,unit,context,taken_at,external_id\n"


def _ago(hours: float, *, local: bool = False) -> str:
    moment = (datetime.now(UTC) - timedelta(hours=hours)).astimezone(SHANGHAI).replace(microsecond=0)
    return moment.strftime("%Y-%m-%d %H:%M") if local else moment.isoformat()


def _setup(session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    session.commit()
    return clinic, patient


def _import(session, clinic, data: bytes, name: str = "readings.csv", **options):
    importer = Importer(clinic_id=clinic.id, **options)
    importer.run(session, read_source(data, name=name).rows)
    session.commit()
    return importer.report


def _readings(session, patient):
    return session.scalars(select(Reading).where(Reading.patient_id == patient.id).order_by(Reading.id)).all()


def test_csv_rows_of_every_kind_are_imported(session):
    clinic, patient = _setup(session)
    p = patient.id
    data = (HEADER
            + f"{p},,glucose,7.4,,,,mmol/L,fasting,{_ago(50)},\n"
            + f"{p},,blood_pressure,,150,95,72,mmHg,,{_ago(49)},\n"
            + f"{p},,heart_rate,64,,,,,,{_ago(48)},\n"
            + f"{p},,weight,130,,,,jin,,{_ago(47)},\n").encode()
    report = _import(session, clinic, data)
    assert (report.rows, report.added_rows, report.readings_added, report.rejected_rows) == (4, 4, 5, 0)
    kinds = [(r.kind, r.source, r.entered_by_kind) for r in _readings(session, patient)]
    assert [k for k, _, _ in kinds] == ["glucose", "blood_pressure", "heart_rate", "heart_rate", "weight"]
    assert {(s, e) for _, s, e in kinds} == {("import", "import")}
    weight = _readings(session, patient)[-1]
    assert (weight.value_original, weight.unit_original, weight.value_canonical) == (Decimal("130"), "jin",
                                                                                      Decimal("65.0"))


def test_a_local_time_is_read_in_the_patients_time_zone(session):
    clinic, patient = _setup(session)
    local = _ago(30, local=True)
    _import(session, clinic, (HEADER + f"{patient.id},,glucose,6.1,,,,mmol/L,,{local},\n").encode())
    (reading,) = _readings(session, patient)
    assert reading.taken_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") == local


def test_importing_the_same_csv_twice_adds_nothing(session):
    clinic, patient = _setup(session)
    data = (HEADER + f"{patient.id},,glucose,7.4,,,,mmol/L,fasting,{_ago(50)},\n"
            + f"{patient.id},,blood_pressure,150/95,,,,,,{_ago(49)},\n"
            + f"{patient.id},,weight,70.5,,,,kg,,{_ago(48)},w-1\n").encode()
    first = _import(session, clinic, data)
    second = _import(session, clinic, data)
    assert first.added_rows == 3 and (second.added_rows, second.present_rows) == (0, 3)
    assert len(_readings(session, patient)) == 3


def test_the_same_reading_written_differently_is_still_found(session):
    clinic, patient = _setup(session)
    when = _ago(50)
    _import(session, clinic, (HEADER + f"{patient.id},,glucose,7.40,,,,mmol/L,fasting,{when},\n").encode())
    again = _import(session, clinic, (HEADER + f"{patient.id},,glucose,7.4,,,,mmol/l,fasting,{when},\n").encode())
    assert again.present_rows == 1 and len(_readings(session, patient)) == 1


def test_bad_rows_are_reported_with_their_row_numbers_and_good_rows_still_import(session):
    clinic, patient = _setup(session)
    p = patient.id
    data = (HEADER
            + f"{p},,glucose,6.2,,,,mmol/L,,{_ago(10)},\n"          # row 2: good
            + f"{p},,glucose,99,,,,mmol/L,,{_ago(9)},\n"            # row 3: impossible value
            + f"{p},,sugar,6.0,,,,mmol/L,,{_ago(8)},\n"             # row 4: unknown kind
            + "\n"                                                  # row 5: blank, not a row
            + f"{p},,blood_pressure,,150,95,400,,,{_ago(7)},\n"     # row 6: bad pulse, nothing of it stored
            + f"999999,,glucose,6.0,,,,mmol/L,,{_ago(6)},\n"        # row 7: no such patient
            + f"{p},,glucose,6.4,,,,mmol/L,,{_ago(-3)},\n"          # row 8: in the future
            + f"{p},,glucose,6.8,,,,mmol/L,,2026-11-20,\n"          # row 9: no time of day
            + f"{p},,heart_rate,70,,,,,,{_ago(5)},\n").encode()     # row 10: good
    report = _import(session, clinic, data)
    problems = {p.number: {e.field for e in p.errors} for p in report.problems}
    assert problems == {3: {"value"}, 4: {"kind"}, 6: {"pulse"}, 7: {"patient_id"}, 8: {"taken_at"},
                        9: {"taken_at"}}
    assert (report.rows, report.added_rows) == (8, 2)
    assert [r.kind for r in _readings(session, patient)] == ["glucose", "heart_rate"]


def test_a_bom_and_full_width_digits_are_read(session):
    clinic, patient = _setup(session)
    data = "\ufeff" + HEADER + f"{patient.id},,glucose,１１．２,,,,mmol/L,,{_ago(30)},\n"
    report = _import(session, clinic, data.encode("utf-8"))
    assert report.added_rows == 1 and _readings(session, patient)[0].value_original == Decimal("11.2")


def test_a_file_that_is_not_utf8_or_lacks_columns_is_refused_whole():
    with pytest.raises(ImportFileInvalid, match="UTF-8"):
        read_source((HEADER + "1,,glucose,7.0,,,,mmol/L,,2026-11-20 07:30,血糖\n").encode("gbk"))
    with pytest.raises(ImportFileInvalid) as caught:
        read_source(b"patient,value\n1,7.0\n")
    assert "kind" in str(caught.value) and "taken_at" in str(caught.value)


def test_the_phone_column_finds_patients_of_this_clinic_only(session):
    clinic, patient = _setup(session)
    other = make_patient(session, make_clinic(session))
    session.commit()
    local_phone = patient.phone.removeprefix("+86")
    data = (HEADER + f",{local_phone},glucose,6.0,,,,mmol/L,,{_ago(30)},\n"
            + f",{other.phone},glucose,6.0,,,,mmol/L,,{_ago(30)},\n").encode()
    report = _import(session, clinic, data)
    assert report.added_rows == 1 and [p.number for p in report.problems] == [3]
    assert "****" in report.problems[0].errors[0].params["phone"]
    assert _readings(session, other) == []


def test_only_readings_from_the_last_24_hours_run_the_rules(session):
    clinic, patient = _setup(session)
    old = _import(session, clinic, (HEADER + f"{patient.id},,glucose,18.5,,,,mmol/L,,{_ago(72)},\n").encode())
    assert old.evaluated == 0 and session.scalars(select(Callback)).all() == []
    new = _import(session, clinic, (HEADER + f"{patient.id},,glucose,18.5,,,,mmol/L,,{_ago(2)},\n").encode())
    assert (new.evaluated, new.callbacks_opened) == (1, 1)
    assert session.scalars(select(Callback)).one().rule_code == "CN-DM-01a"


def test_a_fhir_bundle_from_another_system_finds_the_patient_by_phone(session):
    clinic, patient = _setup(session)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "id": "abc",
                                                "telecom": [{"system": "phone", "value": patient.phone}]}},
        {"resource": {"resourceType": "Observation", "status": "final", "identifier": [
            {"system": "urn:other:obs", "value": "9"}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "41653-7"}]},
            "subject": {"reference": "urn:uuid:p1"}, "effectiveDateTime": _ago(40),
            "valueQuantity": {"value": 182, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}}},
        {"resource": {"resourceType": "Observation", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                      "subject": {"reference": "Patient/unknown"}, "effectiveDateTime": _ago(40),
                      "valueQuantity": {"value": 70, "code": "/min"}}},
    ]}
    report = _import(session, clinic, json.dumps(bundle).encode(), name="bundle.json")
    assert report.added_rows == 1 and [(p.label, p.number) for p in report.problems] == [("entry", 3)]
    (reading,) = _readings(session, patient)
    assert (reading.value_original, reading.unit_original, reading.external_id) == (Decimal("182"), "mg/dL",
                                                                                    "urn:other:obs|9")


def test_ndjson_as_written_by_fhir_bulk_export_is_read(session):
    clinic, patient = _setup(session)
    line = {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "effectiveDateTime": _ago(40), "valueQuantity": {"value": 71200, "code": "g"}}
    data = (json.dumps(line) + "\n" + json.dumps({**line, "effectiveDateTime": _ago(30)}) + "\n").encode()
    report = _import(session, clinic, data, name="Observation.ndjson", patient_id=patient.id)
    assert report.added_rows == 2 and _readings(session, patient)[0].value_original == Decimal("71.2")


# --- the command --------------------------------------------------------------------------------------------


def _cli(settings, monkeypatch, *args):
    monkeypatch.setenv("CARELOOP_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CARELOOP_PUBLIC_URL", settings.public_url)
    from core.settings import get_settings

    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, ["import", "readings", *args], catch_exceptions=False)
    finally:
        get_settings.cache_clear()


def test_the_command_imports_a_csv_and_prints_a_summary(app, settings, session, monkeypatch, tmp_path):
    clinic, patient = _setup(session)
    path = tmp_path / "readings.csv"
    path.write_text(HEADER + f"{patient.id},,glucose,7.4,,,,mmol/L,fasting,{_ago(50)},\n"
                    + f"{patient.id},,glucose,abc,,,,mmol/L,,{_ago(49)},\n", encoding="utf-8")
    result = _cli(settings, monkeypatch, str(path), "--clinic", clinic.code, "--report", str(tmp_path / "bad.csv"))
    assert result.exit_code == 1, result.output  # a rejected row makes scripts notice; the good row is in
    assert "1 added (1 readings" in result.output and "1 rejected" in result.output
    assert "row 3: value: Enter a number." in result.output
    assert (tmp_path / "bad.csv").read_text(encoding="utf-8-sig").splitlines()[1] == "3,value,Enter a number."
    session.expire_all()
    assert len(_readings(session, patient)) == 1
    again = _cli(settings, monkeypatch, str(path), "--clinic", clinic.code)
    assert "0 added" in again.output and "1 already present" in again.output
    assert session.scalars(select(AuditEntry).where(AuditEntry.object_type == "reading_import")).all()


def test_a_dry_run_counts_but_stores_nothing(app, settings, session, monkeypatch, tmp_path):
    clinic, patient = _setup(session)
    path = tmp_path / "readings.csv"
    path.write_text(HEADER + f"{patient.id},,glucose,7.4,,,,mmol/L,,{_ago(5)},\n"
                    + f"{patient.id},,glucose,7.4,,,,mmol/L,,{_ago(5)},\n", encoding="utf-8")
    result = _cli(settings, monkeypatch, str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.output and "1 added" in result.output and "1 already present" in result.output
    session.expire_all()
    assert _readings(session, patient) == [] and session.scalars(select(Callback)).all() == []


def test_the_command_imports_a_fhir_export_into_a_named_patient(app, settings, session, monkeypatch, tmp_path):
    clinic, patient = _setup(session)
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
                   "subject": {"reference": "Patient/77"}, "effectiveDateTime": _ago(30), "component": [
                       {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                        "valueQuantity": {"value": 142, "code": "mm[Hg]", "system": "http://unitsofmeasure.org"}},
                       {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                        "valueQuantity": {"value": 88, "code": "mm[Hg]", "system": "http://unitsofmeasure.org"}}]}
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": observation}]}))
    result = _cli(settings, monkeypatch, str(path), "--patient", str(patient.id), "--format", "fhir")
    assert result.exit_code == 0, result.output
    session.expire_all()
    (reading,) = _readings(session, patient)
    assert (reading.systolic, reading.diastolic, reading.source) == (142, 88, "import")


def test_the_command_refuses_an_unreadable_file(app, settings, session, monkeypatch, tmp_path):
    _setup(session)
    path = tmp_path / "readings.json"
    path.write_text("{not json")
    result = _cli(settings, monkeypatch, str(path))
    assert result.exit_code != 0 and "not valid JSON" in result.output
