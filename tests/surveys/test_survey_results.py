"""Results: SQL aggregates match the pure scoring, the page per doctor and month, the CSV export, the API,
template versions, and who may see what."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.models import AuditAction, AuditEntry
from surveys.models import SurveyResponse, SurveyTemplate
from surveys.responses import submit_response
from surveys.results import ResultsQuery, compute_results
from surveys.scoring import nps
from tests.factories import login_staff, make_clinic, make_patient, make_staff, make_token, post_form
from tests.surveys.survey_builders import GOOD, answer, sent_invitation

NPS_VECTOR = [10, 9, 8, 7, 6, 0, 10, 3, 9, 5]


def _answered(session, clinic, doctor, scores, **extra):
    for score in scores:
        person = make_patient(session, clinic)
        invitation, _ = sent_invitation(session, clinic, person, doctor_id=doctor.id if doctor else None)
        submit_response(session=session, invitation=invitation, form={**GOOD, "q_recommend": str(score), **extra})


def _today():
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the test clinics' local day


def _query(clinic, **kw):
    today = _today()
    return ResultsQuery(clinic_id=clinic.id, template_code="post_callback", date_from=date(today.year, 1, 1),
                        date_to=today, **kw)


@pytest.fixture
def clinic_with_answers(session):
    clinic = make_clinic(session)
    wang = make_staff(session, clinic, role="doctor", username="dr-wang", display_name="王医生")
    li = make_staff(session, clinic, role="doctor", username="dr-li", display_name="李医生")
    make_staff(session, clinic, role="committee", username="qc-chen")
    _answered(session, clinic, wang, NPS_VECTOR)
    _answered(session, clinic, li, [10, 10, 9, 8, 6], q_explained="1")
    session.commit()
    return clinic, wang, li


def test_sql_aggregates_give_the_reference_nps_per_doctor(session, clinic_with_answers):
    clinic, wang, li = clinic_with_answers
    results = compute_results(session=session, query=_query(clinic))
    by_doctor = {g.doctor_id: g for g in results.doctors}
    assert by_doctor[wang.id].nps.score == nps(NPS_VECTOR).score == 0
    assert by_doctor[li.id].nps.score == pytest.approx(40)
    assert results.nps.score == pytest.approx(nps(NPS_VECTOR + [10, 10, 9, 8, 6]).score)
    assert (results.responses, results.invitations, results.rate) == (15, 15, 100)


def test_question_and_dimension_scores_follow_the_box_rules(session, clinic_with_answers):
    clinic, wang, li = clinic_with_answers
    results = compute_results(session=session, query=_query(clinic))
    explained = next(r for r in results.questions if r.question.key == "explained")
    assert (explained.box.n, explained.box.top_pct, explained.box.bottom_pct) == (15, 10 * 100 / 15, 5 * 100 / 15)
    communication = dict(results.dimensions)["communication"]
    listened = next(r for r in results.questions if r.question.key == "listened")
    assert communication.top_pct == pytest.approx((explained.box.top_pct + listened.box.top_pct) / 2)
    assert results.periods[-1].key == _today().strftime("%Y-%m") and results.periods[-1].responses == 15


def test_a_doctor_sees_only_their_own_results(session, clinic_with_answers):
    clinic, wang, li = clinic_with_answers
    results = compute_results(session=session, query=_query(clinic, doctor_id=li.id))
    assert results.responses == 5 and results.nps.score == pytest.approx(40)


def test_the_results_page_shows_nps_and_top_box_per_doctor_for_the_month(client, session, clinic_with_answers):
    login_staff(client, "qc-chen")
    page = client.get("/surveys")
    assert page.status_code == 200
    assert "王医生" in page.text and "李医生" in page.text and "+40" in page.text
    assert "<svg" in page.text and 'role="img"' in page.text
    audit = session.scalars(select(AuditEntry).where(AuditEntry.object_type == "survey_results")).all()
    assert len(audit) == 1


def test_a_doctor_opening_results_sees_no_other_doctors(client, session, clinic_with_answers):
    login_staff(client, "dr-li")
    page = client.get("/surveys")
    assert page.status_code == 200 and "王医生" not in page.text and "+40" in page.text


def test_comments_are_shown_escaped(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="committee", username="qc-xu")
    person = make_patient(session, clinic)
    invitation, token = sent_invitation(session, clinic, person)
    session.commit()
    answer(client, token, {**GOOD, "q_comment": "<script>alert('x')</script> 等太久"})
    login_staff(client, "qc-xu")
    page = client.get("/surveys")
    assert "&lt;script&gt;alert(" in page.text and "<script>alert(" not in page.text


def test_staff_of_another_clinic_see_none_of_the_answers(client, session, clinic_with_answers):
    other = make_clinic(session)
    make_staff(session, other, role="committee", username="qc-other")
    reader = make_staff(session, other, role="admin", username="admin-other")
    token = make_token(session, reader)
    session.commit()
    login_staff(client, "qc-other")
    page = client.get("/surveys")
    assert page.status_code == 200 and "王医生" not in page.text and "No surveys in this period yet." in page.text
    export = client.get("/surveys/export.csv")
    assert export.text.strip().count("\n") == 0  # the header row only
    api = client.get("/api/v1/surveys/results", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.json()["responses"] == 0


def test_a_nurse_cannot_read_results(client, session, clinic_with_answers):
    clinic, *_ = clinic_with_answers
    make_staff(session, clinic, role="nurse", username="nurse-he")
    session.commit()
    login_staff(client, "nurse-he")
    assert client.get("/surveys", follow_redirects=False).status_code in (302, 303)
    assert client.get("/surveys/export.csv").status_code == 403


def test_the_csv_export_has_answers_no_phone_numbers_and_is_audited(client, session, clinic_with_answers):
    clinic, *_ = clinic_with_answers
    login_staff(client, "qc-chen")
    response = client.get("/surveys/export.csv", params={"template": "post_callback"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 15 and sorted(int(r["recommend"]) for r in rows[:10]) == sorted(NPS_VECTOR)
    assert "+86" not in response.text and "phone" not in rows[0]
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.export)).all()
    assert entry.object_type == "survey_responses" and "rows=15" in entry.detail


def test_the_results_api_reports_scores_and_refuses_bad_dates(client, session, clinic_with_answers):
    clinic, wang, li = clinic_with_answers
    token = make_token(session, li)
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/surveys/results", params={"template": "post_callback"}, headers=headers).json()
    assert body["responses"] == 5 and body["nps"]["nps"] == pytest.approx(40)
    assert [d["name"] for d in body["doctors"]] == ["李医生"]
    bad = client.get("/api/v1/surveys/results", params={"from": "2026-13-01"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "from"


def test_editing_a_template_makes_a_new_version_and_old_answers_keep_theirs(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="committee", username="qc-gao")
    person = make_patient(session, clinic, language="en")  # the assertions read the English texts
    old_invitation, token = sent_invitation(session, clinic, person)
    session.commit()
    login_staff(client, "qc-gao")
    form = client.get("/surveys/templates/post_callback/edit")
    assert form.status_code == 200
    fields = {"title_zh": "随访电话满意度调查", "title_en": "Your follow-up call", "intro_zh": "", "intro_en": "",
              "note": "clearer wording"}
    for i, key in enumerate(["explained", "listened", "timely", "recommend", "comment"]):
        fields.update({f"key_{i}": key, f"zh_{i}": f"问题{i}", f"en_{i}": f"Question {i}", f"order_{i}": str(i + 1),
                       f"dimension_{i}": "overall", f"required_{i}": "on" if key != "comment" else ""})
    fields["remove_2"] = "on"
    saved = post_form(client, "/surveys/templates/post_callback/edit", fields, follow_redirects=True)
    assert saved.status_code == 200 and "Version 2 saved" in saved.text
    versions = session.scalars(select(SurveyTemplate).where(SurveyTemplate.clinic_id == clinic.id,
                                                            SurveyTemplate.code == "post_callback")
                               .order_by(SurveyTemplate.version)).all()
    assert [v.version for v in versions] == [1, 2] and len(versions[1].questions) == 4
    # The patient answers the version they were sent, the removed question included.
    sent = answer(client, token, GOOD)
    assert sent.status_code == 200 and "Thank you for your answers." in sent.text
    session.rollback()  # end this session's read transaction so it sees the request's commit
    [stored] = session.scalars(select(SurveyResponse)).all()
    assert stored.template_id == versions[0].id == old_invitation.template_id


def test_the_template_editor_refuses_a_question_without_text(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="admin", username="admin-ma")
    session.commit()
    login_staff(client, "admin-ma")
    client.get("/surveys/templates")
    response = post_form(client, "/surveys/templates/post_callback/edit", {
        "title_zh": "标题", "title_en": "Title", "key_0": "explained", "zh_0": "", "en_0": "Q",
        "dimension_0": "communication", "key_new": "Bad Key", "type_new": "likert", "scale_new": "frequency4",
        "zh_new": "新问题", "en_new": "New", "dimension_new": "access"})
    assert response.status_code == 422 and 'id="zh_0-error"' in response.text and 'id="key_new-error"' in response.text
    assert len(session.scalars(select(SurveyTemplate).where(SurveyTemplate.clinic_id == clinic.id)).all()) == 2


def test_the_preview_shows_what_patients_see_without_a_send_button(client, session):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="committee", username="qc-preview")
    session.commit()
    login_staff(client, "qc-preview")
    page = client.get("/surveys/templates/service/preview", params={"language": "en"})
    assert page.status_code == 200 and "Overall, how satisfied are you" in page.text
    assert "Send my answers" not in page.text and "Does not apply" in page.text


def test_every_clinic_starts_with_two_bilingual_default_surveys_once(session):
    from surveys.service import current_templates, ensure_default_templates

    clinic = make_clinic(session)
    ensure_default_templates(session=session, clinic_id=clinic.id)
    templates = current_templates(session=session, clinic_id=clinic.id)
    assert sorted(t.code for t in templates) == ["post_callback", "service"]
    post_callback = next(t for t in templates if t.code == "post_callback")
    questions = post_callback.question_defs()
    assert 3 <= len(questions) <= 5 and {q.type.value for q in questions} >= {"nps", "text", "likert"}
    assert all(q.zh and q.en for q in questions) and post_callback.title_zh and post_callback.title_en
    assert len(session.scalars(select(SurveyTemplate).where(SurveyTemplate.clinic_id == clinic.id)).all()) == 2
