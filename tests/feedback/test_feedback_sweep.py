"""The SLA sweep: reminders before deadlines and escalation of breaches, each exactly once per item."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.models import EventRecord
from feedback.enums import Action
from feedback.models import FeedbackEvent
from feedback.policy import get_policy
from feedback.tasks import sweep_sla_timers
from feedback.workflow import sweep_sla, transition
from tests.factories import login_staff, make_clinic, make_patient, make_staff
from tests.feedback.feedback_builders import make_item, principal, sms_to


def _setup(session):
    clinic = make_clinic(session)
    lead = make_staff(session, clinic, role="committee", username="qc-lead", phone="+8613900000001", language="zh-CN")
    owner = make_staff(session, clinic, role="nurse", username="nurse-wu", phone="+8613900000002")
    item = make_item(session, clinic, patient=make_patient(session, clinic))
    item.owner_id = owner.id
    session.commit()
    return clinic, lead, owner, item


def _kinds(session, item):
    return [h.kind for h in session.scalars(select(FeedbackEvent).where(FeedbackEvent.item_id == item.id))]


def test_missed_acknowledgement_is_marked_and_escalated_once(session):
    clinic, lead, owner, item = _setup(session)
    later = item.ack_due_at + timedelta(minutes=1)
    assert sweep_sla(session=session, now=later)["ack_breached"] == 1
    assert sweep_sla(session=session, now=later + timedelta(minutes=5))["ack_breached"] == 0
    session.commit()
    assert item.ack_breached_at == later
    assert _kinds(session, item).count("ack_breached") == 1 and _kinds(session, item).count("escalated") == 1
    texts = sms_to(session, lead.phone)
    assert len(texts) == 1 and item.reference in texts[0].body and "受理" in texts[0].body
    events = session.scalars(select(EventRecord).where(EventRecord.name == "feedback.sla_breached")).all()
    assert len(events) == 1 and events[0].payload["timer"] == "acknowledge"


def test_missed_resolution_is_escalated_to_the_configured_supervisor_only(session):
    clinic, lead, owner, item = _setup(session)
    supervisor = make_staff(session, clinic, role="admin", phone="+8613900000003")
    get_policy(session=session, clinic=clinic).supervisor_id = supervisor.id
    transition(session=session, item=item, clinic=clinic, action=Action.acknowledge, principal=principal(lead),
               notify_patient=False)
    counts = sweep_sla(session=session, now=item.resolve_due_at + timedelta(hours=1))
    assert counts["resolve_breached"] == 1 and counts["ack_breached"] == 0
    assert len(sms_to(session, supervisor.phone)) == 1 and sms_to(session, lead.phone) == []


def test_owner_is_reminded_once_inside_the_warning_window(session):
    clinic, lead, owner, item = _setup(session)
    hours = get_policy(session=session, clinic=clinic).due_soon_hours
    before_window = item.ack_due_at - timedelta(hours=hours, minutes=5)
    assert sweep_sla(session=session, now=before_window)["ack_due_soon"] == 0
    inside = item.ack_due_at - timedelta(hours=1)
    assert sweep_sla(session=session, now=inside)["ack_due_soon"] == 1
    assert sweep_sla(session=session, now=inside + timedelta(minutes=5))["ack_due_soon"] == 0
    assert len(sms_to(session, owner.phone)) == 1 and sms_to(session, lead.phone) == []
    assert _kinds(session, item).count("due_soon") == 1


def test_acknowledged_items_do_not_breach_the_acknowledgement_deadline(session):
    clinic, lead, owner, item = _setup(session)
    transition(session=session, item=item, clinic=clinic, action=Action.acknowledge, principal=principal(lead),
               notify_patient=False)
    assert sweep_sla(session=session, now=item.ack_due_at + timedelta(minutes=1))["ack_breached"] == 0


def test_breach_shows_on_the_breaches_page_and_as_overdue_in_the_inbox(client, session):
    clinic, lead, owner, item = _setup(session)
    item.ack_due_at = item.next_due_at = item.received_at - timedelta(minutes=1)  # already past
    session.commit()
    sweep_sla(session=session)
    session.commit()
    login_staff(client, "qc-lead")
    assert item.reference in client.get("/feedback/breaches").text
    inbox = client.get("/feedback?overdue=true")
    assert item.reference in inbox.text and 'class="overdue"' in inbox.text


def test_scheduled_sweep_runs_in_its_own_transaction(session, app):
    clinic, lead, owner, item = _setup(session)
    item.ack_due_at = item.next_due_at = item.received_at - timedelta(minutes=1)
    session.commit()
    sweep_sla_timers()
    session.refresh(item)
    assert item.ack_breached_at is not None
