"""RCA clocks: start within 72 hours, finish within the clinic's target (45 days by default), and overdue
actions escalated once by the scheduled sweep."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.db import utcnow
from core.errors import ValidationFailed
from core.models import EventRecord, SmsMessage
from rca import service
from rca.enums import RcaActionStatus, RcaStatus
from rca.escalation import escalate_overdue
from rca.models import RcaHistory, RootCauseAnalysis
from rca.timers import action_due_at, action_overdue, clocks, finish_due, start_due
from tests.factories import make_clinic, make_staff
from tests.rca.rca_builders import clinic_today, make_action, make_analysis, principal, signed_in, with_facilitator

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_start_and_finish_deadlines_run_from_when_review_was_needed():
    triggered = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    assert start_due(triggered, 72) == datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    assert finish_due(triggered, 45) == datetime(2026, 6, 15, 9, 0, tzinfo=UTC)


def test_an_action_stays_due_until_its_local_day_ends():
    due_at = action_due_at(date(2026, 5, 3), SHANGHAI)
    assert due_at == datetime(2026, 5, 3, 16, 0, tzinfo=UTC)  # midnight in Shanghai
    assert not action_overdue(RcaActionStatus.planned, due_at, due_at - timedelta(seconds=1))
    assert action_overdue(RcaActionStatus.in_progress, due_at, due_at)
    assert not action_overdue(RcaActionStatus.done, due_at, due_at + timedelta(days=9))


def test_clocks_say_when_a_start_or_finish_is_late():
    triggered = datetime(2026, 5, 1, tzinfo=UTC)
    late_start = clocks(status=RcaStatus.open, start_due_at=start_due(triggered, 72),
                        due_at=finish_due(triggered, 45), started_at=None, completed_at=None,
                        now=triggered + timedelta(hours=73))
    assert late_start.start_overdue and not late_start.finish_overdue
    started = clocks(status=RcaStatus.in_progress, start_due_at=start_due(triggered, 72),
                     due_at=finish_due(triggered, 45), started_at=triggered + timedelta(hours=80), completed_at=None,
                     now=triggered + timedelta(days=46))
    assert started.started_late and started.finish_overdue and not started.start_overdue


def test_new_analysis_takes_the_clinic_targets_at_opening(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    triggered = utcnow() - timedelta(hours=1)
    default = make_analysis(session, clinic, chair, triggered_at=triggered)
    assert default.start_due_at == triggered + timedelta(hours=72)
    assert default.due_at == triggered + timedelta(days=45)
    service.update_policy(session=session, clinic_id=clinic.id, principal=principal(chair), start_within_hours="48",
                          finish_within_days="30")
    shorter = make_analysis(session, clinic, chair, triggered_at=triggered)
    assert shorter.due_at == triggered + timedelta(days=30)
    assert default.due_at == triggered + timedelta(days=45)  # an open analysis keeps its deadline


def test_clinic_target_must_be_sensible(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    with pytest.raises(ValidationFailed) as caught:
        service.update_policy(session=session, clinic_id=clinic.id, principal=principal(chair),
                              start_within_hours="0", finish_within_days="forty")
    assert {e.field for e in caught.value.field_errors} == {"start_within_hours", "finish_within_days"}


def test_settings_page_saves_the_clinic_target(client, session):
    from tests.factories import post_form

    clinic, _ = signed_in(client, session)
    response = post_form(client, "/rca/settings", {"start_within_hours": "72", "finish_within_days": "30"},
                         follow_redirects=False)
    assert response.headers["location"] == "/rca/settings?done=settings"
    assert "RCA deadlines saved." in client.get(response.headers["location"]).text
    assert service.get_policy(session=session, clinic_id=clinic.id).finish_within_days == 30


def test_analysis_not_started_within_72_hours_is_escalated_once(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee", phone="+8613800000001")
    triggered = utcnow() - timedelta(hours=80)
    analysis = make_analysis(session, clinic, chair, triggered_at=triggered)
    session.commit()
    assert escalate_overdue(session=session)["start"] == 1
    session.commit()
    assert escalate_overdue(session=session)["start"] == 0
    rows = session.scalars(select(RcaHistory).where(RcaHistory.kind == "start_overdue")).all()
    assert len(rows) == 1 and rows[0].detail["notified"] == [chair.id]
    texts = session.scalars(select(SmsMessage).where(SmsMessage.purpose == "rca_start_overdue")).all()
    assert [t.phone for t in texts] == ["+8613800000001"] and analysis.reference in texts[0].body
    assert session.scalars(select(EventRecord).where(EventRecord.name == "rca.escalated")).one().payload["timer"] \
        == "start"


def test_analysis_started_in_time_is_not_escalated(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair, triggered_at=utcnow() - timedelta(hours=10))
    with_facilitator(session, analysis, chair)
    service.change_status(session=session, analysis=analysis, principal=principal(chair), transition="start")
    session.commit()
    assert escalate_overdue(session=session, now=utcnow() + timedelta(hours=100))["start"] == 0


def test_starting_needs_a_facilitator(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair)
    with pytest.raises(ValidationFailed) as caught:
        service.change_status(session=session, analysis=analysis, principal=principal(chair), transition="start")
    assert [e.field for e in caught.value.field_errors] == ["team"]
    assert analysis.status == RcaStatus.open and analysis.started_at is None


def test_analysis_past_its_target_date_is_escalated_once_to_the_facilitator(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair, triggered_at=utcnow() - timedelta(days=50))
    facilitator = with_facilitator(session, analysis, chair)
    service.change_status(session=session, analysis=analysis, principal=principal(chair), transition="start")
    session.commit()
    first = escalate_overdue(session=session)
    session.commit()
    assert first["finish"] == 1 and first["start"] == 0  # it started, however late
    assert escalate_overdue(session=session)["finish"] == 0
    row = session.scalars(select(RcaHistory).where(RcaHistory.kind == "finish_overdue")).one()
    assert facilitator.id in row.detail["notified"]
    assert session.get(RootCauseAnalysis, analysis.id).finish_escalated_at is not None


def test_overdue_action_escalates_once_and_shows_as_overdue_on_the_list(client, session):
    clinic, chair = signed_in(client, session)
    owner = make_staff(session, clinic, role="doctor", phone="+8613800000002")
    analysis = make_analysis(session, clinic, chair)
    action = make_action(session, analysis, chair, owner_id=owner.id, due_date=clinic_today().isoformat())
    session.commit()
    assert escalate_overdue(session=session, now=action.due_at - timedelta(minutes=1))["action"] == 0
    action.due_date = clinic_today() - timedelta(days=2)  # time passes: the due date is now behind us
    action.due_at = action_due_at(action.due_date, SHANGHAI)
    session.commit()
    assert escalate_overdue(session=session)["action"] == 1
    session.commit()
    assert escalate_overdue(session=session)["action"] == 0
    session.commit()
    rows = session.scalars(select(RcaHistory).where(RcaHistory.kind == "action_overdue")).all()
    assert len(rows) == 1 and rows[0].detail["action_id"] == action.id and owner.id in rows[0].detail["notified"]
    assert [m.phone for m in session.scalars(select(SmsMessage).where(
        SmsMessage.purpose == "rca_action_overdue"))] == ["+8613800000002"]
    assert "Overdue: 1" in client.get("/rca").text
    assert "Overdue" in client.get(f"/rca/{analysis.id}").text


def test_moving_an_action_due_date_rearms_its_escalation(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair)
    action = make_action(session, analysis, chair, due_date=clinic_today().isoformat())
    session.commit()
    escalate_overdue(session=session, now=action.due_at + timedelta(minutes=1))
    assert action.id and session.get(type(action), action.id).escalated_at is not None
    session.refresh(action)
    new_due = (clinic_today() + timedelta(days=7)).isoformat()
    service.update_action(session=session, analysis=analysis, clinic=clinic, principal=principal(chair),
                          action_id=action.id, values={"due_date": new_due})
    assert action.escalated_at is None and action.due_date.isoformat() == new_due
    assert escalate_overdue(session=session, now=action.due_at + timedelta(minutes=1))["action"] == 1


def test_the_scheduled_sweep_runs_as_its_actor(app, session):
    import rca.tasks

    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    make_analysis(session, clinic, chair, triggered_at=utcnow() - timedelta(hours=73))
    session.commit()
    rca.tasks.escalate_overdue()
    rca.tasks.escalate_overdue()
    session.expire_all()
    assert len(session.scalars(select(RcaHistory).where(RcaHistory.kind == "start_overdue")).all()) == 1


def test_overdue_badges_show_on_the_list_and_the_overview(client, session):
    clinic, chair = signed_in(client, session)
    analysis = make_analysis(session, clinic, chair, triggered_at=utcnow() - timedelta(days=46))
    session.commit()
    listing = client.get("/rca").text
    assert "Not started in time" in listing and "Past target date" in listing
    overview = client.get(f"/rca/{analysis.id}").text
    assert "Not started in time" in overview and "Past target date" in overview


def test_a_breach_claimed_by_another_sweep_is_not_announced_again(engine, session):
    from sqlmodel import Session

    from rca.escalation import _claim

    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair, triggered_at=utcnow() - timedelta(hours=80))
    session.commit()
    with Session(engine, expire_on_commit=False) as other:
        stale = other.get(RootCauseAnalysis, analysis.id)  # this sweep read the row before the other claimed it
        assert stale.start_escalated_at is None
        other.rollback()
        assert escalate_overdue(session=session)["start"] == 1
        session.commit()
        assert not _claim(other, stale, RootCauseAnalysis.start_escalated_at, utcnow())
        other.rollback()
