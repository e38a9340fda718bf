"""Opening an analysis from upstream work: a common-problem suggestion (its complaints attached, the suggestion
marked taken), a callback that missed its deadline, or one complaint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import utcnow
from feedback.enums import SuggestionStatus
from feedback.models import RcaSuggestion
from rca import flows
from rca.enums import RcaLinkKind, RcaSource
from rca.models import RcaLink, RootCauseAnalysis, TimelineEntry
from tests.factories import make_clinic, make_patient, make_staff, post_form
from tests.rca.rca_builders import make_callback, make_suggestion, principal, signed_in


def _opened_id(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code in (302, 303), response.text[:500]
    return int(response.headers["location"].split("/")[2].split("?")[0])


def test_opening_from_a_suggestion_attaches_its_complaints_and_marks_it_taken(client, session):
    clinic, user = signed_in(client, session)
    suggestion, items = make_suggestion(session, clinic)
    session.commit()
    form = client.get(f"/rca/new?suggestion={suggestion.id}")
    assert form.status_code == 200
    assert all(item.reference in form.text for item in items)
    analysis_id = _opened_id(post_form(client, "/rca/new", {
        "suggestion_id": str(suggestion.id), "title": "Waiting time: 3 complaints in 30 days",
        "problem_statement": "Patients wait over 90 minutes."}, follow_redirects=False))
    analysis = session.get(RootCauseAnalysis, analysis_id)
    assert (analysis.source, analysis.suggestion_id) == (RcaSource.suggestion, suggestion.id)
    links = session.scalars(select(RcaLink).where(RcaLink.analysis_id == analysis_id)).all()
    assert sorted((link.kind, link.object_id) for link in links) == sorted(
        (RcaLinkKind.feedback_item, item.id) for item in items)
    session.refresh(suggestion)
    assert (suggestion.status, suggestion.analysis_id, suggestion.decided_by) == (
        SuggestionStatus.converted, analysis_id, user.id)
    timeline = session.scalars(select(TimelineEntry).where(TimelineEntry.analysis_id == analysis_id)).all()
    assert len(timeline) == len(items)  # the complaints' arrival seeds the timeline
    page = client.get(f"/rca/{analysis_id}").text
    assert all(f'href="/feedback/{item.id}"' in page for item in items)


def test_a_suggestion_is_taken_once_and_later_visits_go_to_its_analysis(client, session):
    clinic, _ = signed_in(client, session)
    suggestion, _items = make_suggestion(session, clinic)
    session.commit()
    data = {"suggestion_id": str(suggestion.id), "title": "Waits", "problem_statement": "Long waits."}
    first = _opened_id(post_form(client, "/rca/new", data, follow_redirects=False))
    again = post_form(client, "/rca/new", data, follow_redirects=False)
    assert again.headers["location"] == f"/rca/{first}"
    assert client.get(f"/rca/new?suggestion={suggestion.id}", follow_redirects=False).headers["location"] \
        == f"/rca/{first}"
    assert len(session.scalars(select(RootCauseAnalysis)).all()) == 1


def test_a_suggestion_taken_by_someone_else_meanwhile_is_refused(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    suggestion, _items = make_suggestion(session, clinic)
    values = {"title": "Waits", "problem_statement": "Long waits."}
    flows.open_analysis(session=session, clinic=clinic, principal=principal(chair), values=values,
                        suggestion_id=suggestion.id)
    with pytest.raises(flows.SuggestionTaken) as caught:
        flows.open_analysis(session=session, clinic=clinic, principal=principal(chair), values=values,
                            suggestion_id=suggestion.id)
    assert caught.value.analysis_id is not None


def test_the_list_offers_open_suggestions_to_the_committee(client, session):
    clinic, _ = signed_in(client, session)
    suggestion, _items = make_suggestion(session, clinic)
    session.commit()
    assert f'href="/rca/new?suggestion={suggestion.id}"' in client.get("/rca").text


def test_another_clinics_suggestion_cannot_be_opened(client, session):
    other = make_clinic(session)
    suggestion, _items = make_suggestion(session, other)
    session.commit()
    signed_in(client, session)
    assert client.get(f"/rca/new?suggestion={suggestion.id}").status_code == 404
    response = post_form(client, "/rca/new", {"suggestion_id": str(suggestion.id), "title": "x",
                                              "problem_statement": "y"})
    assert response.status_code == 404
    assert session.get(RcaSuggestion, suggestion.id).status == SuggestionStatus.open


def test_opening_from_a_late_callback_links_it_and_starts_the_clock_at_the_breach(client, session):
    clinic, _ = signed_in(client, session)
    patient = make_patient(session, clinic)
    due = utcnow() - timedelta(hours=5)
    callback = make_callback(session, patient, due_at=due)
    session.commit()
    form = client.get(f"/rca/new?callback={callback.id}").text
    assert f"CB-{callback.id}" in form and "missed its deadline" in form
    analysis_id = _opened_id(post_form(client, "/rca/new", {
        "callback_id": str(callback.id), "title": "Callback missed", "problem_statement": "Not called back."},
        follow_redirects=False))
    analysis = session.get(RootCauseAnalysis, analysis_id)
    assert analysis.source == RcaSource.callback and analysis.patient_id == patient.id
    assert abs((analysis.triggered_at - due).total_seconds()) < 60  # the form round-trips to the minute
    link = session.scalars(select(RcaLink).where(RcaLink.analysis_id == analysis_id)).one()
    assert (link.kind, link.object_id, link.patient_id) == (RcaLinkKind.callback, callback.id, patient.id)


def test_opening_from_one_complaint_links_it(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    _suggestion, items = make_suggestion(session, clinic, count=1)
    analysis = flows.open_analysis(session=session, clinic=clinic, principal=principal(chair),
                                   values={"title": "One complaint", "problem_statement": "Rude reception."},
                                   feedback_item_id=items[0].id)
    assert analysis.source == RcaSource.feedback
    assert [(i.kind, i.object_id) for i in flows.linked_items(session=session, analysis=analysis, language="en")] \
        == [(RcaLinkKind.feedback_item, items[0].id)]


def test_opening_by_hand_about_a_patient_keeps_the_patient_for_the_audit_log(client, session):
    from core.models import AuditAction, AuditEntry

    clinic, _ = signed_in(client, session)
    patient = make_patient(session, clinic, name="张桂兰")
    session.commit()
    assert "张桂兰" in client.get(f"/rca/new?patient={patient.id}").text
    analysis_id = _opened_id(post_form(client, "/rca/new", {
        "patient_id": str(patient.id), "title": "Fall in the waiting room", "problem_statement": "Slipped."},
        follow_redirects=False))
    assert session.get(RootCauseAnalysis, analysis_id).patient_id == patient.id
    actions = [r.action for r in session.scalars(select(AuditEntry).where(AuditEntry.patient_id == patient.id))]
    assert AuditAction.view in actions and AuditAction.create in actions
    other = make_patient(session, make_clinic(session))
    session.commit()
    assert client.get(f"/rca/new?patient={other.id}").status_code == 404
