"""Escalation of callbacks nobody completed, and the clinic's follow-up policy that sets due times, retry
backoff, service hours and the on-call doctor."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.db import utcnow
from core.jobs import periodic_actors, run_outbox_job
from core.models import AuditEntry, OutboxJob, SmsMessage
from followup.callbacks import get_policy, retry_backoff, tier_due_at
from followup.models import Callback, CallbackEvent, FollowupPolicy
from followup.tasks.callbacks import escalate_overdue_callbacks, escalate_overdue_callbacks_every_minute
from tests.factories import (
    login_staff,
    make_callback,
    make_clinic,
    make_followup_policy,
    make_patient,
    make_staff,
    post_form,
    send_sms,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _escalations(session, callback_id):
    return session.scalars(select(CallbackEvent).where(CallbackEvent.callback_id == callback_id,
                                                       CallbackEvent.kind == "escalated")).all()


def _closed_all_week(session, clinic, **values):
    """A policy under which the clinic is never open, so every moment is out of hours."""
    policy = FollowupPolicy(clinic_id=clinic.id, service_weekdays="", **values)
    session.add(policy)
    return policy


def test_the_sweep_escalates_an_unanswered_urgent_callback_past_its_due_time(client, session, settings, engine):
    clinic = make_clinic(session)
    make_followup_policy(session, clinic, around_the_clock=True)
    patient = make_patient(session, clinic, language="en")
    session.commit()
    send_sms(client, settings, from_=patient.phone, body="glucose 2.8")
    callback = session.scalars(select(Callback).where(Callback.patient_id == patient.id)).one()
    assert callback.severity == "urgent" and callback.escalated_at is None
    callback.due_at = utcnow() - timedelta(minutes=1)
    session.commit()
    assert escalate_overdue_callbacks(engine=engine) == 1
    session.expire_all()
    escalated = session.get(Callback, callback.id)
    assert escalated.escalated_at is not None and escalated.status == "open"
    [event] = _escalations(session, callback.id)
    assert event.detail["reason"] == "overdue" and event.actor_id is None
    sms = session.scalars(select(SmsMessage).where(SmsMessage.purpose == "callback_escalation")).one()
    assert sms.phone == patient.phone and sms.body.startswith("Hello, your family doctor would like to speak")
    assert event.detail["sms_message_id"] == sms.id
    audit = session.scalars(select(AuditEntry).where(AuditEntry.object_type == "callback")).one()
    assert audit.actor_kind == "system" and audit.patient_id == patient.id


def test_running_the_sweep_again_escalates_nothing_twice(session, engine):
    clinic = make_clinic(session)
    make_followup_policy(session, clinic, around_the_clock=True)
    callback = make_callback(session, make_patient(session, clinic), due_at=utcnow() - timedelta(minutes=5))
    session.commit()
    assert escalate_overdue_callbacks(engine=engine) == 1
    assert escalate_overdue_callbacks(engine=engine) == 0
    assert len(_escalations(session, callback.id)) == 1
    assert len(session.scalars(select(SmsMessage)).all()) == 1


def test_concurrent_sweeps_escalate_each_callback_exactly_once(session, engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent workers need a server database")
    clinic = make_clinic(session)
    make_followup_policy(session, clinic, around_the_clock=True)
    callbacks = [make_callback(session, make_patient(session, clinic), due_at=utcnow() - timedelta(minutes=1))
                 for _ in range(10)]
    session.commit()
    start = threading.Barrier(4)
    counts: list[int] = []

    def sweep() -> None:
        start.wait(timeout=30)
        counts.append(escalate_overdue_callbacks(engine=engine))

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(counts) == 10
    assert all(len(_escalations(session, c.id)) == 1 for c in callbacks)
    assert len(session.scalars(select(SmsMessage)).all()) == 10


def test_the_sweep_leaves_callbacks_not_yet_due_closed_or_already_escalated_alone(session, engine):
    clinic = make_clinic(session)
    not_due = make_callback(session, make_patient(session, clinic), due_at=utcnow() + timedelta(minutes=30))
    closed = make_callback(session, make_patient(session, clinic), due_at=utcnow() - timedelta(minutes=30))
    closed.status = "closed"
    already = make_callback(session, make_patient(session, clinic), due_at=utcnow() - timedelta(minutes=30))
    already.escalated_at = utcnow() - timedelta(minutes=10)
    session.commit()
    assert escalate_overdue_callbacks(engine=engine) == 0
    assert all(_escalations(session, c.id) == [] for c in (not_due, closed, already))


def test_the_scheduled_actor_runs_the_sweep_every_minute(session, app):
    assert ("followup.escalate_overdue_callbacks" in {name for name, _ in periodic_actors()})
    clinic = make_clinic(session)
    callback = make_callback(session, make_patient(session, clinic), due_at=utcnow() - timedelta(minutes=1))
    session.commit()
    escalate_overdue_callbacks_every_minute()
    session.expire_all()
    assert session.get(Callback, callback.id).escalated_at is not None


def test_an_escalated_callback_is_pinned_for_the_on_call_doctor_and_the_supervisor(client, session, engine):
    clinic = make_clinic(session)
    owner = make_staff(session, clinic, role="doctor")
    on_call = make_staff(session, clinic, role="doctor")
    supervisor = make_staff(session, clinic, role="admin")
    session.add(FollowupPolicy(clinic_id=clinic.id, on_call_staff_id=on_call.id, supervisor_staff_id=supervisor.id))
    quiet = make_callback(session, make_patient(session, clinic), severity="emergency", rule_code="E")
    late = make_callback(session, make_patient(session, clinic), severity="routine", rule_code="R",
                         due_at=utcnow() - timedelta(days=1))
    quiet.assigned_to = late.assigned_to = owner.id
    session.commit()
    escalate_overdue_callbacks(engine=engine)
    for viewer in (on_call, supervisor):
        login_staff(client, viewer.username)
        text = client.get("/callbacks?scope=mine").text
        assert f'id="callback-{late.id}"' in text and f'id="callback-{quiet.id}"' not in text
    whole = client.get("/callbacks").text
    assert whole.index(f'id="callback-{late.id}"') < whole.index(f'id="callback-{quiet.id}"')


def test_out_of_hours_an_unassigned_escalation_goes_to_the_on_call_doctor(session, engine):
    clinic = make_clinic(session)
    on_call = make_staff(session, clinic, role="doctor")
    _closed_all_week(session, clinic, on_call_staff_id=on_call.id)
    callback = make_callback(session, make_patient(session, clinic), severity="same_day", rule_code="S",
                             due_at=utcnow() - timedelta(minutes=1))
    session.commit()
    assert callback.assigned_to is None  # same-day work is not the on-call doctor's until it escalates
    escalate_overdue_callbacks(engine=engine)
    session.expire_all()
    assert session.get(Callback, callback.id).assigned_to == on_call.id


def test_an_urgent_callback_opened_out_of_hours_goes_straight_to_the_on_call_doctor(session):
    clinic = make_clinic(session)
    on_call = make_staff(session, clinic, role="doctor")
    _closed_all_week(session, clinic, on_call_staff_id=on_call.id)
    callback = make_callback(session, make_patient(session, clinic), severity="urgent")
    session.commit()
    assert callback.assigned_to == on_call.id
    kinds = [e.kind for e in session.scalars(select(CallbackEvent).where(CallbackEvent.callback_id == callback.id))]
    assert kinds == ["opened", "assigned"]


def test_a_rule_can_ask_for_a_call_sooner_than_the_clinics_tier_promise_never_later(session):
    clinic = make_clinic(session)
    session.add(FollowupPolicy(clinic_id=clinic.id, due_follow_up_days=7))
    session.commit()
    now = utcnow()
    late_rule = make_callback(session, make_patient(session, clinic), severity="follow_up", rule_code="F1",
                              due_at=now + timedelta(days=30))
    early_rule = make_callback(session, make_patient(session, clinic), severity="follow_up", rule_code="F2",
                               due_at=now + timedelta(days=2))
    assert now + timedelta(days=7) - timedelta(minutes=1) < late_rule.due_at <= utcnow() + timedelta(days=7)
    assert early_rule.due_at == now + timedelta(days=2)


def test_tier_due_times_follow_the_default_policy():
    policy = FollowupPolicy(clinic_id=1)
    morning = datetime(2026, 5, 6, 9, 0, tzinfo=SHANGHAI)  # a Wednesday
    assert tier_due_at(policy, "emergency", morning, SHANGHAI) == morning + timedelta(minutes=15)
    assert tier_due_at(policy, "urgent", morning, SHANGHAI) == morning + timedelta(hours=1)
    assert tier_due_at(policy, "same_day", morning, SHANGHAI) == datetime(2026, 5, 6, 17, 30, tzinfo=SHANGHAI)
    assert tier_due_at(policy, "follow_up", morning, SHANGHAI) == morning + timedelta(days=14)
    assert tier_due_at(policy, "routine", morning, SHANGHAI) == morning + timedelta(days=90)


def test_same_day_work_opened_just_before_closing_is_due_at_the_end_of_the_next_service_day():
    policy = FollowupPolicy(clinic_id=1, service_weekdays="12345", service_day_end=time(17, 0))
    friday_late = datetime(2026, 5, 8, 16, 30, tzinfo=SHANGHAI)
    assert tier_due_at(policy, "same_day", friday_late, SHANGHAI) == datetime(2026, 5, 11, 17, 0, tzinfo=SHANGHAI)


def test_unanswered_calls_are_retried_after_a_wait_that_depends_on_the_tier():
    policy = FollowupPolicy(clinic_id=1)
    assert [retry_backoff(policy, s) for s in ("emergency", "urgent", "same_day", "follow_up", "routine")] == [
        timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=24), timedelta(hours=72)]


def test_an_admin_edits_the_policy_with_field_level_errors(client, session):
    clinic = make_clinic(session)
    admin = make_staff(session, clinic, role="admin")
    nurse = make_staff(session, clinic, role="nurse", display_name="Nurse Zhao")
    outsider = make_staff(session, make_clinic(session), role="doctor")
    session.commit()
    login_staff(client, admin.username)
    form = client.get("/admin/followup-policy")
    assert form.status_code == 200 and 'value="15"' in form.text and 'value="17:30"' in form.text
    good = {"due_emergency_minutes": "10", "due_urgent_minutes": "45", "due_follow_up_days": "14",
            "due_routine_days": "90", "backoff_emergency_minutes": "5", "backoff_urgent_minutes": "10",
            "backoff_same_day_minutes": "60", "backoff_follow_up_hours": "24", "backoff_routine_hours": "72",
            "max_attempts": "4", "service_day_start": "08:00", "service_day_end": "20:00",
            "service_weekdays": ["1", "2", "3", "4", "5", "6"], "on_call_staff_id": str(nurse.id),
            "supervisor_staff_id": str(admin.id), "clinic_phone": "010-6512 3456", "escalation_sms": "on"}
    bad = {**good, "max_attempts": "0", "service_day_end": "07:00", "service_weekdays": [],
           "on_call_staff_id": str(outsider.id), "clinic_phone": "call us"}
    refused = post_form(client, "/admin/followup-policy", bad)
    assert refused.status_code == 422
    for field in ("max_attempts", "service_day_end", "service_weekdays", "on_call_staff_id", "clinic_phone"):
        assert f'id="{field}-error"' in refused.text
    assert session.scalars(select(FollowupPolicy)).all() == []
    saved = post_form(client, "/admin/followup-policy", good, follow_redirects=False)
    assert saved.status_code in (302, 303)
    policy = get_policy(session=session, clinic_id=clinic.id)
    assert (policy.max_attempts, policy.due_urgent_minutes, policy.service_day_end, policy.service_weekdays,
            policy.on_call_staff_id, policy.clinic_phone) == (4, 45, time(20, 0), "123456", nurse.id, "010-6512 3456")
    assert "Saved." in client.get("/admin/followup-policy?saved=1").text
    assert session.scalars(select(AuditEntry).where(AuditEntry.object_type == "followup_policy")).one()


def test_only_an_admin_may_change_the_policy(client, session):
    clinic = make_clinic(session)
    doctor = make_staff(session, clinic, role="doctor")
    session.commit()
    login_staff(client, doctor.username)
    assert client.get("/admin/followup-policy", follow_redirects=False).status_code == 403


def test_the_clinics_maximum_attempts_decides_when_calls_escalate(client, session):
    clinic = make_clinic(session)
    doctor = make_staff(session, clinic, role="doctor")
    make_followup_policy(session, clinic, around_the_clock=True, max_attempts=2, clinic_phone="010-12345678")
    callback = make_callback(session, make_patient(session, clinic, language="zh-CN"))
    session.commit()
    login_staff(client, doctor.username)
    for _ in range(2):
        post_form(client, f"/callbacks/{callback.id}/attempts", {"outcome": "no_answer"})
    session.expire_all()
    assert session.get(Callback, callback.id).escalated_at is not None
    sms = session.scalars(select(SmsMessage)).one()
    assert "010-12345678" in sms.body


def test_an_escalation_out_of_hours_texts_the_patient_when_the_clinic_opens(session, engine):
    clinic = make_clinic(session)
    tomorrow = (utcnow().astimezone(SHANGHAI) + timedelta(days=1)).date()
    make_followup_policy(session, clinic, service_weekdays=str(tomorrow.isoweekday()))  # closed all today
    callback = make_callback(session, make_patient(session, clinic), due_at=utcnow() - timedelta(minutes=1))
    session.commit()
    escalate_overdue_callbacks(engine=engine)
    assert session.scalars(select(SmsMessage)).all() == []
    job = session.scalars(select(OutboxJob).where(OutboxJob.actor_name == "followup.text_escalated_patient")).one()
    assert job.run_after == datetime.combine(tomorrow, time(8, 0), tzinfo=SHANGHAI)
    [event] = _escalations(session, callback.id)
    assert datetime.fromisoformat(event.detail["sms_after"]) == job.run_after
    run_outbox_job(job.id)
    assert session.scalars(select(SmsMessage)).one().purpose == "callback_escalation"


def test_a_deferred_escalation_text_is_dropped_when_the_callback_was_closed_overnight(session, engine):
    clinic = make_clinic(session)
    tomorrow = (utcnow().astimezone(SHANGHAI) + timedelta(days=1)).date()
    make_followup_policy(session, clinic, service_weekdays=str(tomorrow.isoweekday()))
    callback = make_callback(session, make_patient(session, clinic), due_at=utcnow() - timedelta(minutes=1))
    session.commit()
    escalate_overdue_callbacks(engine=engine)
    session.expire_all()
    session.get(Callback, callback.id).status = "closed"
    session.commit()
    job = session.scalars(select(OutboxJob).where(OutboxJob.actor_name == "followup.text_escalated_patient")).one()
    run_outbox_job(job.id)
    assert session.scalars(select(SmsMessage)).all() == []
