"""The monthly quality review PDF: a clinic's month of follow-up, satisfaction, complaints, RCAs and PDCA work, in
English and Chinese, rendered in a job from the reports page, by the schedule on the 1st, or on the command line."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.cli import main
from core.errors import ValidationFailed
from core.jobs import periodic_actors
from core.models import AuditAction, AuditEntry
from core.reports import MONTHLY_REVIEW, ReportFile, ReportStatus, render_report, request_report
from feedback.enums import Category, Channel, FeedbackKind
from feedback.models import FeedbackItem
from followup.dates import Granularity, periods_between
from followup.enums import GlucoseContext, ReadingKind, ReadingSource
from followup.models import Callback, CallbackEvent, CallbackStatus
from followup.service import Entry, record_readings, resolve_submission
from pdca.enums import Direction, SignalState
from pdca.metrics import Cell, Series
from pdca.reports import parse_month
from pdca.review_data import signal_state
from pdca.review_schedule import prepare_monthly_reviews
from rca.enums import ActionStrength, RcaSource
from rca.models import RcaAction, RootCauseAnalysis
from tests.factories import (
    login_staff,
    make_clinic,
    make_patient,
    make_pdca_cycle,
    make_pdca_project,
    make_staff,
    pdf_info,
    pdf_text,
    post_form,
)

MONTH = "2026-09"
SMS = Entry(source=ReadingSource.sms, kind="patient")
REGISTERED = datetime(2026, 1, 1, tzinfo=UTC)


def at(day: int, hour: int = 2) -> datetime:
    """A moment of September 2026 (UTC; 10:00 in Shanghai at the default hour)."""
    return datetime(2026, 9, day, hour, tzinfo=UTC)


def _words(text: str) -> str:
    return " ".join(text.split())


def _month_of_activity(session, **clinic):
    """A Chinese clinic's September 2026: three patients' readings (two of three with BP below 140/90), two
    callbacks (one closed on time with the patient reached, one late and escalated), an unacknowledged
    complaint, an RCA whose stronger action is overdue, and a PDCA cycle adopted in the month."""
    clinic = make_clinic(session, name="松园社区卫生服务中心", **clinic)
    committee = make_staff(session, clinic, role="committee", display_name="质控王")
    patients = [make_patient(session, clinic, name=f"患者{i}") for i in range(3)]
    for patient, (systolic, diastolic, fasting) in zip(patients, [(120, 80, "6.1"), (124, 78, "6.4"),
                                                                   (146, 92, "8.2")], strict=True):
        patient.created_at = REGISTERED
        record_readings(session=session, patient=patient, taken_at=at(10), entry=SMS, readings=resolve_submission(
            kind=ReadingKind.blood_pressure, systolic=systolic, diastolic=diastolic))
        record_readings(session=session, patient=patient, taken_at=at(11), entry=SMS, readings=resolve_submission(
            kind=ReadingKind.glucose, value=Decimal(fasting), context=GlucoseContext.fasting))
    on_time = Callback(clinic_id=clinic.id, patient_id=patients[0].id, rule_code="T-1", severity="urgent",
                       status=CallbackStatus.closed, opened_at=at(5, 1), due_at=at(5, 4), closed_at=at(5, 3),
                       outcome="reached")
    late = Callback(clinic_id=clinic.id, patient_id=patients[2].id, rule_code="T-1", severity="urgent",
                    status=CallbackStatus.closed, opened_at=at(6, 1), due_at=at(6, 4), closed_at=at(7, 3),
                    outcome="no_answer", escalated_at=at(6, 5))
    session.add_all([on_time, late])
    session.flush()
    session.add(CallbackEvent(callback_id=on_time.id, at=at(5, 1) + timedelta(minutes=30), kind="attempt",
                              detail={"outcome": "reached"}))
    session.add(FeedbackItem(reference="FB-T-0001", clinic_id=clinic.id, kind=FeedbackKind.complaint,
                             category=Category.waiting_time, channel=Channel.web, submitted_by_kind="patient",
                             description="等了两个小时", received_at=at(8), ack_due_at=at(9), resolve_due_at=at(22)))
    analysis = RootCauseAnalysis(clinic_id=clinic.id, title="回访超时分析", source=RcaSource.manual,
                                 triggered_at=at(12), start_due_at=at(15), due_at=at(30))
    session.add(analysis)
    session.flush()
    session.add(RcaAction(analysis_id=analysis.id, clinic_id=clinic.id, description="上午优先回访",
                          strength=ActionStrength.stronger, owner_id=committee.id, due_date=date(2026, 9, 20),
                          due_at=at(20, 16), measure="按时回访率", created_at=at(13)))
    project = make_pdca_project(session, clinic, committee, title="缩短回访时间")
    cycle = make_pdca_cycle(session, project, committee, change_idea="上午先打电话")
    project.created_at = cycle.created_at = datetime(2026, 8, 1, tzinfo=UTC)
    cycle.stage, cycle.act_decision, cycle.check_signal = "done", "adopt", "improvement"
    cycle.stage_changed_at = at(20)
    session.commit()
    return clinic, committee


def _render(session, clinic, language, month=MONTH):
    return render_report(session=session, kind=MONTHLY_REVIEW, clinic_id=clinic.id, params={"month": month},
                         language=language, generated_by="质控王")


def test_the_review_shows_the_months_indicators_complaints_rcas_and_cycles_in_english(session):
    clinic, _ = _month_of_activity(session)
    rendered = _render(session, clinic, "en")
    assert rendered.period == MONTH and rendered.title == "Monthly quality review"
    text = _words(pdf_text(rendered.pdf.content))
    for heading in ("松园社区卫生服务中心", "Monthly quality review", "Period: September 2026", "Summary",
                    "Signals this month", "Follow-up indicators", "Patient satisfaction", "Complaints and concerns",
                    "Root cause analyses", "Action status by strength", "PDCA board", "Decisions this month"):
        assert heading in text, heading
    first_page = _words(pdf_text(rendered.pdf.content, page=1))
    assert "Summary" in first_page and "Follow-up indicators" not in first_page  # the summary is a page of its own
    for figure in ("Callbacks closed on time 50.0% 1/2", "Patients reached on callbacks 50.0% 1/2",
                   "Callbacks escalated 50.0% 1/2", "Blood pressure controlled 66.7% 2/3",
                   "Glucose controlled 66.7% 2/3", "Reading adherence 100.0% 3/3",
                   "Time to first call attempt 0.5 hours"):
        assert figure in text, figure
    assert "FB-T-0001 Waiting time" in text and "Acknowledge" in text  # the open breach and its overdue step
    assert "RCA-" in text and "回访超时分析" in text
    assert "Stronger 1 0 0 0 1" in text  # one planned stronger action, overdue at the month's end
    assert "缩短回访时间 1 上午先打电话 Signal of improvement Adopt" in text


def test_the_review_in_chinese_has_chinese_headings_and_embeds_a_cjk_font(session, tmp_path):
    clinic, _ = _month_of_activity(session)
    content = _render(session, clinic, "zh-CN").pdf.content
    text = _words(pdf_text(content))
    for heading in ("月度质量评审", "2026年9月", "概要", "本月信号", "随访指标", "患者满意度", "根因分析",
                    "按强度统计的措施状态", "PDCA 看板", "本月的决定", "第 1 页，共"):
        assert heading in text, heading
    assert "66.7%" in text and "FB-T-0001" in text
    fonts = [line for line in pdf_info(content).splitlines() if "Noto-Sans-CJK-SC" in line]
    assert fonts and all(" yes " in line for line in fonts)
    (tmp_path / "review.pdf").write_bytes(content)
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(tmp_path / "review.pdf"),
                    str(tmp_path / "page")], check=True)
    assert next(tmp_path.glob("page*.png")).read_bytes().startswith(b"\x89PNG")


def test_a_month_without_data_renders_a_clear_no_data_report(session):
    clinic = make_clinic(session, name="新开诊所")
    session.commit()
    english = _words(pdf_text(_render(session, clinic, "en", month="2026-03").pdf.content))
    assert "No data for this month" in english and "Nothing was recorded for March 2026" in english
    assert "Follow-up indicators" not in english
    chinese = _words(pdf_text(_render(session, clinic, "zh-CN", month="2026-03").pdf.content))
    assert "本月无数据" in chinese and "2026年3月没有任何记录" in chinese


def test_a_malformed_or_future_month_is_refused_before_anything_is_queued(client, session):
    today = date(2026, 12, 4)
    assert parse_month({"month": "2026-11"}, today=today) == date(2026, 11, 1)
    assert parse_month({"month": "2026-12"}, today=today) == date(2026, 12, 1)  # the month so far
    for bad in ("", "2026-13", "Oct 2026", "1999-01", "2027-01"):
        with pytest.raises(ValidationFailed):
            parse_month({"month": bad}, today=today)
    clinic = make_clinic(session)
    committee = make_staff(session, clinic, role="committee")
    session.commit()
    login_staff(client, committee.username)
    response = post_form(client, "/reports", {"kind": MONTHLY_REVIEW, "month": "2026-13", "lang": "en"},
                         follow_redirects=False)
    assert response.status_code == 422 and "Enter the month as YYYY-MM" in response.text
    assert session.scalars(select(ReportFile)).all() == []


def test_the_reports_page_offers_the_review_to_the_committee_and_renders_it_in_a_job(client, session, run_jobs):
    clinic, committee = _month_of_activity(session)
    login_staff(client, committee.username)
    page = client.get("/reports")
    assert 'type="month"' in page.text and 'name="month"' in page.text and "Prepare the monthly review" in page.text
    response = post_form(client, "/reports", {"kind": MONTHLY_REVIEW, "month": MONTH, "lang": "en"},
                         follow_redirects=False)
    assert response.status_code == 303
    report_id = int(response.headers["location"].rsplit("/", 1)[-1])
    status = client.get(f"/reports/{report_id}")
    assert "<progress" in status.text  # queued: the page shows the bar until the job is done
    run_jobs()
    session.expire_all()
    report = session.get(ReportFile, report_id)
    assert report.status == ReportStatus.done and report.progress == 100 and report.period == MONTH
    download = client.get(f"/reports/{report_id}.pdf")
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    assert "Callbacks closed on time" in pdf_text(download.content)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export,
                                                     AuditEntry.object_type == "report")).one()
    assert audit.object_id == str(report_id) and audit.actor_id == committee.id


def test_nurses_cannot_ask_for_the_review_and_other_clinics_cannot_download_it(client, session, run_jobs):
    clinic, committee = _month_of_activity(session)
    nurse = make_staff(session, clinic, role="nurse")
    outsider = make_staff(session, make_clinic(session), role="committee")
    report = request_report(session=session, kind=MONTHLY_REVIEW, clinic_id=clinic.id, params={"month": MONTH},
                            language="en", requested_by_name=committee.display_name)
    session.commit()
    run_jobs()
    login_staff(client, nurse.username)
    assert "Prepare the monthly review" not in client.get("/reports").text
    assert post_form(client, "/reports", {"kind": MONTHLY_REVIEW, "month": MONTH},
                     follow_redirects=False).status_code == 403
    assert client.get(f"/reports/{report.id}.pdf").status_code == 404
    client.get("/logout")
    client.cookies.clear()
    login_staff(client, outsider.username)
    assert client.get(f"/reports/{report.id}.pdf").status_code == 404
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export)).all() == []


def test_the_schedule_prepares_one_review_per_clinic_for_the_month_just_ended(session, engine, run_jobs):
    shanghai = make_clinic(session)
    new_york = make_clinic(session, timezone="America/New_York", language="en")
    session.commit()
    assert "pdca.prepare_monthly_reviews" in {name for name, _ in periodic_actors()}
    first_of_october = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai; 02:00 in New York
    assert prepare_monthly_reviews(engine=engine, now=first_of_october) == 2
    assert prepare_monthly_reviews(engine=engine, now=first_of_october + timedelta(hours=1)) == 0
    run_jobs()
    assert prepare_monthly_reviews(engine=engine, now=datetime(2026, 10, 2, 6, 0, tzinfo=UTC)) == 0
    session.expire_all()
    reports = session.scalars(select(ReportFile).order_by(ReportFile.clinic_id)).all()
    assert [(r.clinic_id, r.period, r.language, r.status) for r in reports] == [
        (shanghai.id, "2026-09", "zh-CN", ReportStatus.done), (new_york.id, "2026-09", "en", ReportStatus.done)]
    assert "本月无数据" in _words(pdf_text(reports[0].content))
    assert reports[0].created_by is None and reports[0].created_by_name == ""


def test_the_command_line_writes_the_review_of_a_clinic_and_month(app, settings, session, monkeypatch, tmp_path):
    clinic, _ = _month_of_activity(session, code="songyuan")
    monkeypatch.setenv("CARELOOP_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CARELOOP_DATA_DIR", str(settings.data_dir))
    from core.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["report", "monthly", "--clinic", "songyuan", "--month", MONTH,
                                           "-o", str(tmp_path / "review.pdf")], catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    text = _words(pdf_text((tmp_path / "review.pdf").read_bytes()))
    assert "月度质量评审" in text and "2026年9月" in text  # the clinic's own language by default
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export)).one()
    assert audit.actor_kind == "cli" and audit.object_type == MONTHLY_REVIEW and audit.clinic_id == clinic.id


# --- the signal state of the reviewed month (pure) -----------------------------------------------------------


def _series(values, direction=Direction.increase):
    periods = tuple(periods_between(date(2025, 1, 1), date(2025, 12, 31), Granularity.month)[:len(values)])
    return Series(periods=periods, labels=tuple(f"{p.start:%Y-%m}" for p in periods),
                  cells=tuple(Cell(v, 100.0) if v is not None else Cell(None) for v in values), chart="p",
                  multiply=100.0, direction=direction)


def test_the_months_signal_follows_the_better_direction_and_needs_six_months():
    steady = [50, 52, 49, 51, 50, 48, 51, 50, 49, 52, 50]
    assert signal_state(_series([*steady, 51])) == SignalState.no_signal
    assert signal_state(_series([*steady, 95])) == SignalState.improvement
    assert signal_state(_series([*steady, 95], Direction.decrease)) == SignalState.concern
    assert signal_state(_series([None] * 7 + [50, 52, 49, 51, 95])) == SignalState.not_enough_data
    assert signal_state(_series([*steady, None])) == SignalState.not_enough_data


def test_the_survey_response_rate_is_shown_as_the_share_answered(client, session):
    from core.db import utcnow
    from tests.surveys.survey_builders import GOOD, answer, sent_invitation

    clinic = make_clinic(session, name="松园社区卫生服务中心")
    patients = [make_patient(session, clinic) for _ in range(2)]
    tokens = [sent_invitation(session, clinic, patient)[1] for patient in patients]
    session.commit()
    assert answer(client, tokens[0], GOOD).status_code == 200
    text = _words(pdf_text(_render(session, clinic, "en", month=f"{utcnow():%Y-%m}").pdf.content))
    assert "50.0%" in text  # one of two invitations answered (it once printed 5000.0%)
    assert "5000.0%" not in text
