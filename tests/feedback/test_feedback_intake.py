"""The patient web form: anonymous and signed-in intake, field errors, CSRF, duplicates and the daily limit."""

from __future__ import annotations

from sqlalchemy import select

from feedback.models import FeedbackEvent, FeedbackItem
from tests.factories import login_staff, make_clinic, make_patient, make_staff, post_form
from tests.feedback.feedback_builders import login_patient

ANONYMOUS = {"category": "waiting_time", "description": "等了两个小时才看上病", "harm": "no", "name": "张先生",
             "phone": "13812345678", "consent": "on"}


def test_anonymous_visitor_submits_with_name_and_phone_and_gets_a_reference(client, session):
    clinic = make_clinic(session, code="sunshine")
    session.commit()
    response = post_form(client, "/feedback/new", {**ANONYMOUS, "clinic": "sunshine"})
    assert response.status_code == 200
    item = session.scalars(select(FeedbackItem)).one()
    assert item.reference in response.text
    assert (item.clinic_id, item.patient_id, item.contact_name, item.contact_phone) == (
        clinic.id, None, "张先生", "+8613812345678")
    assert (item.channel, item.kind, item.status, item.submitted_by_kind) == ("web", "complaint", "received",
                                                                                "anonymous")
    assert item.contact_consent is True and item.severity == "medium"
    assert item.ack_due_at < item.resolve_due_at and item.next_due_at == item.ack_due_at
    history = session.scalars(select(FeedbackEvent).where(FeedbackEvent.item_id == item.id)).all()
    assert [h.kind for h in history] == ["created"]


def test_form_names_the_clinic_from_the_link(client, session):
    make_clinic(session, code="a", name="东区社区卫生服务中心")
    make_clinic(session, code="b", name="西区社区卫生服务中心")
    session.commit()
    chooser = client.get("/feedback/new")
    assert "东区社区卫生服务中心" in chooser.text and "西区社区卫生服务中心" in chooser.text
    form = client.get("/feedback/new?clinic=b")
    assert "西区社区卫生服务中心" in form.text and 'value="b"' in form.text
    assert client.get("/feedback/new?clinic=nowhere").status_code == 404


def test_anonymous_form_reports_every_missing_field_next_to_it(client, session):
    make_clinic(session, code="x")
    session.commit()
    response = post_form(client, "/feedback/new", {"clinic": "x", "phone": "123"})
    assert response.status_code == 422
    for field in ("category", "description", "harm", "name", "phone"):
        assert f'id="{field}-error"' in response.text
    assert session.scalars(select(FeedbackItem)).all() == []


def test_form_without_csrf_token_is_refused(client, session):
    make_clinic(session, code="x")
    session.commit()
    client.get("/feedback/new?clinic=x")
    response = client.post("/feedback/new", data={**ANONYMOUS, "clinic": "x"})
    assert response.status_code == 403
    assert session.scalars(select(FeedbackItem)).all() == []


def test_signed_in_patient_needs_no_name_or_phone_and_sees_it_under_my_feedback(client, session):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712345601", name="王秀英")
    session.commit()
    login_patient(client, session, "+8613712345601")
    form = client.get("/feedback/new")
    assert 'name="phone"' not in form.text
    response = post_form(client, "/feedback/new", {"category": "attitude", "description": "护士态度不好",
                                                   "harm": "no"})
    assert response.status_code == 200
    item = session.scalars(select(FeedbackItem)).one()
    assert (item.patient_id, item.submitted_by_kind, item.submitted_by_id) == (patient.id, "patient", patient.id)
    mine = client.get("/feedback/mine")
    assert item.reference in mine.text


def test_harm_answer_yes_makes_the_item_high_severity_and_alerts_the_committee(client, session):
    clinic = make_clinic(session, code="x")
    lead = make_staff(session, clinic, role="committee", phone="+8613900000011")
    session.commit()
    post_form(client, "/feedback/new", {**ANONYMOUS, "clinic": "x", "harm": "yes",
                                        "description": "拿错了药，吃了以后头晕"})
    item = session.scalars(select(FeedbackItem)).one()
    assert item.severity == "high" and item.escalated_at is not None
    kinds = [h.kind for h in session.scalars(select(FeedbackEvent).where(FeedbackEvent.item_id == item.id))]
    assert "escalated" in kinds
    from tests.feedback.feedback_builders import sms_to

    assert len(sms_to(session, lead.phone)) == 1


def test_double_submit_stores_one_item(client, session):
    make_clinic(session, code="x")
    session.commit()
    first = post_form(client, "/feedback/new", {**ANONYMOUS, "clinic": "x"})
    second = post_form(client, "/feedback/new", {**ANONYMOUS, "clinic": "x"})
    item = session.scalars(select(FeedbackItem)).one()
    assert item.reference in first.text and item.reference in second.text


def test_one_phone_cannot_flood_the_inbox(client, session):
    make_clinic(session, code="x")
    session.commit()
    for n in range(5):
        assert post_form(client, "/feedback/new", {**ANONYMOUS, "clinic": "x",
                                                   "description": f"问题 {n}"}).status_code == 200
    response = post_form(client, "/feedback/new", {**ANONYMOUS, "clinic": "x", "description": "问题 6"})
    assert response.status_code == 429
    assert len(session.scalars(select(FeedbackItem)).all()) == 5


def test_staff_opening_the_patient_form_are_sent_to_the_staff_form(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="nurse", username="nurse-li")
    session.commit()
    login_staff(client, "nurse-li")
    response = client.get("/feedback/new", follow_redirects=False)
    assert response.headers["location"] == "/feedback/record"


def test_staff_record_a_phone_complaint_with_field_errors_first(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="committee", username="qc")
    patient = make_patient(session, clinic)
    session.commit()
    login_staff(client, "qc")
    bad = post_form(client, "/feedback/record", {"channel": "phone", "category": "", "description": "",
                                                  "patient_id": "999999"})
    assert bad.status_code == 422
    assert 'id="category-error"' in bad.text and 'id="patient_id-error"' in bad.text
    good = post_form(client, "/feedback/record", {
        "kind": "complaint", "channel": "phone", "category": "billing", "severity": "medium",
        "complexity": "multi_department", "description": "收费多收了20元", "patient_id": str(patient.id),
        "lead_department": "财务科", "departments": "药房，门诊"}, follow_redirects=False)
    assert good.status_code in (302, 303)
    item = session.scalars(select(FeedbackItem)).one()
    assert (item.channel, item.complexity, item.lead_department, item.departments) == (
        "phone", "multi_department", "财务科", ["药房", "门诊"])
    assert good.headers["location"] == f"/feedback/{item.id}?done=recorded"


def test_one_address_is_limited_to_twenty_submissions_an_hour_without_touching_sign_in(client, session):
    make_clinic(session, code="x")
    session.commit()
    statuses = [post_form(client, "/feedback/new", {"clinic": "x"}).status_code for _ in range(21)]
    assert statuses[:20] == [422] * 20 and statuses[20] == 429
    # Sign-in keeps its own counter: the feedback limit must not lock anyone out of signing in.
    assert post_form(client, "/login", {"username": "nobody", "password": "x"}).status_code == 401
