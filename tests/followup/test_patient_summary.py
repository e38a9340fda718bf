"""The patient follow-up summary PDF: who the patient is, their readings (figures, charts, a diary), alerts and
callbacks with every call, in English and Chinese, printed from the patient's page or the command line."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.cli import main
from core.db import utcnow
from core.errors import ValidationFailed
from core.models import AuditAction, AuditEntry
from core.reports import PATIENT_SUMMARY, ReportFile, ReportStatus, request_report
from core.security import Principal, Role
from followup.callbacks import log_attempt
from followup.enums import GlucoseContext, ReadingKind, ReadingSource
from followup.models import Reading
from followup.reports import age_on, diary, figure_for, parse_period
from followup.routes.readings.views import Words
from followup.service import Entry, record_readings, resolve_submission
from tests.factories import login_staff, make_callback, make_clinic, make_patient, make_staff, pdf_info, pdf_text

SHANGHAI = ZoneInfo("Asia/Shanghai")
DIARY_ROW = re.compile(r"^\s*\d{1,2} \w{3} \d{4}\s+\d{2}:\d{2} ", re.MULTILINE)
SMS = Entry(source=ReadingSource.sms, kind="patient")


def _record(session, patient, at, **submission):
    record_readings(session=session, patient=patient, readings=resolve_submission(**submission), taken_at=at,
                    entry=SMS)


def _patient_with_history(session, *, days=10, **overrides):
    """A hypertensive diabetic patient of a Chinese clinic with `days` days of readings, the latest 150/95, and
    a callback that took two calls."""
    clinic = make_clinic(session, name="松园社区卫生服务中心")
    doctor = make_staff(session, clinic, role="doctor", display_name="周医生")
    patient = make_patient(session, clinic, **{"name": "张秀英", "date_of_birth": date(1952, 3, 14),
                                               "family_doctor_id": doctor.id, **overrides})
    now = utcnow()
    for day in range(days):
        at = now - timedelta(days=day, minutes=30)
        if day == 0:
            _record(session, patient, at, kind=ReadingKind.blood_pressure, systolic=150, diastolic=95)
        else:
            _record(session, patient, at, kind=ReadingKind.blood_pressure, systolic=120 + day % 20,
                    diastolic=75 + day % 10)
        _record(session, patient, at - timedelta(hours=2), kind=ReadingKind.glucose,
                value=Decimal("6.1") + Decimal(day % 5) / 2, context=GlucoseContext.fasting)
    callback = make_callback(session, patient)
    actor = Principal(kind="staff", user_id=doctor.id, role=Role.doctor, clinic_id=clinic.id,
                      name=doctor.display_name, language="en")
    log_attempt(session=session, callback=callback, actor=actor, data={"outcome": "no_answer",
                                                                       "note": "Left voicemail"})
    log_attempt(session=session, callback=callback, actor=actor, data={"outcome": "reached",
                                                                       "result": "visit_booked"})
    session.commit()
    return clinic, doctor, patient


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_summary_shows_the_patient_figures_and_calls_in_english(client, session):
    clinic, doctor, patient = _patient_with_history(session)
    login_staff(client, doctor.username)
    response = client.get(f"/patients/{patient.id}/summary.pdf?days=30&lang=en")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline;")
    text = _words(pdf_text(response.content))
    for expected in ("松园社区卫生服务中心", "Follow-up summary", "张秀英", "74 years", "Family doctor", "周医生",
                     "The period in numbers", "Blood pressure", "150/95", "Alerts and callbacks", "No answer",
                     "Left voicemail", "Visit booked", "Readings by day", "Page 1 of", "Generated"):
        assert expected in text, expected
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export)).one()
    assert (audit.object_type, audit.patient_id, audit.actor_id) == ("patient_summary", patient.id, doctor.id)


def test_the_summary_in_chinese_embeds_a_cjk_font_and_converts_to_an_image(client, session, tmp_path):
    _, doctor, patient = _patient_with_history(session, days=5)
    login_staff(client, doctor.username)
    response = client.get(f"/patients/{patient.id}/summary.pdf?lang=zh-CN")
    assert response.status_code == 200
    text = _words(pdf_text(response.content))
    for expected in ("张秀英", "随访摘要", "家庭医生", "高血压", "糖尿病", "血压", "预警与回访", "每日读数",
                     "第 1 页，共"):
        assert expected in text, expected
    fonts = [line for line in pdf_info(response.content).splitlines() if "Noto-Sans-CJK-SC" in line]
    assert fonts and all(" yes " in line for line in fonts)
    (tmp_path / "summary.pdf").write_bytes(response.content)
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(tmp_path / "summary.pdf"),
                    str(tmp_path / "page")], check=True)
    assert next(tmp_path.glob("page*.png")).read_bytes().startswith(b"\x89PNG")


def test_a_long_period_spans_pages_with_the_diary_header_on_each(client, session):
    _, doctor, patient = _patient_with_history(session, days=120)
    login_staff(client, doctor.username)
    content = client.get(f"/patients/{patient.id}/summary.pdf?days=120&lang=en").content
    pages = [pdf_text(content, page=n) for n in range(1, int(_pages(content)) + 1)]
    diary_pages = [p for p in pages if DIARY_ROW.search(p)]  # "20 Nov 2026   08:00 150/95 …"
    assert len(diary_pages) >= 2
    for page in diary_pages:
        assert "Blood pressure (mmHg)" in page and "Blood glucose (mmol/L)" in page


def _pages(content: bytes) -> str:
    return next(line.split()[-1] for line in pdf_info(content, "pdfinfo").splitlines() if line.startswith("Pages:"))


def test_markup_in_a_patient_name_is_printed_as_text_and_no_readings_says_so(client, session):
    clinic = make_clinic(session)
    doctor = make_staff(session, clinic)
    patient = make_patient(session, clinic, name="<script>alert(1)</script><b>Li</b>")
    session.commit()
    login_staff(client, doctor.username)
    text = _words(pdf_text(client.get(f"/patients/{patient.id}/summary.pdf?lang=en").content))
    assert "<script>alert(1)</script><b>Li</b>" in text
    assert "No readings in this period." in text and "No alerts or callbacks in this period." in text


def test_another_clinics_patient_is_not_found(client, session):
    _, _, patient = _patient_with_history(session, days=1)
    other = make_clinic(session)
    outsider = make_staff(session, other)
    session.commit()
    login_staff(client, outsider.username)
    assert client.get(f"/patients/{patient.id}/summary.pdf").status_code == 404
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export)).all() == []


def test_a_period_outside_the_allowed_range_is_refused(client, session):
    clinic = make_clinic(session)
    doctor = make_staff(session, clinic)
    patient = make_patient(session, clinic)
    session.commit()
    login_staff(client, doctor.username)
    response = client.get(f"/patients/{patient.id}/summary.pdf?days=3&lang=en")
    assert response.status_code == 422 and "Choose a period of 7 to 730 days." in response.text


def test_the_patient_page_links_to_the_printable_summary(client, session):
    clinic = make_clinic(session)
    doctor = make_staff(session, clinic)
    patient = make_patient(session, clinic)
    session.commit()
    login_staff(client, doctor.username)
    page = client.get(f"/patients/{patient.id}")
    assert f"/patients/{patient.id}/summary.pdf?days=90" in page.text


def test_the_summary_renders_as_a_job_into_the_archive(session, run_jobs):
    clinic, doctor, patient = _patient_with_history(session, days=3)
    report = request_report(session=session, kind=PATIENT_SUMMARY, clinic_id=clinic.id,
                            params={"patient_id": patient.id, "days": 30, "end": "2030-01-31"}, language="en",
                            requested_by_name=doctor.display_name)
    session.commit()
    assert report.period == "2030-01-02/2030-01-31"
    run_jobs()
    session.expire_all()
    stored = session.get(ReportFile, report.id)
    assert stored.status == ReportStatus.done and stored.patient_id == patient.id
    assert "张秀英" in pdf_text(stored.content)


def test_the_command_line_writes_the_summary_and_audits_it(app, settings, session, monkeypatch, tmp_path):
    _, _, patient = _patient_with_history(session, days=2)
    monkeypatch.setenv("CARELOOP_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(settings.data_dir))
    from core.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["report", "patient", "--id", str(patient.id), "--days", "30", "--lang",
                                           "en", "-o", str(tmp_path / "summary.pdf")], catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert (tmp_path / "summary.pdf").read_bytes().startswith(b"%PDF") and "sha256" in result.output
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export)).one()
    assert audit.actor_kind == "cli" and audit.patient_id == patient.id


# --- the figures (pure) ---------------------------------------------------------------------------------


def _reading(kind, at, **values):
    return Reading(id=values.pop("id", None), clinic_id=1, patient_id=1, kind=kind, taken_at=at, source="sms",
                   entered_by_kind="patient", **values)


def test_blood_pressure_figures_give_the_average_range_and_share_below_the_home_target():
    at = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    readings = [_reading(ReadingKind.blood_pressure, at - timedelta(days=i), unit_original="mmHg", systolic=s,
                         diastolic=d) for i, (s, d) in enumerate([(150, 95), (130, 80), (128, 82), (140, 84)])]
    figure = figure_for(ReadingKind.blood_pressure, readings, words=Words("en", SHANGHAI), glucose_unit="mmol/L")
    assert (figure.count, figure.latest, figure.average) == (4, "150/95 mmHg", "137/85 mmHg")
    assert figure.spread == "128–150 / 80–95 mmHg" and figure.in_target == "50% below 135/85"


def test_glucose_figures_count_lows_and_fasting_time_in_target():
    at = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    values = [("5.5", GlucoseContext.fasting), ("8.0", GlucoseContext.fasting), ("3.2", GlucoseContext.after_meal_2h)]
    readings = [_reading(ReadingKind.glucose, at - timedelta(days=i), unit_original="mmol/L", context=c,
                         value_original=Decimal(v), value_canonical=Decimal(v)) for i, (v, c) in enumerate(values)]
    figure = figure_for(ReadingKind.glucose, readings, words=Words("en", SHANGHAI), glucose_unit="mmol/L")
    assert figure.average == "fasting 6.8 mmol/L"
    assert figure.in_target == "fasting 50% in 4.4–7; 1 low (under 3.9 mmol/L)"


def test_the_diary_groups_readings_by_the_patients_local_day_earliest_first():
    late = datetime(2026, 11, 19, 17, 0, tzinfo=UTC)  # 01:00 on the 20th in Shanghai
    early = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)  # 07:30 on the 20th
    readings = [_reading(ReadingKind.blood_pressure, early, id=2, unit_original="mmHg", systolic=140, diastolic=90),
                _reading(ReadingKind.blood_pressure, late, id=1, unit_original="mmHg", systolic=150, diastolic=95)]
    days = diary(readings, kinds=[ReadingKind.blood_pressure], words=Words("en", SHANGHAI), glucose_unit="mmol/L")
    assert [(d.day, d.cells) for d in days] == [(date(2026, 11, 20), [["01:00 150/95", "07:30 140/90"]])]


def test_age_counts_whole_years_and_the_period_is_checked():
    assert age_on(date(1952, 11, 24), date(2026, 11, 23)) == 73
    assert age_on(date(1952, 11, 23), date(2026, 11, 23)) == 74 and age_on(None, date(2026, 1, 1)) is None
    assert parse_period({"days": "30", "end": "2026-10-31"}, today=date(2026, 11, 23)) == (30, date(2026, 10, 31))
    with pytest.raises(ValidationFailed) as refused:
        parse_period({"days": "1000", "end": "31/10"}, today=date(2026, 11, 23))
    assert {e.field for e in refused.value.field_errors} == {"days", "end"}
