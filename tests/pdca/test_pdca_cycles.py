"""Cycle stages: each move needs its stage's fields (reported field by field), leaves a history row and is a
compare-and-set; ramps start the next cycle from an adopted or adapted one."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core.errors import Conflict, ValidationFailed
from core.security import Principal, Role
from pdca.enums import CycleStage, SignalState
from pdca.models import Cycle, CycleStageChange
from pdca.service import advance_cycle, create_cycle, move_back, set_progress, start_next_cycle
from tests.factories import make_clinic, make_pdca_cycle, make_pdca_project, make_staff

TODAY = date(2026, 6, 15)


@pytest.fixture
def world(session):
    clinic = make_clinic(session)
    lead = make_staff(session, clinic, role="committee")
    project = make_pdca_project(session, clinic, lead)
    principal = Principal(kind="staff", user_id=lead.id, role=Role.committee, clinic_id=clinic.id,
                          name=lead.display_name, language="en")
    return project, lead, principal


def fields_of(caught) -> set[str]:
    return {e.field for e in caught.value.field_errors}


def move(session, cycle, principal, values=None, **kwargs):
    return advance_cycle(session=session, cycle=cycle, from_stage=cycle.stage, values=values or {},
                         principal=principal, today=TODAY, **kwargs)


def test_a_bare_idea_cannot_leave_plan_and_every_missing_field_is_named(session, world):
    project, _, principal = world
    cycle = create_cycle(session=session, project=project, values={"change_idea": "Text reminders"},
                         principal=principal, today=TODAY)
    cycle.measure_id = None
    with pytest.raises(ValidationFailed) as caught:
        move(session, cycle, principal)
    assert fields_of(caught) == {"prediction", "plan_who", "plan_what", "plan_when", "plan_where", "measure_id"}


def test_a_new_cycle_needs_a_change_idea(session, world):
    project, _, principal = world
    with pytest.raises(ValidationFailed) as caught:
        create_cycle(session=session, project=project, values={"prediction": "x"}, principal=principal, today=TODAY)
    assert fields_of(caught) == {"change_idea"}


def test_a_complete_plan_moves_to_do_and_leaves_a_history_row(session, world):
    project, lead, principal = world
    cycle = make_pdca_cycle(session, project, lead)
    assert move(session, cycle, principal) is CycleStage.do
    rows = session.scalars(select(CycleStageChange).where(CycleStageChange.cycle_id == cycle.id)
                           .order_by(CycleStageChange.id)).all()
    assert [(r.from_stage, r.to_stage) for r in rows] == [("", "plan"), ("plan", "do")]
    assert rows[-1].actor_id == lead.id


def test_do_needs_notes_and_the_day_the_change_began(session, world):
    project, lead, principal = world
    cycle = make_pdca_cycle(session, project, lead)
    move(session, cycle, principal)
    with pytest.raises(ValidationFailed) as caught:
        move(session, cycle, principal)
    assert fields_of(caught) == {"do_notes", "change_started_on"}
    with pytest.raises(ValidationFailed) as caught:
        move(session, cycle, principal, {"do_notes": "Went well", "change_started_on": "2026-07-01"})
    assert fields_of(caught) == {"change_started_on"}  # not in the future
    assert move(session, cycle, principal, {"do_notes": "Went well", "change_started_on": "2026-03-01"}) \
        is CycleStage.check


def test_check_needs_the_result_and_keeps_the_signal_state(session, world):
    project, lead, principal = world
    cycle = make_pdca_cycle(session, project, lead)
    move(session, cycle, principal)
    move(session, cycle, principal, {"do_notes": "ok", "change_started_on": "2026-03-01"})
    with pytest.raises(ValidationFailed) as caught:
        move(session, cycle, principal)
    assert fields_of(caught) == {"check_result"}
    move(session, cycle, principal, {"check_result": "As predicted"}, check_signal=SignalState.improvement)
    assert (cycle.stage, cycle.check_signal) == (CycleStage.act, "improvement")


def to_act(session, cycle, principal):
    move(session, cycle, principal, {"plan_when": "2026-02-01"})  # a ramp's next cycle needs its own date
    move(session, cycle, principal, {"do_notes": "ok", "change_started_on": "2026-03-01"})
    move(session, cycle, principal, {"check_result": "Better than predicted"})


def test_act_needs_a_decision_and_adapting_needs_a_reason(session, world):
    project, lead, principal = world
    cycle = make_pdca_cycle(session, project, lead)
    to_act(session, cycle, principal)
    with pytest.raises(ValidationFailed) as caught:
        move(session, cycle, principal)
    assert fields_of(caught) == {"act_decision"}
    with pytest.raises(ValidationFailed) as caught:
        move(session, cycle, principal, {"act_decision": "adapt"})
    assert fields_of(caught) == {"act_notes"}
    with pytest.raises(ValidationFailed) as caught:
        move(session, cycle, principal, {"act_decision": "maybe"})
    assert fields_of(caught) == {"act_decision"}
    assert move(session, cycle, principal, {"act_decision": "adopt"}) is CycleStage.done


def test_an_adopted_change_starts_the_next_cycle_of_its_ramp_prefilled(session, world):
    project, lead, principal = world
    cycle = make_pdca_cycle(session, project, lead)
    to_act(session, cycle, principal)
    move(session, cycle, principal, {"act_decision": "adopt"})
    child = start_next_cycle(session=session, cycle=cycle, project=project, principal=principal)
    assert (child.parent_id, child.ramp_id, cycle.ramp_id) == (cycle.id, cycle.id, cycle.id)
    assert (child.number, child.stage, child.change_idea) == (2, CycleStage.plan, cycle.change_idea)
    assert child.plan_who == cycle.plan_who and child.change_started_on is None
    assert start_next_cycle(session=session, cycle=cycle, project=project, principal=principal).id == child.id
    grandchild_parent = child
    to_act(session, grandchild_parent, principal)
    move(session, grandchild_parent, principal, {"act_decision": "adapt", "act_notes": "Try evenings"})
    third = start_next_cycle(session=session, cycle=grandchild_parent, project=project, principal=principal)
    assert (third.parent_id, third.ramp_id, third.number) == (child.id, cycle.id, 3)


def test_an_abandoned_change_starts_no_ramp(session, world):
    project, lead, principal = world
    cycle = make_pdca_cycle(session, project, lead)
    to_act(session, cycle, principal)
    move(session, cycle, principal, {"act_decision": "abandon", "act_notes": "Patients did not answer"})
    with pytest.raises(ValidationFailed):
        start_next_cycle(session=session, cycle=cycle, project=project, principal=principal)


def test_a_stale_board_cannot_move_a_cycle_twice(session, world):
    project, lead, principal = world
    cycle = make_pdca_cycle(session, project, lead)
    move(session, cycle, principal)
    with pytest.raises(Conflict):
        advance_cycle(session=session, cycle=cycle, from_stage="plan", values={}, principal=principal, today=TODAY)


def test_a_cycle_moves_back_one_stage_with_a_history_row(session, world):
    project, lead, principal = world
    cycle = make_pdca_cycle(session, project, lead)
    move(session, cycle, principal)
    assert move_back(session=session, cycle=cycle, from_stage="do", principal=principal) is CycleStage.plan
    assert session.scalar(select(CycleStageChange.to_stage).order_by(CycleStageChange.id.desc()).limit(1)) == "plan"


def test_a_closed_project_takes_no_new_cycles(session, world):
    project, _, principal = world
    set_progress(session=session, project=project, values={"progress_score": "3.5", "status": "completed"})
    with pytest.raises(ValidationFailed):
        create_cycle(session=session, project=project, values={"change_idea": "x"}, principal=principal,
                     today=TODAY)


@pytest.mark.parametrize("score", ["0", "5.5", "2.2", "", "abc"])
def test_the_progress_score_is_a_half_step_from_half_to_five(session, world, score):
    project, _, _ = world
    with pytest.raises(ValidationFailed):
        set_progress(session=session, project=project, values={"progress_score": score})


def test_numbers_follow_each_other_within_a_project(session, world):
    project, lead, _ = world
    first, second = make_pdca_cycle(session, project, lead), make_pdca_cycle(session, project, lead)
    assert (first.number, second.number) == (1, 2)
    assert session.scalar(select(Cycle.number).where(Cycle.id == second.id)) == 2
    assert first.plan_when == date(2026, 1, 5) and first.plan_when < TODAY - timedelta(days=1)
