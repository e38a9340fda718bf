"""Actions on the RCA² hierarchy (strength required), causal statements checked against the five rules, the
stages an analysis moves through, and the link to a PDCA project."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.errors import Conflict, NotFound, ValidationFailed
from rca import service
from rca.enums import ActionStrength, RcaStatus
from rca.models import RcaAction
from tests.factories import make_clinic, make_staff, post_form
from tests.rca.rca_builders import clinic_today, make_action, make_analysis, principal, signed_in, with_facilitator


def _fields(caught: pytest.ExceptionInfo[ValidationFailed]) -> set[str]:
    return {e.field for e in caught.value.field_errors}


def test_an_action_needs_its_strength_on_the_hierarchy(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair)
    with pytest.raises(ValidationFailed) as caught:
        make_action(session, analysis, chair, strength="")
    assert _fields(caught) == {"strength"}
    with pytest.raises(ValidationFailed) as caught:
        make_action(session, analysis, chair, strength="strongest")
    assert _fields(caught) == {"strength"}
    assert make_action(session, analysis, chair, strength="intermediate").strength == ActionStrength.intermediate


def test_an_action_needs_an_owner_a_future_due_date_and_a_measure(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    outsider = make_staff(session, make_clinic(session), role="committee")
    analysis = make_analysis(session, clinic, chair)
    with pytest.raises(ValidationFailed) as caught:
        make_action(session, analysis, chair, description="", owner_id=outsider.id, measure="",
                    due_date=(clinic_today() - timedelta(days=3)).isoformat())
    assert _fields(caught) == {"description", "owner_id", "measure", "due_date"}


def test_the_action_form_names_the_missing_strength_next_to_the_field(client, session):
    clinic, chair = signed_in(client, session)
    analysis = make_analysis(session, clinic, chair)
    session.commit()
    response = post_form(client, f"/rca/{analysis.id}/actions", {
        "description": "Separate queue", "owner_id": str(chair.id), "due_date": clinic_today().isoformat(),
        "measure": "Waiting complaints per 1,000 patients"})
    assert response.status_code == 422
    assert 'id="strength-error"' in response.text and "Choose how strong the action is" in response.text
    assert "Separate queue" in response.text  # what was typed stays in the form
    assert session.scalars(select(RcaAction)).all() == []
    ok = post_form(client, f"/rca/{analysis.id}/actions", {
        "description": "Separate queue", "strength": "stronger", "owner_id": str(chair.id),
        "due_date": clinic_today().isoformat(), "measure": "Waiting complaints per 1,000 patients"},
        follow_redirects=False)
    assert ok.headers["location"] == f"/rca/{analysis.id}?done=actions#actions"


def test_the_hierarchy_with_examples_is_shown_beside_the_action_form(client, session):
    clinic, chair = signed_in(client, session)
    analysis = make_analysis(session, clinic, chair)
    session.commit()
    page = client.get(f"/rca/{analysis.id}").text
    assert "Forcing functions" in page and "Checklists and cognitive aids" in page and "Training" in page


def test_a_sac_3_plan_of_only_weaker_actions_is_flagged(client, session):
    clinic, chair = signed_in(client, session)
    analysis = make_analysis(session, clinic, chair, severity="catastrophic", probability="remote")
    make_action(session, analysis, chair, strength="weaker", description="Retrain reception staff")
    session.commit()
    assert analysis.sac_score == 3
    assert "Every action of this SAC 3 analysis is a weaker one" in client.get(f"/rca/{analysis.id}").text
    make_action(session, analysis, chair, strength="stronger")
    session.commit()
    assert "Every action of this SAC 3 analysis is a weaker one" not in client.get(f"/rca/{analysis.id}").text


def test_marking_an_action_done_asks_what_the_measure_showed(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair)
    action = make_action(session, analysis, chair)
    with pytest.raises(ValidationFailed) as caught:
        service.update_action(session=session, analysis=analysis, clinic=clinic, principal=principal(chair),
                              action_id=action.id, values={"status": "done", "outcome_note": ""})
    assert _fields(caught) == {"outcome_note"}
    service.update_action(session=session, analysis=analysis, clinic=clinic, principal=principal(chair),
                          action_id=action.id, values={"status": "done", "outcome_note": "Complaints fell by half"})
    assert action.completed_at is not None


def test_a_causal_statement_is_checked_against_the_five_rules(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair)
    with pytest.raises(ValidationFailed) as caught:
        service.add_causal_statement(session=session, analysis=analysis, principal=principal(chair),
                                     cause_text="Poorly trained staff", direction="increased",
                                     effect="errors", event="complaints", rules=["1", "2"])
    assert _fields(caught) == {"cause_text", "rules"}
    with pytest.raises(ValidationFailed) as caught:
        service.add_causal_statement(session=session, analysis=analysis, principal=principal(chair),
                                     cause_text="护士工作粗心", direction="increased", effect="漏打电话",
                                     event="投诉", rules=["1", "2", "3", "4", "5"])
    assert _fields(caught) == {"cause_text"}
    statement = service.add_causal_statement(
        session=session, analysis=analysis, principal=principal(chair), cause_text="One shared queue",
        direction="increased", effect="stable patients waiting behind new consultations",
        event="waits over 90 minutes", rules=["1", "2", "3", "4", "5"])
    assert statement.rules_confirmed == [1, 2, 3, 4, 5]


def test_a_statement_reads_as_the_template_sentence(client, session):
    clinic, chair = signed_in(client, session)
    analysis = make_analysis(session, clinic, chair)
    session.commit()
    post_form(client, f"/rca/{analysis.id}/statements", {
        "cause_text": "One shared queue", "direction": "increased", "effect": "stable patients waiting",
        "event": "waits over 90 minutes", "rules": ["1", "2", "3", "4", "5"]})
    assert ("One shared queue increased the likelihood of stable patients waiting, which led to waits over "
            "90 minutes.") in client.get(f"/rca/{analysis.id}").text


def test_completing_needs_a_root_cause_and_an_action(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair, severity="major", probability="frequent")
    with_facilitator(session, analysis, chair)
    service.change_status(session=session, analysis=analysis, principal=principal(chair), transition="start")
    with pytest.raises(ValidationFailed) as caught:
        service.change_status(session=session, analysis=analysis, principal=principal(chair), transition="complete")
    assert _fields(caught) == {"causes", "actions"}
    cause = service.add_cause(session=session, analysis=analysis, principal=principal(chair), category="methods",
                              text="One shared queue", is_root=True)
    make_action(session, analysis, chair, cause_id=cause.id)
    service.change_status(session=session, analysis=analysis, principal=principal(chair), transition="complete")
    assert analysis.status == RcaStatus.completed and analysis.completed_at is not None
    with pytest.raises(Conflict):
        service.change_status(session=session, analysis=analysis, principal=principal(chair), transition="start")


def test_a_closed_analysis_cannot_be_changed_until_reopened(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair)
    service.change_status(session=session, analysis=analysis, principal=principal(chair), transition="exclude",
                          note="Deliberate unsafe act: sent to HR.")
    with pytest.raises(Conflict):
        service.add_cause(session=session, analysis=analysis, principal=principal(chair), category="people",
                          text="x")
    service.change_status(session=session, analysis=analysis, principal=principal(chair), transition="reopen")
    assert service.add_cause(session=session, analysis=analysis, principal=principal(chair), category="people",
                             text="x").id


def test_link_project_keeps_one_project_per_action(session):
    clinic = make_clinic(session)
    chair = make_staff(session, clinic, role="committee")
    analysis = make_analysis(session, clinic, chair)
    action = make_action(session, analysis, chair)
    assert service.link_project(session=session, action_id=action.id, project_id=5).pdca_project_id == 5
    assert service.link_project(session=session, action_id=action.id, project_id=5).pdca_project_id == 5
    with pytest.raises(Conflict):
        service.link_project(session=session, action_id=action.id, project_id=6)
    with pytest.raises(NotFound):
        service.link_project(session=session, action_id=action.id, project_id=5, clinic_id=clinic.id + 1000)
    summary = service.action_summary(session=session, clinic_id=clinic.id, action_id=action.id)
    assert (summary.pdca_project_id, summary.analysis_title) == (5, analysis.title)
    with pytest.raises(NotFound):
        service.action_summary(session=session, clinic_id=clinic.id + 1000, action_id=action.id)
