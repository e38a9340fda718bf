"""Common-problem detection: three items of one category within 30 days suggest one root-cause analysis."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.models import EventRecord
from feedback.enums import Category
from feedback.models import RcaSuggestion
from feedback.policy import get_policy
from feedback.workflow import update_item
from tests.factories import login_staff, make_clinic, make_staff, post_form
from tests.feedback.feedback_builders import make_item, principal


def _suggested_events(session):
    return session.scalars(select(EventRecord).where(EventRecord.name == "feedback.rca_suggested")).all()


def test_three_waiting_time_complaints_make_one_suggestion_and_one_event(session):
    clinic = make_clinic(session)
    items = [make_item(session, clinic, category=Category.waiting_time) for _ in range(3)]
    make_item(session, clinic, category=Category.billing)
    suggestion = session.scalars(select(RcaSuggestion)).one()
    assert suggestion.category == "waiting_time" and suggestion.item_ids == [i.id for i in items]
    events = _suggested_events(session)
    assert len(events) == 1
    assert events[0].payload == {"suggestion_id": suggestion.id, "clinic_id": clinic.id, "category": "waiting_time",
                                 "item_ids": [i.id for i in items], "count": 3, "window_days": 30, "trigger": "count"}


def test_a_fourth_item_joins_the_cluster_instead_of_suggesting_again(session):
    clinic = make_clinic(session)
    items = [make_item(session, clinic) for _ in range(4)]
    suggestion = session.scalars(select(RcaSuggestion)).one()
    assert suggestion.item_ids == [i.id for i in items]
    assert len(_suggested_events(session)) == 1


def test_two_items_or_items_outside_the_window_do_not_suggest(session):
    clinic = make_clinic(session)
    old = make_item(session, clinic)
    old.received_at -= timedelta(days=31)
    session.flush()
    make_item(session, clinic)
    make_item(session, clinic)
    assert session.scalars(select(RcaSuggestion)).all() == []


def test_threshold_and_window_are_set_per_clinic(session):
    clinic = make_clinic(session)
    get_policy(session=session, clinic=clinic).rca_threshold = 2
    make_item(session, clinic, category=Category.medication)
    make_item(session, clinic, category=Category.medication)
    assert session.scalars(select(RcaSuggestion)).one().category == "medication"


def test_other_clinics_items_never_count(session):
    clinic, other = make_clinic(session), make_clinic(session)
    make_item(session, clinic)
    make_item(session, other)
    make_item(session, other)
    assert session.scalars(select(RcaSuggestion)).all() == []


def test_recategorising_an_item_can_complete_a_cluster(session):
    clinic = make_clinic(session)
    lead = make_staff(session, clinic, role="committee")
    make_item(session, clinic)
    make_item(session, clinic)
    misfiled = make_item(session, clinic, category=Category.other)
    assert session.scalars(select(RcaSuggestion)).all() == []
    update_item(session=session, item=misfiled, clinic=clinic, principal=principal(lead), values={
        "kind": "complaint", "category": "waiting_time", "severity": "medium", "complexity": "simple"})
    assert len(session.scalars(select(RcaSuggestion)).one().item_ids) == 3


def test_inbox_offers_the_analysis_and_the_committee_can_dismiss_it(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="committee", username="qc")
    for _ in range(3):
        make_item(session, clinic)
    session.commit()
    login_staff(client, "qc")
    inbox = client.get("/feedback").text
    assert "3 items about “Waiting time” in 30 days — consider a root-cause analysis." in inbox
    suggestion = session.scalars(select(RcaSuggestion)).one()
    response = post_form(client, f"/feedback/suggestions/{suggestion.id}/dismiss", {}, follow_redirects=True)
    assert response.status_code == 200 and "consider a root-cause analysis" not in response.text
    session.refresh(suggestion)
    assert suggestion.status == "dismissed"
