"""The public survey page: single-use links, expiry, unknown tokens, validation, language, CSRF, and the
`survey.low_score` event."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.db import utcnow
from core.models import EventRecord
from surveys.enums import InvitationStatus
from surveys.invitations import expire_invitations
from surveys.models import SurveyAnswer, SurveyResponse
from tests.factories import make_clinic, make_patient, make_staff
from tests.surveys.survey_builders import GOOD, answer, reminder_token, sent_invitation


def _setup(session, **patient):
    clinic = make_clinic(session)
    doctor = make_staff(session, clinic, role="doctor")
    # English unless a test asks otherwise: the assertions below read the English texts.
    person = make_patient(session, clinic, **{"language": "en", **patient})
    invitation, token = sent_invitation(session, clinic, person, doctor_id=doctor.id)
    session.commit()
    return clinic, doctor, person, invitation, token


def _responses(session):
    session.expire_all()
    return list(session.scalars(select(SurveyResponse)))


def _low_events(session):
    session.expire_all()
    return list(session.scalars(select(EventRecord).where(EventRecord.name == "survey.low_score")))


def test_the_survey_page_shows_the_questions_in_the_patients_language(client, session):
    *_, person, _, token = _setup(session, language="zh-CN")
    page = client.get(f"/s/{token}")
    assert page.status_code == 200
    assert "医生是否认真倾听了您说的话" in page.text and "总是" in page.text and 'type="radio"' in page.text
    assert "<script" not in page.text  # works without JavaScript
    assert person.name not in page.text and person.phone not in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"


def test_the_language_switch_shows_the_survey_in_english(client, session):
    *_, token = _setup(session, language="zh-CN")
    client.get(f"/lang/en?next=/s/{token}")
    page = client.get(f"/s/{token}")
    assert "Did the doctor listen carefully to you?" in page.text and "Always" in page.text


def test_a_chinese_speaking_patient_reads_every_outcome_page_in_chinese(client, session):
    clinic, _, person, invitation, token = _setup(session, language="zh-CN")
    thanks = answer(client, token, GOOD)
    assert thanks.status_code == 200 and "感谢您的回答！" in thanks.text and "Thank you" not in thanks.text
    assert "此调查已经填写过了，谢谢您！" in client.get(f"/s/{token}").text
    # an unknown link has no patient to take the language from: the browser's language decides
    assert "此调查链接无效。" in client.get("/s/" + "A" * 22, headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    _, expired = sent_invitation(session, clinic, person, code="service")
    expire_invitations(session=session, now=utcnow() + timedelta(days=40))
    session.commit()
    closed = client.get(f"/s/{expired}")
    assert closed.status_code == 410 and "此调查已结束。" in closed.text


def test_answers_are_stored_once_with_their_scores(client, session, database_url):
    *_, invitation, token = _setup(session)
    response = answer(client, token, {**GOOD, "q_timely": "2", "q_recommend": "8", "q_comment": "谢谢"})
    assert response.status_code == 200 and "Thank you for your answers." in response.text
    [stored] = _responses(session)
    assert stored.invitation_id == invitation.id and stored.template_code == "post_callback"
    answers = {a.question_key: a for a in session.scalars(select(SurveyAnswer))}
    assert (answers["timely"].value, answers["timely"].bottom_box, answers["timely"].score) == (2, True, 100 / 3)
    assert (answers["recommend"].top_box, answers["recommend"].bottom_box, answers["recommend"].score) == \
        (False, False, 80)
    assert answers["comment"].text == "谢谢" and answers["comment"].score is None
    session.refresh(invitation)
    assert invitation.status == InvitationStatus.answered


def test_a_second_submission_says_already_answered_and_stores_nothing(client, session):
    *_, token = _setup(session)
    answer(client, token, GOOD)
    again = client.post(f"/s/{token}", data={**GOOD, "q_recommend": "0",
                                             "_csrf_token": client.cookies.get("careloop_csrf")})
    assert again.status_code == 200 and "already been answered" in again.text
    assert client.get(f"/s/{token}").text.count("already been answered") == 1
    assert len(_responses(session)) == 1 and _low_events(session) == []


def test_the_reminder_link_opens_the_same_survey_and_is_dead_once_answered(client, session):
    clinic, _, person, invitation, token = _setup(session)
    second = reminder_token(session, invitation)
    session.commit()
    assert second != token and client.get(f"/s/{second}").status_code == 200
    answer(client, second, GOOD)
    assert "already been answered" in client.get(f"/s/{token}").text
    assert len(_responses(session)) == 1


def test_missing_required_answers_are_marked_and_nothing_is_stored(client, session):
    *_, token = _setup(session)
    response = answer(client, token, {"q_explained": "4", "q_comment": "<b>kept</b>"})
    assert response.status_code == 422
    assert 'id="q_listened-error"' in response.text and 'id="q_recommend-error"' in response.text
    assert 'id="q_explained-error"' not in response.text and 'value="4" checked' in response.text
    assert "&lt;b&gt;kept&lt;/b&gt;" in response.text
    assert _responses(session) == []


def test_an_answer_outside_the_scale_is_refused(client, session):
    *_, token = _setup(session)
    response = answer(client, token, {**GOOD, "q_recommend": "11", "q_explained": "5"})
    assert response.status_code == 422
    assert 'id="q_recommend-error"' in response.text and 'id="q_explained-error"' in response.text
    assert _responses(session) == []


def test_an_unknown_or_forged_token_gets_a_friendly_page(client, session):
    _setup(session)
    for token in ("A" * 22, "not-a-token", "x" * 200, "%3Cscript%3E"):
        page = client.get(f"/s/{token}")
        assert page.status_code == 404 and "This survey link is not valid." in page.text
    posted = client.post("/s/" + "B" * 22, data={**GOOD, "_csrf_token": client.cookies.get("careloop_csrf")})
    assert posted.status_code == 404 and _responses(session) == []


def test_an_expired_link_gets_a_friendly_page_and_stores_nothing(client, session):
    *_, invitation, token = _setup(session)
    csrf = client.get(f"/s/{token}") and client.cookies.get("careloop_csrf")
    expire_invitations(session=session, now=utcnow() + timedelta(days=15))
    session.commit()
    page = client.get(f"/s/{token}")
    assert page.status_code == 410 and "This survey has closed." in page.text
    posted = client.post(f"/s/{token}", data={**GOOD, "_csrf_token": csrf})
    assert posted.status_code == 410 and _responses(session) == []


def test_a_link_past_its_expiry_is_closed_even_before_the_sweep_runs(client, session):
    *_, invitation, token = _setup(session)
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    assert client.get(f"/s/{token}").status_code == 410


def test_a_post_without_the_csrf_token_is_refused(client, session):
    *_, token = _setup(session)
    client.get(f"/s/{token}")
    response = client.post(f"/s/{token}", data=GOOD)
    assert response.status_code == 403 and _responses(session) == []


def test_a_link_only_ever_opens_its_own_patients_survey(client, session):
    clinic = make_clinic(session)
    first, second = make_patient(session, clinic, name="甲"), make_patient(session, clinic, name="乙")
    inv_a, token_a = sent_invitation(session, clinic, first)
    inv_b, token_b = sent_invitation(session, clinic, second)
    session.commit()
    answer(client, token_a, GOOD)
    [stored] = _responses(session)
    assert (stored.patient_id, stored.invitation_id) == (first.id, inv_a.id)
    assert client.get(f"/s/{token_b}").status_code == 200  # the other patient's survey is still open
    assert "甲" not in client.get(f"/s/{token_b}").text


def test_a_detractor_score_records_one_low_score_event_with_the_items(client, session):
    clinic, doctor, person, invitation, token = _setup(session)
    answer(client, token, {**GOOD, "q_recommend": "3", "q_listened": "1", "q_comment": "医生态度差"})
    [event] = _low_events(session)
    payload = event.payload
    [stored] = _responses(session)
    assert stored.low_score is True
    assert {k: payload[k] for k in ("response_id", "patient_id", "clinic_id", "template_code", "question", "score",
                                    "comment", "doctor_id")} == {
        "response_id": stored.id, "patient_id": person.id, "clinic_id": clinic.id, "template_code": "post_callback",
        "question": "recommend", "score": 3, "comment": "医生态度差", "doctor_id": doctor.id}
    assert [(i["question"], i["reason"]) for i in payload["items"]] == [
        ("recommend", "nps_detractor"), ("listened", "bottom_box"), ("comment", "complaint_words")]


def test_complaint_words_alone_make_a_low_score(client, session):
    *_, token = _setup(session)
    answer(client, token, {**GOOD, "q_comment": "The receptionist was rude."})
    [event] = _low_events(session)
    assert event.payload["question"] == "comment" and event.payload["score"] is None


def test_good_answers_record_no_low_score_event(client, session):
    *_, token = _setup(session)
    answer(client, token, {**GOOD, "q_recommend": "7", "q_timely": "3", "q_comment": "没有不满意"})
    assert _low_events(session) == [] and _responses(session)[0].low_score is False
