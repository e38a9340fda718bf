"""Working an item: the status workflow with history, replies to the patient, refused steps (409) and the API."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from clinic.models import Clinic
from core.errors import Conflict, ValidationFailed
from feedback.enums import Action
from feedback.models import FeedbackEvent, FeedbackItem
from feedback.workflow import transition
from tests.factories import login_staff, make_clinic, make_patient, make_staff, make_token, post_form
from tests.feedback.feedback_builders import make_item, principal, sms_to


def _setup(session, **patient_overrides):
    clinic = make_clinic(session)
    lead = make_staff(session, clinic, role="committee", username="qc-lead")
    patient = make_patient(session, clinic, phone="+8613712340077", **patient_overrides)
    item = make_item(session, clinic, patient=patient, contact_language=patient.language)
    session.commit()
    return clinic, lead, patient, item


def _kinds(session, item):
    return [h.kind for h in session.scalars(select(FeedbackEvent).where(FeedbackEvent.item_id == item.id)
                                            .order_by(FeedbackEvent.id))]


def test_acknowledging_texts_the_patient_in_their_language_with_the_reply_date(client, session):
    clinic, lead, patient, item = _setup(session)
    login_staff(client, "qc-lead")
    page = client.get(f"/feedback/{item.id}/act/acknowledge")
    assert page.status_code == 200 and "Confirm" in page.text
    response = post_form(client, f"/feedback/{item.id}/act/acknowledge", {"note": "phoned her",
                                                                           "notify_patient": "on"},
                         follow_redirects=False)
    assert response.headers["location"] == f"/feedback/{item.id}?done=acknowledge"
    session.refresh(item)
    assert item.status == "acknowledged" and item.acknowledged_at is not None
    assert item.next_due_at == item.resolve_due_at
    texts = sms_to(session, patient.phone)
    assert len(texts) == 1 and item.reference in texts[0].body and texts[0].body.startswith("您的意见")
    assert "acknowledge" in _kinds(session, item)
    assert "Acknowledged." in client.get(response.headers["location"]).text


def test_full_workflow_leaves_a_history_row_per_step(session):
    clinic, lead, patient, item = _setup(session)
    actor = principal(lead)
    transition(session=session, item=item, clinic=clinic, action=Action.acknowledge, principal=actor)
    transition(session=session, item=item, clinic=clinic, action=Action.investigate, principal=actor)
    transition(session=session, item=item, clinic=clinic, action=Action.resolve, principal=actor,
               resolution="Extra triage nurse on Monday mornings.",
               patient_response="抱歉让您久等，周一上午已增加分诊护士。")
    transition(session=session, item=item, clinic=clinic, action=Action.close, principal=actor)
    first_due = item.resolve_due_at
    transition(session=session, item=item, clinic=clinic, action=Action.reopen, principal=actor,
               note="Patient says it happened again.")
    session.commit()
    assert item.status == "investigating" and item.reopened_count == 1 and item.resolved_at is None
    assert item.resolve_due_at >= first_due and item.next_due_at == item.resolve_due_at
    assert _kinds(session, item) == ["created", "acknowledge", "sms_queued", "investigate", "resolve", "sms_queued",
                                     "close", "reopen"]
    replies = sms_to(session, patient.phone)
    assert replies[-1].body.endswith("抱歉让您久等，周一上午已增加分诊护士。")
    assert item.response_channel == "sms"


def test_resolving_at_first_contact_counts_as_acknowledged(session):
    clinic, lead, patient, item = _setup(session)
    transition(session=session, item=item, clinic=clinic, action=Action.resolve, principal=principal(lead),
               resolution="Explained the bill at the desk.", patient_response="已当面解释收费明细。",
               notify_patient=False)
    assert item.acknowledged_at == item.resolved_at and item.next_due_at is None
    assert sms_to(session, patient.phone) == []
    assert item.response_channel == "web"


def test_no_text_to_a_patient_who_opted_out(session):
    clinic, lead, patient, item = _setup(session)
    patient.sms_opted_out = True
    session.flush()
    transition(session=session, item=item, clinic=clinic, action=Action.acknowledge, principal=principal(lead))
    assert sms_to(session, patient.phone) == []


def test_closing_an_item_that_is_not_resolved_is_a_409_with_the_item_unchanged(client, session):
    clinic, lead, patient, item = _setup(session)
    login_staff(client, "qc-lead")
    response = post_form(client, f"/feedback/{item.id}/act/close", {"note": ""})
    assert response.status_code == 409
    assert "not possible" in response.text
    session.refresh(item)
    assert item.status == "received"


def test_resolving_without_texts_reports_both_fields(client, session):
    clinic, lead, patient, item = _setup(session)
    login_staff(client, "qc-lead")
    response = post_form(client, f"/feedback/{item.id}/act/resolve", {"resolution": " ", "patient_response": ""})
    assert response.status_code == 422
    assert 'id="resolution-error"' in response.text and 'id="patient_response-error"' in response.text


def test_unknown_action_is_404(client, session):
    clinic, lead, patient, item = _setup(session)
    login_staff(client, "qc-lead")
    assert client.get(f"/feedback/{item.id}/act/delete").status_code == 404


def test_two_people_pressing_the_same_button_one_wins_and_the_other_gets_a_conflict(engine, session):
    clinic, lead, patient, item = _setup(session)
    with Session(engine, expire_on_commit=False) as first, Session(engine, expire_on_commit=False) as second:
        mine, theirs = first.get(FeedbackItem, item.id), second.get(FeedbackItem, item.id)
        their_clinic = second.get(Clinic, clinic.id)
        second.commit()  # they loaded the page a moment ago; their press is a new transaction
        transition(session=first, item=mine, clinic=first.get(Clinic, clinic.id), action=Action.acknowledge,
                   principal=principal(lead), notify_patient=False)
        first.commit()
        with pytest.raises(Conflict):
            transition(session=second, item=theirs, clinic=their_clinic, action=Action.acknowledge,
                       principal=principal(lead), notify_patient=False)


def test_reopening_needs_a_reason(session):
    clinic, lead, patient, item = _setup(session)
    transition(session=session, item=item, clinic=clinic, action=Action.resolve, principal=principal(lead),
               resolution="done", patient_response="已处理", notify_patient=False)
    with pytest.raises(ValidationFailed) as caught:
        transition(session=session, item=item, clinic=clinic, action=Action.reopen, principal=principal(lead))
    assert [e.field for e in caught.value.field_errors] == ["note"]


def test_api_creates_lists_and_moves_a_complaint_and_refuses_an_invalid_step(client, session):
    clinic = make_clinic(session)
    lead = make_staff(session, clinic, role="committee")
    token = make_token(session, lead)
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/complaints", headers=headers, json={
        "category": "billing", "channel": "phone", "description": "<b>charged twice</b>"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "received" and body["description"] == "<b>charged twice</b>"
    listed = client.get("/api/v1/complaints", headers=headers).json()
    assert [i["reference"] for i in listed["items"]] == [body["reference"]]
    refused = client.post(f"/api/v1/complaints/{body['id']}/transitions", headers=headers,
                          json={"action": "close"})
    assert refused.status_code == 409 and refused.json()["error"] == "conflict"
    moved = client.post(f"/api/v1/complaints/{body['id']}/transitions", headers=headers,
                        json={"action": "resolve", "resolution": "refunded", "patient_response": "Refunded."})
    assert moved.status_code == 200 and moved.json()["status"] == "resolved"
    missing = client.post(f"/api/v1/complaints/{body['id']}/transitions", headers=headers,
                          json={"action": "reopen"})
    assert missing.status_code == 422 and missing.json()["fields"][0]["field"] == "note"


def test_api_validates_fields_with_messages(client, session):
    clinic = make_clinic(session)
    lead = make_staff(session, clinic, role="committee")
    token = make_token(session, lead)
    session.commit()
    response = client.post("/api/v1/complaints", headers={"Authorization": f"Bearer {token}"}, json={
        "category": "billing", "description": "  ", "patient_id": 424242, "contact_phone": "12"})
    assert response.status_code == 422
    assert {f["field"] for f in response.json()["fields"]} == {"description", "patient_id", "contact_phone"}
