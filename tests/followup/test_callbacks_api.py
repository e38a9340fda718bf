"""The callbacks API: list shape and filters, attempts and closing, field-level 422s, 409 on closed
callbacks, and clinic scoping with bearer tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from core.db import utcnow
from core.models import AuditAction, AuditEntry, EventRecord
from followup.models import Callback
from tests.factories import make_callback, make_clinic, make_patient, make_staff, make_token, send_sms

ITEM_KEYS = {"id", "patient_id", "rule_code", "severity", "status", "due_at", "reason", "readings", "attempts",
             "assigned_to", "escalated"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token(session, clinic=None, role="doctor", **overrides):
    clinic = clinic or make_clinic(session)
    user = make_staff(session, clinic, role=role, **overrides)
    token = make_token(session, user)
    session.commit()
    return clinic, user, _bearer(token)


def test_listing_open_callbacks_gives_items_with_readings_and_offset_times(client, session, settings):
    clinic, _, headers = _token(session)
    patient = make_patient(session, clinic)
    session.commit()
    send_sms(client, settings, from_=patient.phone, body="血糖2.8")
    response = client.get("/api/v1/callbacks?status=open", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1 and len(body["items"]) == 1
    item = body["items"][0]
    assert set(item) >= ITEM_KEYS
    assert (item["patient_id"], item["severity"], item["status"], item["attempts"], item["assigned_to"],
            item["escalated"]) == (patient.id, "urgent", "open", 0, None, False)
    assert item["due_at"].endswith("+08:00")
    assert datetime.fromisoformat(item["due_at"]) <= utcnow() + timedelta(hours=1)
    assert item["reason"] and item["rule_code"]
    [reading] = item["readings"]
    assert (reading["kind"], reading["value"], reading["unit"]) == ("glucose", "2.80", "mmol/L")
    assert reading["taken_at"].endswith("+08:00")


def test_listing_filters_by_status_severity_and_assignee_in_queue_order(client, session):
    clinic, doctor, headers = _token(session)
    urgent = make_callback(session, make_patient(session, clinic), severity="urgent", rule_code="U")
    routine = make_callback(session, make_patient(session, clinic), severity="routine", rule_code="R",
                            due_at=utcnow() + timedelta(days=5))
    routine.assigned_to = doctor.id
    closed = make_callback(session, make_patient(session, clinic), severity="urgent", rule_code="C")
    closed.status = "closed"
    session.commit()

    def ids(query: str) -> list[int]:
        return [i["id"] for i in client.get(f"/api/v1/callbacks{query}", headers=headers).json()["items"]]

    assert ids("") == [urgent.id, routine.id]
    assert ids("?severity=routine") == [routine.id]
    assert ids(f"?assigned_to={doctor.id}") == [routine.id]
    assert ids("?status=closed") == [closed.id]
    assert set(ids("?status=all")) == {urgent.id, routine.id, closed.id}
    assert client.get("/api/v1/callbacks?per_page=1&page=2", headers=headers).json()["items"][0]["id"] == routine.id


def test_a_bad_filter_is_answered_with_the_field_at_fault(client, session):
    _, _, headers = _token(session)
    bad_severity = client.get("/api/v1/callbacks?severity=panic", headers=headers)
    assert bad_severity.status_code == 400 and bad_severity.json()["fields"]
    bad_status = client.get("/api/v1/callbacks?status=pending", headers=headers)
    assert bad_status.status_code == 422 and bad_status.json()["fields"][0]["field"] == "status"


def test_logging_an_unanswered_attempt_returns_201_and_the_next_try(client, session):
    clinic, doctor, headers = _token(session)
    callback = make_callback(session, make_patient(session, clinic))
    session.commit()
    response = client.post(f"/api/v1/callbacks/{callback.id}/attempts", json={"outcome": "no_answer"},
                           headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["attempts"], body["status"], body["assigned_to"], body["closed"]) == (1, "open", doctor.id, False)
    assert body["next_attempt_at"].endswith("+08:00")


def test_a_reached_attempt_with_a_result_closes_the_callback(client, session):
    clinic, doctor, headers = _token(session)
    callback = make_callback(session, make_patient(session, clinic))
    session.commit()
    response = client.post(f"/api/v1/callbacks/{callback.id}/attempts", headers=headers,
                           json={"outcome": "reached", "result": "medication_adjusted", "note": "metformin"})
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["outcome"], body["close_reason"], body["closed_by"]) == (
        "closed", "reached", "medication_adjusted", doctor.id)
    assert session.scalars(select(EventRecord).where(EventRecord.name == "callback.completed")).one()


def test_three_unanswered_attempts_through_the_api_escalate(client, session):
    clinic, _, headers = _token(session)
    callback = make_callback(session, make_patient(session, clinic))
    session.commit()
    answers = [client.post(f"/api/v1/callbacks/{callback.id}/attempts", json={"outcome": "no_answer"},
                           headers=headers).json() for _ in range(3)]
    assert [a["escalated"] for a in answers] == [False, False, True]
    assert answers[-1]["escalated_now"] is True


def test_an_invalid_attempt_gets_422_with_field_messages(client, session):
    clinic, _, headers = _token(session)
    callback = make_callback(session, make_patient(session, clinic))
    session.commit()
    response = client.post(f"/api/v1/callbacks/{callback.id}/attempts", headers=headers,
                           json={"outcome": "reached", "result": "remind_later", "remind_at": "tomorrow"})
    assert response.status_code == 422
    assert response.json()["fields"] == [{"field": "remind_at",
                                          "message": "Enter a date and time, for example 2026-12-01 09:30."}]
    missing = client.post(f"/api/v1/callbacks/{callback.id}/attempts", headers=headers, json={"outcome": "shouted"})
    assert missing.status_code == 422 and missing.json()["fields"][0]["field"] == "outcome"
    unknown = client.post(f"/api/v1/callbacks/{callback.id}/attempts", headers=headers, json={"mood": "fine"})
    assert unknown.status_code == 422


def test_remind_later_through_the_api_takes_an_iso_time_with_offset(client, session):
    clinic, _, headers = _token(session)
    callback = make_callback(session, make_patient(session, clinic))
    session.commit()
    when = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    response = client.post(f"/api/v1/callbacks/{callback.id}/attempts", headers=headers, json={
        "outcome": "reached", "result": "remind_later", "remind_at": when.isoformat()})
    assert response.status_code == 201
    assert datetime.fromisoformat(response.json()["next_attempt_at"]) == when
    assert response.json()["status"] == "open"


def test_closing_needs_a_reason_and_a_closed_callback_answers_409(client, session):
    clinic, doctor, headers = _token(session)
    callback = make_callback(session, make_patient(session, clinic))
    session.commit()
    missing = client.post(f"/api/v1/callbacks/{callback.id}/close", json={}, headers=headers)
    assert missing.status_code == 422 and missing.json()["fields"][0]["field"] == "reason"
    closed = client.post(f"/api/v1/callbacks/{callback.id}/close", json={"reason": "deceased"}, headers=headers)
    assert closed.status_code == 200
    assert (closed.json()["outcome"], closed.json()["close_reason"]) == ("not_reached", "deceased")
    for path, body in (("close", {"reason": "moved"}), ("attempts", {"outcome": "no_answer"})):
        again = client.post(f"/api/v1/callbacks/{callback.id}/{path}", json=body, headers=headers)
        assert again.status_code == 409 and again.json()["error"] == "conflict"


def test_closing_as_reached_takes_a_call_result(client, session):
    clinic, _, headers = _token(session)
    callback = make_callback(session, make_patient(session, clinic))
    session.commit()
    wrong = client.post(f"/api/v1/callbacks/{callback.id}/close", json={"outcome": "reached", "reason": "moved"},
                        headers=headers)
    assert wrong.status_code == 422
    right = client.post(f"/api/v1/callbacks/{callback.id}/close", headers=headers,
                        json={"outcome": "reached", "reason": "referred", "note": "to county hospital"})
    assert right.status_code == 200 and right.json()["close_reason"] == "referred"


def test_one_callback_with_its_history(client, session):
    clinic, _, headers = _token(session)
    callback = make_callback(session, make_patient(session, clinic))
    session.commit()
    client.post(f"/api/v1/callbacks/{callback.id}/attempts", json={"outcome": "busy"}, headers=headers)
    body = client.get(f"/api/v1/callbacks/{callback.id}", headers=headers).json()
    assert [h["kind"] for h in body["history"]] == ["opened", "claimed", "attempt"]
    assert body["history"][2]["detail"] == {"outcome": "busy", "result": None, "remind_at": None, "note": ""}
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.view,
                                                    AuditEntry.object_type == "callback")).one()


def test_another_clinics_token_gets_404_and_sees_nothing(client, session):
    _, _, headers = _token(session)
    foreign = make_callback(session, make_patient(session, make_clinic(session)))
    session.commit()
    assert client.get("/api/v1/callbacks?status=all", headers=headers).json() == {
        "items": [], "total": 0, "page": 1, "per_page": 50}
    assert client.get(f"/api/v1/callbacks/{foreign.id}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/callbacks/{foreign.id}/attempts", json={"outcome": "no_answer"},
                       headers=headers).status_code == 404
    assert client.post(f"/api/v1/callbacks/{foreign.id}/close", json={"reason": "moved"},
                       headers=headers).status_code == 404
    session.expire_all()
    assert session.get(Callback, foreign.id).attempts == 0


def test_callbacks_need_a_clinical_token(client, session):
    clinic, _, committee = _token(session, role="committee")
    _, _, nurse = _token(session, clinic, role="nurse")
    assert client.get("/api/v1/callbacks").status_code == 401
    assert client.get("/api/v1/callbacks", headers=committee).status_code == 403
    assert client.get("/api/v1/callbacks", headers=nurse).status_code == 200
