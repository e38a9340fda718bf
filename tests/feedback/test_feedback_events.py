"""Items opened by domain events: a complaint SMS and a low survey answer, each exactly once."""

from __future__ import annotations

from sqlalchemy import select

from core.events import record_event
from core.models import SmsDirection, SmsMessage, SmsStatus
from feedback.models import FeedbackEvent, FeedbackItem
from tests.factories import make_clinic, make_patient, make_staff, send_sms


def _inbound(session, patient, body):
    message = SmsMessage(direction=SmsDirection.inbound, provider="development", provider_message_id=f"SM{body!r}",
                         clinic_id=patient.clinic_id, patient_id=patient.id, phone=patient.phone, body=body,
                         status=SmsStatus.received, purpose="complaint")
    session.add(message)
    session.flush()
    return message


def _sms_event(session, patient, message):
    record_event(session=session, name="sms.complaint_received", clinic_id=patient.clinic_id, payload={
        "patient_id": patient.id, "clinic_id": patient.clinic_id, "sms_message_id": message.id,
        "body": message.body})


def test_complaint_sms_event_opens_one_complaint_without_the_keyword(session, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    message = _inbound(session, patient, "投诉：排队等了两个小时")
    _sms_event(session, patient, message)
    session.commit()
    run_jobs()
    item = session.scalars(select(FeedbackItem)).one()
    assert (item.patient_id, item.sms_message_id, item.channel, item.kind) == (patient.id, message.id, "sms",
                                                                                "complaint")
    assert item.description == "排队等了两个小时" and item.category == "waiting_time"


def test_complaint_sms_delivered_twice_opens_one_item(session, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    message = _inbound(session, patient, "complaint: the receptionist was rude")
    _sms_event(session, patient, message)
    _sms_event(session, patient, message)
    session.commit()
    run_jobs()
    item = session.scalars(select(FeedbackItem)).one()
    assert item.category == "attitude" and item.description == "the receptionist was rude"


def test_complaint_sms_naming_a_patient_of_another_clinic_is_ignored(session, run_jobs):
    clinic, other = make_clinic(session), make_clinic(session)
    patient = make_patient(session, clinic)
    message = _inbound(session, patient, "投诉 药拿错了")
    record_event(session=session, name="sms.complaint_received", clinic_id=other.id, payload={
        "patient_id": patient.id, "clinic_id": other.id, "sms_message_id": message.id, "body": message.body})
    session.commit()
    run_jobs()
    assert session.scalars(select(FeedbackItem)).all() == []


def test_complaint_by_sms_webhook_reaches_the_inbox(client, session, settings, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic, phone="+8613712349999")
    session.commit()
    response = send_sms(client, settings, from_=patient.phone, body="投诉 医生没有解释清楚用药")
    assert response.status_code == 200
    run_jobs()
    item = session.scalars(select(FeedbackItem)).one()
    assert item.patient_id == patient.id and item.channel == "sms"
    assert item.description == "医生没有解释清楚用药"


def _low_score(session, clinic, patient, *, response_id=41, question="overall", score=3, comment="",
               doctor_id=None):
    record_event(session=session, name="survey.low_score", clinic_id=clinic.id, payload={
        "response_id": response_id, "patient_id": patient.id, "clinic_id": clinic.id,
        "template_code": "post_callback", "question": question, "score": score, "comment": comment,
        "doctor_id": doctor_id})


def test_low_survey_score_opens_a_concern_linked_to_the_response(session, run_jobs):
    clinic = make_clinic(session)
    doctor = make_staff(session, clinic, role="doctor")
    patient = make_patient(session, clinic)
    _low_score(session, clinic, patient, question="nps", score=3, comment="等了很久也没人打电话",
               doctor_id=doctor.id)
    session.commit()
    run_jobs()
    item = session.scalars(select(FeedbackItem)).one()
    assert (item.kind, item.channel, item.survey_response_id, item.subject_staff_id) == (
        "concern", "survey", 41, doctor.id)
    assert item.severity == "low" and item.description == "等了很久也没人打电话"
    assert item.source_detail["survey"]["answers"] == [{"question": "nps", "score": 3,
                                                        "comment": "等了很久也没人打电话"}]


def test_low_scores_on_one_response_make_one_concern_whatever_the_redelivery(session, run_jobs):
    clinic = make_clinic(session)
    patient = make_patient(session, clinic)
    _low_score(session, clinic, patient, question="nps", score=2)
    _low_score(session, clinic, patient, question="nps", score=2)
    _low_score(session, clinic, patient, question="waiting", score=1, comment="too slow")
    session.commit()
    run_jobs()
    item = session.scalars(select(FeedbackItem)).one()
    assert [a["question"] for a in item.source_detail["survey"]["answers"]] == ["nps", "waiting"]
    kinds = [h.kind for h in session.scalars(select(FeedbackEvent).where(FeedbackEvent.item_id == item.id))]
    assert kinds.count("created") == 1 and kinds.count("survey_answer") == 1


def test_a_doctor_of_another_clinic_is_not_recorded_as_the_subject(session, run_jobs):
    clinic, other = make_clinic(session), make_clinic(session)
    stranger = make_staff(session, other, role="doctor")
    patient = make_patient(session, clinic)
    _low_score(session, clinic, patient, doctor_id=stranger.id)
    session.commit()
    run_jobs()
    assert session.scalars(select(FeedbackItem)).one().subject_staff_id is None


def test_survey_event_with_every_low_item_keeps_them_all_and_reads_the_dimension(session, run_jobs):
    clinic = make_clinic(session, language="en", profile="us", timezone="America/Chicago")
    patient = make_patient(session, clinic)
    record_event(session=session, name="survey.low_score", clinic_id=clinic.id, payload={
        "response_id": 77, "patient_id": patient.id, "clinic_id": clinic.id, "template_code": "post_callback",
        "question": "wait", "score": 1, "comment": "", "doctor_id": None, "language": "en", "trigger": "callback",
        "callback_id": None, "template_version": 1,
        "items": [{"question": "wait", "type": "likert", "dimension": "waiting", "text_zh": "等候时间可以接受",
                   "text_en": "The waiting time was acceptable", "score": 1, "reason": "bottom_box"},
                  {"question": "nps", "type": "nps", "dimension": "overall", "text_zh": "推荐", "text_en": "Recommend",
                   "score": 4, "reason": "nps_detractor"}]})
    session.commit()
    run_jobs()
    item = session.scalars(select(FeedbackItem)).one()
    assert item.category == "waiting_time" and item.contact_language == "en"
    assert [a["question"] for a in item.source_detail["survey"]["answers"]] == ["wait", "nps"]
    assert item.description == "The waiting time was acceptable: 1; Recommend: 4"
