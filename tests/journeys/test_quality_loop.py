"""Issue 5's chain across domains: a completed callback sends a survey link through the outbox and the SMS
gateway; a 3/10 answer opens a concern in the committee's inbox with its deadline."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from core.db import utcnow
from core.models import SmsMessage
from feedback.models import FeedbackItem
from surveys.flows import dispatch_invitations
from tests.factories import login_staff, make_callback, make_clinic, make_patient, make_staff, make_token, post_form


def test_completed_callback_survey_low_score_reaches_the_committee_inbox(client, session, settings, run_jobs):
    clinic = make_clinic(session)
    doctor = make_staff(session, clinic, role="doctor")
    make_staff(session, clinic, role="committee", username="qc-lead")
    patient = make_patient(session, clinic, phone="+8613712349999", language="zh-CN")
    callback = make_callback(session, patient)
    token = make_token(session, doctor)
    session.commit()

    response = client.post(f"/api/v1/callbacks/{callback.id}/attempts",
                           json={"outcome": "reached", "result": "advice_given"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    run_jobs()  # callback.completed → the survey invitation is scheduled

    later = utcnow() + timedelta(days=2)
    with session.begin():
        dispatch_invitations(session=session, public_url=settings.public_url, now=later.replace(hour=3))
    run_jobs()  # the SMS goes out through the outbox and the (development) gateway
    sms = session.scalars(select(SmsMessage).where(SmsMessage.purpose.like("survey%"))).one()
    assert sms.status == "sent" and sms.phone == patient.phone
    link = re.search(r"/s/([A-Za-z0-9_-]+)", sms.body).group(1)

    page = client.get(f"/s/{link}")
    assert page.status_code == 200
    answers = {"q_explained": "4", "q_listened": "4", "q_timely": "1", "q_recommend": "3",
               "q_comment": "等了很久才接通"}
    assert post_form(client, f"/s/{link}", answers).status_code == 200
    run_jobs()  # survey.low_score → a concern in feedback

    concern = session.scalars(select(FeedbackItem).where(FeedbackItem.patient_id == patient.id)).one()
    assert concern.channel == "survey" and concern.status == "received"
    post_form(client, "/logout", {})
    login_staff(client, "qc-lead")
    inbox = client.get("/feedback")
    assert inbox.status_code == 200 and concern.reference in inbox.text
