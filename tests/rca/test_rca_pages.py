"""RCA pages: opening by hand, the overview's forms, scoping to the clinic, roles, auditing and history."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.db import utcnow
from core.models import AuditAction, AuditEntry
from rca import service
from rca.models import Cause, RcaHistory, RootCauseAnalysis, TeamMember
from tests.factories import make_clinic, make_patient, make_staff, make_token, post_form
from tests.rca.rca_builders import make_action, make_analysis, make_callback, signed_in, with_facilitator


def test_empty_list_tells_the_committee_how_to_start(client, session):
    signed_in(client, session)
    response = client.get("/rca")
    assert response.status_code == 200
    assert "No root-cause analyses yet" in response.text and 'href="/rca/new"' in response.text


def test_committee_opens_an_analysis_by_hand_and_is_told_what_next(client, session):
    clinic, user = signed_in(client, session)
    response = post_form(client, "/rca/new", {
        "title": "Missed follow-up calls", "problem_statement": "Three patients were not called back in May.",
        "severity": "major", "probability": "occasional"}, follow_redirects=False)
    assert response.status_code in (302, 303)
    analysis = session.scalars(select(RootCauseAnalysis)).one()
    assert response.headers["location"] == f"/rca/{analysis.id}?done=created"
    assert (analysis.clinic_id, analysis.sac_score, analysis.created_by) == (clinic.id, 2, user.id)
    page = client.get(response.headers["location"])
    assert "The analysis is open" in page.text and "Missed follow-up calls" in page.text
    assert "Missed follow-up calls" in client.get("/rca").text


def test_new_analysis_form_shows_each_problem_next_to_its_field(client, session):
    signed_in(client, session)
    response = post_form(client, "/rca/new", {"title": "", "problem_statement": "", "severity": "dreadful",
                                              "triggered_at": "not a time"})
    assert response.status_code == 422
    assert 'id="title-error"' in response.text and "Give the analysis a title." in response.text
    assert 'id="problem_statement-error"' in response.text
    assert 'id="severity-error"' in response.text and 'id="triggered_at-error"' in response.text
    assert session.scalars(select(RootCauseAnalysis)).all() == []


def test_analysis_of_another_clinic_is_not_found(client, session):
    other = make_clinic(session)
    stranger = make_staff(session, other, role="committee")
    theirs = make_analysis(session, other, stranger, title="外院分析")
    session.commit()
    signed_in(client, session)
    for path in (f"/rca/{theirs.id}", f"/rca/{theirs.id}/fishbone", f"/rca/{theirs.id}/fishbone.svg"):
        response = client.get(path)
        assert response.status_code == 404 and "外院分析" not in response.text
    response = post_form(client, f"/rca/{theirs.id}/causes", {"category": "people", "text": "x"})
    assert response.status_code == 404
    assert session.scalars(select(Cause)).all() == []
    assert "外院分析" not in client.get("/rca").text


def test_nurse_reads_an_analysis_but_cannot_change_it(client, session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair)
    session.commit()
    signed_in(client, session, role="nurse", clinic=clinic)
    page = client.get(f"/rca/{analysis.id}")
    assert page.status_code == 200 and analysis.title in page.text
    assert f'action="/rca/{analysis.id}/causes"' not in page.text
    assert post_form(client, f"/rca/{analysis.id}/causes", {"category": "people", "text": "x"}).status_code == 403
    assert post_form(client, f"/rca/{analysis.id}/status", {"transition": "start"}).status_code == 403
    assert client.get("/rca/new").status_code == 403
    assert session.scalars(select(Cause)).all() == []


def test_patient_cannot_open_rca_pages(client, session):
    from tests.feedback.feedback_builders import login_patient

    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair)
    make_patient(session, clinic, phone="+8613712345678")
    session.commit()
    login_patient(client, session, "+8613712345678")
    assert client.get("/rca").status_code == 403
    assert client.get(f"/rca/{analysis.id}").status_code == 403
    assert post_form(client, f"/rca/{analysis.id}/causes", {"category": "people", "text": "x"}).status_code == 403


def test_a_form_error_keeps_the_values_and_names_the_field(client, session):
    clinic, user = signed_in(client, session)
    analysis = make_analysis(session, clinic, user)
    session.commit()
    response = post_form(client, f"/rca/{analysis.id}/causes", {"category": "", "text": "打印机卡纸"})
    assert response.status_code == 422
    assert 'id="category-error"' in response.text and "打印机卡纸" in response.text


def test_every_change_leaves_a_history_row_with_who_made_it(client, session):
    clinic, user = signed_in(client, session)
    analysis = make_analysis(session, clinic, user)
    session.commit()
    post_form(client, f"/rca/{analysis.id}/team", {"staff_id": str(user.id), "role": "facilitator"})
    post_form(client, f"/rca/{analysis.id}/causes", {"category": "methods", "text": "One queue for all"})
    cause = session.scalars(select(Cause)).one()
    post_form(client, f"/rca/{analysis.id}/causes/{cause.id}/root", {"root": "1"})
    response = post_form(client, f"/rca/{analysis.id}/status", {"transition": "start"}, follow_redirects=False)
    assert response.headers["location"] == f"/rca/{analysis.id}?done=status#status"
    rows = session.scalars(select(RcaHistory).where(RcaHistory.analysis_id == analysis.id)
                           .order_by(RcaHistory.id)).all()
    assert [r.kind for r in rows] == ["created", "team_added", "cause_added", "root_selected", "status"]
    assert {r.actor_id for r in rows} == {user.id}
    page = client.get(f"/rca/{analysis.id}").text
    assert "Selected as a root cause" in page and "Analysis in progress" in page


def test_views_and_changes_of_an_analysis_about_a_patient_are_audited(client, session):
    clinic, user = signed_in(client, session)
    patient = make_patient(session, clinic, name="李建国", phone="+8613700001111")
    callback = make_callback(session, patient)
    session.commit()
    response = post_form(client, "/rca/new", {"callback_id": str(callback.id), "title": "Callback missed",
                                              "problem_statement": "Not called back the same day."},
                         follow_redirects=False)
    analysis_id = int(response.headers["location"].split("/")[2].split("?")[0])
    page = client.get(f"/rca/{analysis_id}")
    assert "李建国" in page.text and "+86137****1111" in page.text and "+8613700001111" not in page.text
    rows = session.scalars(select(AuditEntry).where(AuditEntry.patient_id == patient.id,
                                                    AuditEntry.object_type == "rca_analysis")).all()
    assert [r.action for r in rows] == [AuditAction.create, AuditAction.view]
    assert all(r.actor_id == user.id for r in rows)


def test_an_analysis_about_no_patient_writes_no_patient_audit_rows(client, session):
    clinic, user = signed_in(client, session)
    analysis = make_analysis(session, clinic, user)
    session.commit()
    client.get(f"/rca/{analysis.id}")
    assert session.scalars(select(AuditEntry).where(AuditEntry.object_type == "rca_analysis")).all() == []


def test_list_filters_by_overdue_and_paginates(client, session):
    clinic, user = signed_in(client, session)
    late = make_analysis(session, clinic, user, title="Late one", triggered_at=utcnow() - timedelta(days=5))
    for n in range(26):
        make_analysis(session, clinic, user, title=f"Recent {n:02d}")
    session.commit()
    overdue = client.get("/rca?overdue=true").text
    assert "Late one" in overdue and "Recent 00" not in overdue and "Not started in time" in overdue
    first, second = client.get("/rca").text, client.get("/rca?page=2").text
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert late.reference in first  # the overdue one comes first: soonest deadline
    assert "No analyses match these filters." in client.get("/rca?q=nothing-like-this").text
    assert "No analyses match these filters." in client.get("/rca?status=closed&sac=3").text
    assert "Late one" in client.get("/rca?status=open&q=late").text


def test_fishbone_page_draws_the_causes_and_escapes_them(client, session):
    clinic, user = signed_in(client, session)
    analysis = make_analysis(session, clinic, user)
    service.add_cause(session=session, analysis=analysis, principal=None, category="people",  # type: ignore[arg-type]
                      text="<script>alert(1)</script>")
    session.commit()
    page = client.get(f"/rca/{analysis.id}/fishbone").text
    assert "<svg" in page and "<script>alert(1)" not in page and "&lt;script&gt;" in page
    svg = client.get(f"/rca/{analysis.id}/fishbone.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "&lt;script&gt;" in svg.text


def test_categories_show_their_6m_character_in_chinese(client, session):
    clinic, user = signed_in(client, session)
    analysis = make_analysis(session, clinic, user)
    session.commit()
    page = client.get(f"/rca/{analysis.id}/fishbone?lang=zh-CN").text
    for char in "人机料法环测":
        assert f"{char}（" in page


def test_action_shows_its_pdca_project_once_linked(client, session):
    clinic, user = signed_in(client, session)
    analysis = make_analysis(session, clinic, user)
    action = make_action(session, analysis, user)
    session.commit()
    assert f'href="/pdca/projects/new?rca_action={action.id}"' in client.get(f"/rca/{analysis.id}").text
    service.link_project(session=session, action_id=action.id, project_id=77)
    session.commit()
    page = client.get(f"/rca/{analysis.id}").text
    assert 'href="/pdca/projects/77"' in page and "rca_action=" not in page


def test_api_reads_an_analysis_with_its_actions(client, session):
    clinic = make_clinic(session)
    user = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, user)
    make_action(session, analysis, user)
    token = make_token(session, user)
    session.commit()
    body = client.get(f"/api/v1/rca/{analysis.id}", headers={"Authorization": f"Bearer {token}"}).json()
    assert body["reference"] == analysis.reference and body["actions"][0]["strength"] == "stronger"
    other = make_analysis(session, make_clinic(session), user)
    session.commit()
    assert client.get(f"/api/v1/rca/{other.id}", headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_team_member_must_be_staff_of_the_clinic(client, session):
    clinic, user = signed_in(client, session)
    analysis = make_analysis(session, clinic, user)
    outsider = make_staff(session, make_clinic(session), role="doctor")
    session.commit()
    response = post_form(client, f"/rca/{analysis.id}/team", {"staff_id": str(outsider.id), "role": "member"})
    assert response.status_code == 422 and "Choose a staff member of this clinic." in response.text
    assert session.scalars(select(TeamMember)).all() == []
    with_facilitator(session, analysis, user)
    session.commit()
    response = post_form(client, f"/rca/{analysis.id}/team", {"staff_id": str(user.id), "role": "facilitator"})
    assert response.status_code == 422 and "already has a facilitator" in response.text
