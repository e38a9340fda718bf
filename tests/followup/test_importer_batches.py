"""The bulk importer's batches: rows checked one by one, written together (COPY on PostgreSQL, multi-row INSERT
on SQLite), idempotent across batches and re-runs, and rules and audit once per patient per batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.models import AuditEntry
from followup.importer import Importer, read_source
from followup.models import Callback, Reading
from tests.factories import make_clinic, make_patient

HEADER = "patient_id,phone,kind,value,systolic,diastolic,pulse,unit,context,taken_at,external_id\n"


def _ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0).isoformat()


def _import(session, clinic, text: str, *, batch: int, **options):
    """As the command does it: one transaction per batch of rows, one importer for the whole file."""
    importer = Importer(clinic_id=clinic.id, **options)
    rows = read_source(text.encode(), name="readings.csv").rows
    for start in range(0, len(rows), batch):
        importer.run(session, rows[start:start + batch])
        session.commit()
    return importer.report


def _readings(session, patient):
    return session.scalars(select(Reading).where(Reading.patient_id == patient.id).order_by(Reading.id)).all()


def _setup(session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    session.commit()
    return clinic, patient


def test_rows_either_side_of_a_batch_boundary_store_in_file_order(session):
    clinic, patient = _setup(session)
    p = patient.id
    text = (HEADER + f"{p},,glucose,6.1,,,,mmol/L,,{_ago(60)},g-1\n"
            + f"{p},,blood_pressure,,150,95,72,mmHg,,{_ago(59)},bp-1\n"   # last row of batch 1: two readings
            + f"{p},,glucose,6.2,,,,mmol/L,,{_ago(58)},g-2\n"             # first row of batch 2
            + f"{p},,weight,70.5,,,,kg,,{_ago(57)},w-1\n")
    report = _import(session, clinic, text, batch=2)
    assert (report.rows, report.added_rows, report.readings_added, report.present_rows) == (4, 4, 5, 0)
    stored = [(r.kind, r.external_id) for r in _readings(session, patient)]
    assert stored == [("glucose", "g-1"), ("blood_pressure", "bp-1"), ("heart_rate", "bp-1#pulse"),
                      ("glucose", "g-2"), ("weight", "w-1")]


def test_the_same_reading_twice_in_one_batch_is_stored_once_and_counted_present(session):
    clinic, patient = _setup(session)
    p, when = patient.id, _ago(50)
    text = (HEADER + f"{p},,glucose,7.4,,,,mmol/L,fasting,{when},\n"
            + f"{p},,glucose,7.40,,,,mmol/l,fasting,{when},\n"        # the same reading written differently
            + f"{p},,glucose,8.0,,,,mmol/L,,{_ago(49)},dup\n"
            + f"{p},,glucose,9.9,,,,mmol/L,,{_ago(48)},dup\n")          # a reused id: the first row keeps it
    report = _import(session, clinic, text, batch=100)
    assert (report.added_rows, report.present_rows, report.readings_added) == (2, 2, 2)
    assert [r.value_original for r in _readings(session, patient)] == [Decimal("7.40"), Decimal("8.00")]


def test_a_duplicate_in_a_later_batch_is_found_in_the_database(session):
    clinic, patient = _setup(session)
    p, when = patient.id, _ago(50)
    row = f"{p},,blood_pressure,,140,90,70,mmHg,,{when},\n"
    report = _import(session, clinic, HEADER + row + f"{p},,glucose,6.0,,,,mmol/L,,{_ago(40)},\n" + row, batch=2)
    assert (report.added_rows, report.present_rows, report.readings_added) == (2, 1, 3)
    assert len(_readings(session, patient)) == 3


def test_importing_a_file_again_adds_only_its_new_rows_and_reports_the_rest_present(session):
    clinic, patient = _setup(session)
    p = patient.id
    first = "".join(f"{p},,glucose,{6 + i / 10:.1f},,,,mmol/L,,{_ago(100 - i)},\n" for i in range(5))
    _import(session, clinic, HEADER + first, batch=2)
    extra = f"{p},,heart_rate,66,,,,,,{_ago(20)},\n"
    again = _import(session, clinic, HEADER + first + extra, batch=4)
    assert (again.added_rows, again.present_rows, again.rejected_rows) == (1, 5, 0)
    assert len(_readings(session, patient)) == 6


def test_a_bad_row_in_the_middle_of_a_batch_is_rejected_alone_with_its_number(session):
    clinic, patient = _setup(session)
    p = patient.id
    text = (HEADER + f"{p},,glucose,6.1,,,,mmol/L,,{_ago(60)},\n"          # row 2
            + f"{p},,glucose,99,,,,mmol/L,,{_ago(59)},\n"                   # row 3: impossible
            + f"{p},,glucose,abc,,,,mmol/L,,{_ago(58)},\n"                  # row 4: not a number
            + f"{p},,blood_pressure,,150,95,400,mmHg,,{_ago(57)},\n"        # row 5: bad pulse: none of it
            + f"{p},,glucose,6.3,,,,mmol/L,,{_ago(56)},\n")                 # row 6
    report = _import(session, clinic, text, batch=100)
    assert [(pr.number, [e.field for e in pr.errors]) for pr in report.problems] == [
        (3, ["value"]), (4, ["value"]), (5, ["pulse"])]
    assert (report.rows, report.added_rows) == (5, 2)
    assert [r.value_original for r in _readings(session, patient)] == [Decimal("6.10"), Decimal("6.30")]


def test_another_clinics_patient_is_refused_by_id_and_by_phone_in_every_batch(session):
    clinic, patient = _setup(session)
    other = make_patient(session, make_clinic(session))
    session.commit()
    text = (HEADER + f"{other.id},,glucose,6.1,,,,mmol/L,,{_ago(60)},\n"
            + f"{patient.id},,glucose,6.2,,,,mmol/L,,{_ago(59)},\n"
            + f",{other.phone},glucose,6.3,,,,mmol/L,,{_ago(58)},\n"
            + f"{other.id},,glucose,6.4,,,,mmol/L,,{_ago(57)},\n")            # batch 2: refused again
    report = _import(session, clinic, text, batch=3)
    assert [(pr.number, pr.errors[0].field) for pr in report.problems] == [(2, "patient_id"), (4, "phone"),
                                                                           (5, "patient_id")]
    assert report.problems[0].errors[0].params == {"id": other.id}
    assert report.added_rows == 1 and _readings(session, other) == []


def test_a_dry_run_across_batches_counts_what_would_be_added_and_stores_nothing(session):
    clinic, patient = _setup(session)
    p = patient.id
    _import(session, clinic, HEADER + f"{p},,glucose,6.0,,,,mmol/L,,{_ago(70)},old\n", batch=10)
    text = (HEADER + f"{p},,glucose,6.0,,,,mmol/L,,{_ago(70)},old\n"
            + f"{p},,glucose,6.1,,,,mmol/L,,{_ago(60)},new\n"
            + f"{p},,glucose,6.1,,,,mmol/L,,{_ago(60)},new\n")
    report = _import(session, clinic, text, batch=2, dry_run=True)
    assert (report.added_rows, report.present_rows) == (1, 2)
    assert [r.external_id for r in _readings(session, patient)] == ["old"]


def test_rules_run_once_per_patient_on_a_batchs_recent_readings_and_each_patient_is_audited(session):
    clinic, patient = _setup(session)
    second = make_patient(session, clinic)
    session.commit()
    text = (HEADER + f"{patient.id},,glucose,18.5,,,,mmol/L,,{_ago(3)},\n"
            + f"{patient.id},,glucose,19.0,,,,mmol/L,,{_ago(2)},\n"
            + f"{patient.id},,glucose,18.0,,,,mmol/L,,{_ago(90)},\n"            # history: not evaluated
            + f"{second.id},,glucose,6.0,,,,mmol/L,,{_ago(2)},\n")
    report = _import(session, clinic, text, batch=100, actor_name="cli:test", source_name="readings.csv")
    assert (report.evaluated, report.callbacks_opened) == (3, 1)
    assert [c.patient_id for c in session.scalars(select(Callback))] == [patient.id]
    audits = session.scalars(select(AuditEntry).where(AuditEntry.object_type == "reading",
                                                      AuditEntry.actor_kind == "import")).all()
    assert sorted(a.patient_id for a in audits) == sorted([patient.id, second.id])
    mine = next(a for a in audits if a.patient_id == patient.id)
    ids = ",".join(str(r.id) for r in _readings(session, patient))
    assert mine.detail == f"import readings.csv: 3 readings, 2 evaluated by the rules; ids {ids}"
    assert (mine.actor_name, mine.clinic_id, mine.action) == ("cli:test", clinic.id, "create")


def test_the_command_writes_batches_in_order_while_checking_the_next_one(settings, session, monkeypatch, tmp_path,
                                                                          capsys):
    from core.settings import get_settings
    from followup.importer.command import run_import_command

    clinic, patient = _setup(session)
    p = patient.id
    path = tmp_path / "readings.csv"
    rows = [f"{p},,glucose,{6 + i / 10:.1f},,,,mmol/L,,{_ago(100 - i)},g-{i}\n" for i in range(7)]
    rows.insert(3, f"{p},,glucose,oops,,,,mmol/L,,{_ago(30)},\n")      # row 5, in the second batch
    rows.append(rows[0])                                                # row 10: the first row again
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    monkeypatch.setenv("CARELOOP_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:  # the rejected row makes a script notice
            run_import_command(path, clinic_code=clinic.code, fmt="auto", patient_id=None, dry_run=False,
                               report_path=None, batch=3)
    finally:
        get_settings.cache_clear()
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "9 rows read" in out and "7 added (7 readings, 1 patients)" in out and "1 already present" in out
    assert "row 5: value: Enter a number." in out
    session.expire_all()
    assert [r.external_id for r in _readings(session, patient)] == [f"g-{i}" for i in range(7)]
