"""Invitations: the callback.completed event, the delay and per-patient limit, sending through the outbox,
sending hours, the one reminder, expiry, the monthly sample and the staff invite page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.db import utcnow
from core.events import record_event
from core.models import SmsStatus
from core.sms_segments import measure
from surveys.enums import InvitationStatus, SurveyTrigger
from surveys.flows import dispatch_invitations, sample_panel
from surveys.invitations import next_in_window
from surveys.models import SurveyInvitation, SurveySampleRun
from surveys.service import get_settings
from tests.factories import login_staff, make_clinic, make_patient, make_staff, post_form
from tests.surveys.survey_builders import PUBLIC_URL, outbound, sent_invitation, token_in

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _complete_callback(session, patient, *, callback_id, outcome="reached", closed_by=None):
    record_event(session=session, name="callback.completed", clinic_id=patient.clinic_id, payload={
        "callback_id": callback_id, "patient_id": patient.id, "clinic_id": patient.clinic_id, "outcome": outcome,
        "closed_by": closed_by, "rule_code": "DES-GLU-3D"})
    session.commit()


def _invitations(session, patient=None):
    session.expire_all()
    query = select(SurveyInvitation).order_by(SurveyInvitation.id)
    if patient is not None:
        query = query.where(SurveyInvitation.patient_id == patient.id)
    return list(session.scalars(query))


def test_a_reached_callback_schedules_one_invitation_after_the_delay(session, run_jobs):
    clinic = make_clinic(session)
    doctor = make_staff(session, clinic, role="doctor")
    patient = make_patient(session, clinic)
    session.commit()
    before = utcnow()
    _complete_callback(session, patient, callback_id=41, closed_by=doctor.id)
    run_jobs()
    [invitation] = _invitations(session, patient)
    assert invitation.status == InvitationStatus.scheduled and invitation.trigger == SurveyTrigger.callback
    assert invitation.callback_id == 41 and invitation.doctor_id == doctor.id
    assert invitation.send_after >= before + timedelta(hours=24)
    assert outbound(session, "survey_invite") == []  # nothing goes out before the delay


def test_the_delay_is_a_clinic_setting(session, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    get_settings(session=session, clinic_id=clinic.id).delay_hours = 48
    session.commit()
    before = utcnow()
    _complete_callback(session, patient, callback_id=42)
    run_jobs()
    [invitation] = _invitations(session, patient)
    assert invitation.send_after >= before + timedelta(hours=48)


def test_with_no_delay_the_survey_goes_out_with_the_callback_not_at_the_next_sweep(session, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    settings = get_settings(session=session, clinic_id=clinic.id)
    settings.delay_hours, settings.window_start_hour, settings.window_end_hour = 0, 0, 24
    session.commit()
    _complete_callback(session, patient, callback_id=44)
    run_jobs()  # the callback.completed subscriber only; the five-minute dispatch sweep does not run here
    [invitation] = _invitations(session, patient)
    assert invitation.status == InvitationStatus.sent
    [sms] = outbound(session, "survey_invite")
    assert sms.phone == patient.phone


def test_a_callback_that_did_not_reach_the_patient_sends_no_survey(session, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    session.commit()
    _complete_callback(session, patient, callback_id=43, outcome="no_answer")
    run_jobs()
    assert _invitations(session, patient) == []


def test_a_second_callback_within_thirty_days_sends_no_second_invitation(session, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    session.commit()
    _complete_callback(session, patient, callback_id=44)
    _complete_callback(session, patient, callback_id=45)
    run_jobs()
    assert [i.callback_id for i in _invitations(session, patient)] == [44]


def test_the_same_callback_event_twice_makes_one_invitation(session, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    get_settings(session=session, clinic_id=clinic.id).min_days_between = 0
    session.commit()
    _complete_callback(session, patient, callback_id=46)
    _complete_callback(session, patient, callback_id=46)
    run_jobs()
    assert len(_invitations(session, patient)) == 1


def test_a_patient_without_sms_consent_gets_no_invitation(session, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, sms_consent=False)
    session.commit()
    _complete_callback(session, patient, callback_id=47)
    run_jobs()
    assert _invitations(session, patient) == []


def test_a_clinic_can_turn_the_callback_survey_off(session, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    get_settings(session=session, clinic_id=clinic.id).after_callback = False
    session.commit()
    _complete_callback(session, patient, callback_id=48)
    run_jobs()
    assert _invitations(session, patient) == []


def test_a_due_invitation_goes_out_by_sms_through_the_outbox(session, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, language="zh-CN")
    session.commit()
    _complete_callback(session, patient, callback_id=49)
    run_jobs()
    [invitation] = _invitations(session, patient)
    dispatch_invitations(session=session, public_url=PUBLIC_URL, now=invitation.send_after)
    session.commit()
    run_jobs()
    [message] = outbound(session, "survey_invite")
    assert message.status == SmsStatus.sent and message.phone == patient.phone
    token = token_in(message.body)
    assert len(token) >= 22 and patient.name not in message.body
    # Chinese texts fall back to a shorter wording so that link and 【签名】 still fit one segment.
    assert "评价" in message.body and measure(message.body).segments == 1
    [invitation] = _invitations(session, patient)
    assert invitation.status == InvitationStatus.sent and invitation.token_digest not in (None, token)
    assert invitation.expires_at == invitation.sent_at + timedelta(days=14)


def test_an_english_speaking_patient_gets_an_english_sms_in_one_segment(session):
    clinic = make_clinic(session, name="Riverside Family Practice")
    patient = make_patient(session, clinic, language="en")
    invitation, _ = sent_invitation(session, clinic, patient)
    [message] = outbound(session, "survey_invite")
    assert "survey" in message.body and measure(message.body).encoding == "GSM-7"
    assert measure(message.body).segments == 1


def test_an_invitation_due_at_night_waits_for_the_morning(session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    settings = get_settings(session=session, clinic_id=clinic.id)
    settings.min_days_between = 0
    session.flush()
    night = datetime(2026, 11, 23, 23, 30, tzinfo=SHANGHAI).astimezone(UTC)
    assert next_in_window(night, SHANGHAI, 9, 20) == datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI)
    invitation, _ = sent_invitation(session, clinic, patient)
    invitation.status, invitation.send_after = InvitationStatus.scheduled, night
    session.flush()
    assert dispatch_invitations(session=session, public_url=PUBLIC_URL, now=night)["sent"] == 0
    session.refresh(invitation)
    assert invitation.status == InvitationStatus.scheduled
    assert invitation.send_after == datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI)


def test_one_reminder_goes_out_after_three_days_and_never_twice(session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    get_settings(session=session, clinic_id=clinic.id).window_start_hour = 0
    get_settings(session=session, clinic_id=clinic.id).window_end_hour = 24
    invitation, first = sent_invitation(session, clinic, patient)
    assert dispatch_invitations(session=session, public_url=PUBLIC_URL,
                                now=invitation.sent_at + timedelta(days=2))["reminded"] == 0
    later = invitation.sent_at + timedelta(days=3, minutes=1)
    assert dispatch_invitations(session=session, public_url=PUBLIC_URL, now=later)["reminded"] == 1
    assert dispatch_invitations(session=session, public_url=PUBLIC_URL,
                                now=later + timedelta(days=1))["reminded"] == 0
    [reminder] = outbound(session, "survey_reminder")
    assert token_in(reminder.body) != first


def test_an_unanswered_link_expires_after_fourteen_days(session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    invitation, _ = sent_invitation(session, clinic, patient)
    dispatch_invitations(session=session, public_url=PUBLIC_URL, now=invitation.sent_at + timedelta(days=13))
    session.refresh(invitation)
    assert invitation.status == InvitationStatus.sent
    dispatch_invitations(session=session, public_url=PUBLIC_URL, now=invitation.sent_at + timedelta(days=14))
    session.refresh(invitation)
    assert invitation.status == InvitationStatus.expired


def test_an_invitation_is_cancelled_when_the_patient_opted_out_before_it_went(session, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    session.commit()
    _complete_callback(session, patient, callback_id=50)
    run_jobs()
    patient.sms_opted_out = True
    session.commit()
    [invitation] = _invitations(session, patient)
    dispatch_invitations(session=session, public_url=PUBLIC_URL, now=invitation.send_after)
    session.commit()
    [invitation] = _invitations(session, patient)
    assert invitation.status == InvitationStatus.cancelled and outbound(session, "survey_invite") == []


def test_the_monthly_sample_invites_its_share_of_the_panel_once(session):
    clinic = make_clinic(session)
    reachable = [make_patient(session, clinic) for _ in range(8)]
    make_patient(session, clinic, sms_consent=False)
    make_patient(session, clinic, sms_consent=False)
    settings = get_settings(session=session, clinic_id=clinic.id)
    settings.sample_percent = 20
    session.flush()
    day = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
    run = sample_panel(session=session, clinic=clinic, now=day)
    assert run is not None and (run.panel, run.invited) == (10, 2)
    invited = {i.patient_id for i in _invitations(session)}
    assert len(invited) == 2 and invited <= {p.id for p in reachable}
    assert sample_panel(session=session, clinic=clinic, now=day + timedelta(hours=1)) is None
    assert len(session.scalars(select(SurveySampleRun)).all()) == 1


def test_the_sample_waits_for_the_clinics_sample_day(session):
    clinic = make_clinic(session)
    make_patient(session, clinic)
    get_settings(session=session, clinic_id=clinic.id).sample_day = 15
    session.flush()
    assert sample_panel(session=session, clinic=clinic, now=datetime(2026, 11, 10, 3, tzinfo=UTC)) is None
    assert sample_panel(session=session, clinic=clinic, now=datetime(2026, 11, 16, 3, tzinfo=UTC)) is not None


def test_staff_invite_a_patient_after_a_visit(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="nurse", username="nurse-li")
    patient = make_patient(session, clinic, name="李秀兰")
    session.commit()
    login_staff(client, "nurse-li")
    page = client.get("/surveys/invite", params={"q": "李秀兰"})
    assert page.status_code == 200 and "李秀兰" in page.text and patient.phone not in page.text
    response = post_form(client, "/surveys/invite", {"patient_id": patient.id, "template": "service"},
                         follow_redirects=True)
    assert response.status_code == 200 and "李秀兰" in response.text
    [invitation] = _invitations(session, patient)
    assert invitation.trigger == SurveyTrigger.visit and invitation.created_by is not None
    again = post_form(client, "/surveys/invite", {"patient_id": patient.id, "template": "service"})
    assert again.status_code == 409 and "already invited" in again.text
    assert len(_invitations(session, patient)) == 1


def test_staff_cannot_invite_a_patient_of_another_clinic(client, session):
    clinic, other = make_clinic(session), make_clinic(session)
    make_staff(session, clinic, role="doctor", username="dr-zhou")
    stranger = make_patient(session, other)
    session.commit()
    login_staff(client, "dr-zhou")
    response = post_form(client, "/surveys/invite", {"patient_id": stranger.id, "template": "service"})
    assert response.status_code == 404 and _invitations(session, stranger) == []


def test_settings_form_reports_each_wrong_value_and_saves_good_ones(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="admin", username="admin-zh")
    session.commit()
    login_staff(client, "admin-zh")
    good = {"after_callback": "on", "callback_template": "post_callback", "sample_template": "service",
            "delay_hours": "12", "min_days_between": "60", "sample_percent": "3", "sample_day": "5",
            "token_days": "10", "reminder_after_days": "2", "window_start_hour": "8", "window_end_hour": "21"}
    bad = post_form(client, "/surveys/settings", {**good, "delay_hours": "-1", "sample_percent": "101"})
    assert bad.status_code == 422 and 'id="delay_hours-error"' in bad.text and 'id="sample_percent-error"' in bad.text
    saved = post_form(client, "/surveys/settings", good, follow_redirects=True)
    assert saved.status_code == 200
    session.expire_all()
    settings = get_settings(session=session, clinic_id=clinic.id)
    assert (settings.delay_hours, settings.min_days_between, settings.sample_percent) == (12, 60, 3)


def test_the_dispatch_and_sample_sweeps_are_scheduled(app, broker):
    from core.scheduler import InProcessScheduler

    scheduler = InProcessScheduler(broker)
    assert "surveys.dispatch_invitations" in scheduler.fire(datetime(2026, 11, 23, 9, 5, tzinfo=SHANGHAI))
    assert "surveys.sample_panels" in scheduler.fire(datetime(2026, 11, 23, 9, 15, tzinfo=SHANGHAI))
