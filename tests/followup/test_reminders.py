"""The missing-data sweep (one reminder SMS per silence, a callback after 14 days) and the overdue list."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from clinic.models import Patient
from core.db import utcnow
from core.models import AuditAction, AuditEntry, OutboxJob, SmsMessage
from core.sms_segments import fits_one_segment
from followup.enums import ReadingKind, ReadingSource, Severity
from followup.models import Callback, CallbackStatus
from followup.tasks.reminders import reminder_text, sweep_clinic_missing_data
from tests.factories import login_staff, make_clinic, make_patient, make_staff
from tests.followup.quality_builders import add_callback, add_reading

SHANGHAI = ZoneInfo("Asia/Shanghai")
REMINDER_ACTOR = "followup.send_missing_data_reminder"


def at_11(days_from_today: int = 0) -> datetime:
    """11:00 in Shanghai (inside the reminder window), `days_from_today` days from today."""
    today = utcnow().astimezone(SHANGHAI).date() + timedelta(days=days_from_today)
    return datetime(today.year, today.month, today.day, 11, tzinfo=SHANGHAI)


@pytest.fixture
def clinic(session):
    return make_clinic(session, timezone="Asia/Shanghai")


def enrolled(session, clinic, days_ago: int, now: datetime | None = None, **overrides) -> Patient:
    patient = make_patient(session, clinic, **overrides)
    patient.created_at = (now or at_11()) - timedelta(days=days_ago)
    session.flush()
    return patient


def reminder_jobs(session) -> list[OutboxJob]:
    session.expire_all()
    return list(session.scalars(select(OutboxJob).where(OutboxJob.actor_name == REMINDER_ACTOR)))


def test_a_silent_week_queues_one_reminder_however_often_the_sweep_runs(session, clinic, run_jobs):
    now = at_11()
    patient = enrolled(session, clinic, 60, now, language="zh-CN")
    add_reading(session, patient, now - timedelta(days=8), value="6.1")
    session.commit()
    for hour in range(3):
        sweep_clinic_missing_data(session=session, clinic=clinic, now=now + timedelta(hours=hour))
        session.commit()
    assert len(reminder_jobs(session)) == 1
    run_jobs()
    messages = session.scalars(select(SmsMessage).where(SmsMessage.purpose == "reminder")).all()
    assert len(messages) == 1 and messages[0].patient_id == patient.id and messages[0].phone == patient.phone
    assert "测量读数" in messages[0].body
    assert session.scalars(select(Callback)).all() == []


def test_a_reading_then_a_new_silence_gets_a_new_reminder(session, clinic):
    now = at_11()
    patient = enrolled(session, clinic, 60, now)
    add_reading(session, patient, now - timedelta(days=20), value="6.1")
    add_reading(session, patient, now - timedelta(days=12), value="6.1")
    session.commit()
    sweep_clinic_missing_data(session=session, clinic=clinic, now=now - timedelta(days=4))  # 8 days after the first
    session.commit()
    add_reading(session, patient, now - timedelta(days=9), value="6.3")
    session.commit()
    sweep_clinic_missing_data(session=session, clinic=clinic, now=now)  # 9 days after the newest
    session.commit()
    assert len(reminder_jobs(session)) == 2


def test_the_reminder_job_reaches_the_broker_only_when_the_sweep_commits(session, clinic, broker):
    now = at_11()
    patient = enrolled(session, clinic, 60, now)
    add_reading(session, patient, now - timedelta(days=8), value="6.1")
    session.commit()
    sweep_clinic_missing_data(session=session, clinic=clinic, now=now)
    assert broker.queues["default"].qsize() == 0
    session.commit()
    assert broker.queues["default"].qsize() == 1


def test_no_reminder_to_a_patient_who_opted_out_or_never_agreed_to_sms(session, clinic):
    now = at_11()
    opted_out = enrolled(session, clinic, 60, now)
    opted_out.sms_opted_out = True
    no_consent = enrolled(session, clinic, 60, now, sms_consent=False)
    for patient in (opted_out, no_consent):
        add_reading(session, patient, now - timedelta(days=8), value="6.1")
    session.commit()
    result = sweep_clinic_missing_data(session=session, clinic=clinic, now=now)
    session.commit()
    assert result.reminders == [] and reminder_jobs(session) == []


def test_no_reminder_is_sent_at_night_in_the_clinics_time_zone(session, clinic):
    night = at_11().replace(hour=22)
    patient = enrolled(session, clinic, 60, night)
    add_reading(session, patient, night - timedelta(days=8), value="6.1")
    session.commit()
    sweep_clinic_missing_data(session=session, clinic=clinic, now=night)
    session.commit()
    assert reminder_jobs(session) == []
    sweep_clinic_missing_data(session=session, clinic=clinic, now=night + timedelta(hours=12))  # 10:00 next day
    session.commit()
    assert len(reminder_jobs(session)) == 1


def test_a_reading_sent_before_the_reminder_goes_out_cancels_it(session, clinic, run_jobs):
    now = at_11() if at_11() <= utcnow() else at_11(-1)
    patient = enrolled(session, clinic, 60, now)
    add_reading(session, patient, now - timedelta(days=8), value="6.1")
    session.commit()
    sweep_clinic_missing_data(session=session, clinic=clinic, now=now)
    add_reading(session, patient, now + timedelta(minutes=5), value="6.2")
    session.commit()
    assert len(reminder_jobs(session)) == 1
    run_jobs()
    assert session.scalars(select(SmsMessage).where(SmsMessage.purpose == "reminder")).all() == []


def test_a_patient_who_never_sent_a_reading_is_counted_from_enrolment(session, clinic):
    now = at_11()
    enrolled(session, clinic, 8, now)
    enrolled(session, clinic, 3, now)
    not_in_a_programme = enrolled(session, clinic, 8, now, programmes=[])
    session.commit()
    result = sweep_clinic_missing_data(session=session, clinic=clinic, now=now)
    assert len(result.reminders) == 1 and not_in_a_programme.id not in result.reminders


def test_two_silent_weeks_open_one_routine_callback_per_silence(session, clinic):
    now = at_11()
    patient = enrolled(session, clinic, 60, now)
    add_reading(session, patient, now - timedelta(days=15), kind=ReadingKind.blood_pressure, bp=(130, 80))
    session.commit()
    first = sweep_clinic_missing_data(session=session, clinic=clinic, now=now)
    session.commit()
    callback = session.scalars(select(Callback).where(Callback.patient_id == patient.id)).one()
    assert first.callbacks == [callback.id] and first.reminders == []
    assert (callback.rule_code, callback.severity, callback.rule_version) == ("DES-MISS-01", Severity.routine, 1)
    assert callback.due_at == now + timedelta(days=7)
    assert "No reading for 15 days" in callback.reason_en
    callback.status, callback.outcome, callback.closed_at = CallbackStatus.closed, "reached", now + timedelta(hours=1)
    session.commit()
    again = sweep_clinic_missing_data(session=session, clinic=clinic, now=now + timedelta(days=1))
    session.commit()
    assert again.callbacks == [] and len(session.scalars(select(Callback)).all()) == 1
    add_reading(session, patient, now + timedelta(days=2), value="6.0")
    session.commit()
    later = sweep_clinic_missing_data(session=session, clinic=clinic, now=now + timedelta(days=17))
    session.commit()
    assert len(later.callbacks) == 1


def test_opted_out_patients_still_get_the_callback(session, clinic):
    now = at_11()
    patient = enrolled(session, clinic, 30, now)
    patient.sms_opted_out = True
    session.commit()
    result = sweep_clinic_missing_data(session=session, clinic=clinic, now=now)
    assert len(result.callbacks) == 1


def test_reminder_texts_fit_one_sms_and_name_no_condition():
    for language, reserve in (("zh-CN", 12), ("en", 0)):
        text = reminder_text(language=language, days=365)
        assert fits_one_segment(text, reserve=reserve)
        for word in ("血糖", "血压", "糖尿病", "高血压", "glucose", "pressure", "diabetes", "hypertension"):
            assert word not in text.lower()
    assert "7 days" in reminder_text(language="en", days=7) and "1 day." in reminder_text(language="en", days=1)


# --- the overdue list ----------------------------------------------------------------------------------------


@pytest.fixture
def doctor(client, session, clinic):
    user = make_staff(session, clinic, role="doctor", username="dr-overdue")
    session.commit()
    login_staff(client, "dr-overdue")
    return user


def test_overdue_list_shows_programme_patients_without_a_follow_up_in_90_days(client, session, clinic, doctor):
    now = utcnow()
    enrolled(session, clinic, 200, now, name="Never Followed", phone="+8613711110001")
    called = enrolled(session, clinic, 200, now, name="Called Recently")
    add_callback(session, called, opened_at=now - timedelta(days=31), due_at=now - timedelta(days=30),
                 closed_at=now - timedelta(days=30), outcome="reached")
    visited = enrolled(session, clinic, 200, now, name="Visited Long Ago")
    add_reading(session, visited, now - timedelta(days=100), kind=ReadingKind.blood_pressure, bp=(130, 80),
                source=ReadingSource.staff, entered_by="staff")
    texting = enrolled(session, clinic, 120, now, name="Texts But No Visit")
    add_reading(session, texting, now - timedelta(days=2), value="6.0")
    unreached = enrolled(session, clinic, 120, now, name="Not Reached")
    add_callback(session, unreached, opened_at=now - timedelta(days=11), due_at=now - timedelta(days=10),
                 closed_at=now - timedelta(days=10), outcome="not_reached")
    enrolled(session, clinic, 30, now, name="Newly Enrolled")
    enrolled(session, clinic, 500, now, name="Lost Long Ago")
    enrolled(session, make_clinic(session), 200, now, name="Other Clinic")
    session.commit()
    text = client.get("/followups/overdue").text
    for name in ("Never Followed", "Visited Long Ago", "Texts But No Visit", "Not Reached"):
        assert name in text, name
    for name in ("Called Recently", "Newly Enrolled", "Lost Long Ago", "Other Clinic"):
        assert name not in text, name
    assert "+86137****0001" in text and "+8613711110001" not in text
    assert text.index("Never Followed") < text.index("Not Reached") < text.index("Visited Long Ago")
    assert '<td data-label="Days since last follow-up">100</td>' in text
    assert "Lost Long Ago" in client.get("/followups/overdue?all=true").text
    audit = session.scalars(select(AuditEntry).where(AuditEntry.object_type == "overdue_list")).all()
    assert [a.action for a in audit] == [AuditAction.view, AuditAction.view]


def test_overdue_list_filters_by_programme_and_doctor(client, session, clinic, doctor):
    now = utcnow()
    enrolled(session, clinic, 120, now, name="Sugar Only", programmes=["diabetes"], family_doctor_id=doctor.id)
    enrolled(session, clinic, 120, now, name="Pressure Only", programmes=["hypertension"])
    session.commit()
    diabetes = client.get("/followups/overdue?programme=diabetes").text
    assert "Sugar Only" in diabetes and "Pressure Only" not in diabetes
    mine = client.get(f"/followups/overdue?doctor={doctor.id}").text
    assert "Sugar Only" in mine and "Pressure Only" not in mine
    assert "No overdue patients match these filters." in client.get("/followups/overdue?programme=diabetes&"
                                                                    "doctor=999999").text


def test_overdue_csv_is_audited_and_masks_phones(client, session, clinic, doctor):
    enrolled(session, clinic, 120, utcnow(), name="=HYPERLINK(1)", phone="+8613711110002")
    session.commit()
    response = client.get("/followups/overdue.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeffPatient ID,Name")
    assert "'=HYPERLINK(1)" in body and "+86137****0002" in body and "+8613711110002" not in body
    export = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export)).one()
    assert export.object_type == "overdue_list" and "rows=1" in export.detail


def test_overdue_list_is_for_clinical_staff(client, session, clinic):
    make_staff(session, clinic, role="committee", username="qc-member")
    session.commit()
    login_staff(client, "qc-member")
    assert client.get("/followups/overdue").status_code == 403
    assert client.get("/followups/overdue.csv").status_code == 403
    assert client.get("/followups/indicators").status_code == 200


def test_an_empty_overdue_list_says_everyone_is_up_to_date(client, doctor):
    assert "No patient is overdue" in client.get("/followups/overdue").text
