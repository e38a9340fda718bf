"""PDCA pages: projects with SMART aims, the board (columns, advancing with plain forms), the Check page's
chart, roles and clinic scoping, and the journey from an RCA action to a card moved across the board."""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.db import utcnow
from feedback.models import FeedbackItem, RcaSuggestion
from followup.dates import Granularity, months_before, period_start, periods_between
from pdca.models import Cycle, ImprovementProject, ManualValue
from tests.factories import (
    login_staff,
    make_clinic,
    make_patient,
    make_pdca_cycle,
    make_pdca_project,
    make_staff,
    post_form,
)

TZ = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return utcnow().astimezone(TZ).date()


def completed_months(n: int):
    current = period_start(today(), Granularity.month)
    return periods_between(months_before(current, n), current - timedelta(days=1), Granularity.month)


@pytest.fixture
def team(session):
    clinic = make_clinic(session)
    committee = make_staff(session, clinic, role="committee")
    doctor = make_staff(session, clinic, role="doctor")
    nurse = make_staff(session, clinic, role="nurse")
    session.commit()
    return clinic, committee, doctor, nurse


def column_of(html: str, stage: str) -> str:
    match = re.search(rf'<section class="board-column" aria-labelledby="col-{stage}"[^>]*>(.*?)</section>', html, re.S)
    assert match, f"no {stage} column"
    return match.group(1)


def aim_form(**overrides) -> dict:
    values = {"title": "Answer more calls", "population": "patients with diabetes", "source": "manual",
              "name": "Calls answered", "chart": "p", "direction": "increase", "frequency": "month",
              "numerator": "calls answered", "denominator": "calls made", "baseline": "40", "target": "60",
              "deadline": (today() + timedelta(days=90)).isoformat()}
    values.update(overrides)
    return values


def test_the_committee_creates_a_project_with_a_smart_aim(client, session, team):
    _, committee, _, _ = team
    login_staff(client, committee.username)
    assert client.get("/pdca/projects/new").status_code == 200
    response = post_form(client, "/pdca/projects/new", aim_form(), follow_redirects=False)
    assert response.status_code in (302, 303), response.text
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "increase Calls answered for patients with diabetes from 40% to 60%" in page.text
    project = session.scalar(select(ImprovementProject))
    assert project.aim_measure_id is not None and project.progress_score == 1.0


def test_each_part_of_the_aim_is_checked_and_reported_on_its_field(client, team):
    _, committee, _, _ = team
    login_staff(client, committee.username)
    response = post_form(client, "/pdca/projects/new", aim_form(
        population="", target="30", deadline=(today() - timedelta(days=1)).isoformat(), baseline="140"))
    assert response.status_code == 422
    for field in ("population", "baseline", "deadline"):
        assert f'id="{field}-error"' in response.text, field
    response = post_form(client, "/pdca/projects/new", aim_form(target="30"))
    assert 'id="target-error"' in response.text and "above the baseline" in response.text


def test_the_board_shows_each_cycle_in_its_column_and_a_button_moves_it(client, session, team):
    clinic, committee, _, _ = team
    project = make_pdca_project(session, clinic, committee)
    cycle = make_pdca_cycle(session, project, committee)
    session.commit()
    login_staff(client, committee.username)
    board = client.get("/pdca")
    assert board.status_code == 200
    assert f"/pdca/cycles/{cycle.id}" in column_of(board.text, "plan")
    assert "/pdca/cycles/" not in column_of(board.text, "do")
    moved = post_form(client, f"/pdca/cycles/{cycle.id}/advance", {"from_stage": "plan", "next": "/pdca"},
                      follow_redirects=False)
    assert moved.status_code in (302, 303) and moved.headers["location"].startswith("/pdca?")
    board = client.get("/pdca")
    assert f"/pdca/cycles/{cycle.id}" in column_of(board.text, "do")
    assert "/pdca/cycles/" not in column_of(board.text, "plan")
    back = post_form(client, f"/pdca/cycles/{cycle.id}/back", {"from_stage": "do", "next": "/pdca"},
                     follow_redirects=False)
    assert back.status_code in (302, 303)
    assert f"/pdca/cycles/{cycle.id}" in column_of(client.get("/pdca").text, "plan")


def test_the_board_filters_by_project_and_owner(client, session, team):
    clinic, committee, doctor, _ = team
    first, second = make_pdca_project(session, clinic, committee), make_pdca_project(session, clinic, committee)
    mine = make_pdca_cycle(session, first, committee, change_idea="Morning calls")
    theirs = make_pdca_cycle(session, second, committee, change_idea="Evening calls", owner_id=str(doctor.id))
    session.commit()
    login_staff(client, committee.username)
    by_project = client.get(f"/pdca?project={first.id}").text
    assert f"/pdca/cycles/{mine.id}" in by_project and f"/pdca/cycles/{theirs.id}" not in by_project
    by_owner = client.get(f"/pdca?owner={doctor.id}").text
    assert f"/pdca/cycles/{theirs.id}" in by_owner and f"/pdca/cycles/{mine.id}" not in by_owner
    assert client.get(f"/pdca?clinic={clinic.id}").status_code == 200


def test_moving_on_without_the_stage_fields_shows_the_cycle_with_each_field_marked(client, session, team):
    clinic, committee, _, _ = team
    project = make_pdca_project(session, clinic, committee)
    cycle = make_pdca_cycle(session, project, committee, prediction="", plan_where="")
    session.commit()
    login_staff(client, committee.username)
    response = post_form(client, f"/pdca/cycles/{cycle.id}/advance", {"from_stage": "plan", "next": "/pdca"})
    assert response.status_code == 422
    assert 'id="prediction-error"' in response.text and 'id="plan_where-error"' in response.text
    session.commit()  # end the read snapshot: the app wrote in its own transaction
    session.expire_all()
    assert session.get(Cycle, cycle.id).stage == "plan"


def manual_series(session, project, counts: list[int], size: int = 100) -> list:
    months = completed_months(len(counts))
    for month, count in zip(months, counts, strict=True):
        session.add(ManualValue(measure_id=project.aim_measure_id, period_start=month.start, value=count,
                                denominator=size))
    return months


def test_the_check_page_shows_the_chart_with_the_change_as_a_new_phase_and_its_signal(client, session, team):
    clinic, committee, doctor, _ = team
    project = make_pdca_project(session, clinic, committee)
    months = manual_series(session, project, [40, 42, 38, 41, 39, 43, 40, 37, 42, 41, 39, 40,
                                              60, 62, 61, 63, 60, 64, 62, 61])
    cycle = make_pdca_cycle(session, project, committee)
    cycle.stage, cycle.do_notes, cycle.change_started_on = "check", "Done", months[12].start
    session.commit()
    login_staff(client, doctor.username)  # doctors read the Check page too
    page = client.get(f"/pdca/cycles/{cycle.id}")
    assert page.status_code == 200
    assert "<svg" in page.text and "Cycle 1" in page.text and "Before" in page.text
    assert "Signal of improvement" in page.text
    assert 'formaction="/pdca/cycles' not in page.text  # read only


def test_leaving_check_keeps_the_signal_state_on_the_card(client, session, team):
    clinic, committee, _, _ = team
    project = make_pdca_project(session, clinic, committee)
    months = manual_series(session, project, [40, 42, 38, 41, 39, 43, 40, 37, 42, 41, 39, 40,
                                              41, 39, 40, 42])
    cycle = make_pdca_cycle(session, project, committee)
    cycle.stage, cycle.do_notes, cycle.change_started_on = "check", "Done", months[12].start
    session.commit()
    login_staff(client, committee.username)
    moved = post_form(client, f"/pdca/cycles/{cycle.id}/advance",
                      {"from_stage": "check", "check_result": "No change, unlike our prediction"},
                      follow_redirects=False)
    assert moved.status_code in (302, 303), moved.text
    session.commit()  # end the read snapshot: the app wrote in its own transaction
    session.expire_all()
    assert session.get(Cycle, cycle.id).check_signal == "no_signal"
    assert "No signal yet" in column_of(client.get("/pdca").text, "act")


def test_adopting_with_start_next_opens_the_ramp_s_next_cycle(client, session, team):
    clinic, committee, _, _ = team
    project = make_pdca_project(session, clinic, committee)
    cycle = make_pdca_cycle(session, project, committee)
    cycle.stage = "act"
    session.commit()
    login_staff(client, committee.username)
    response = post_form(client, f"/pdca/cycles/{cycle.id}/advance",
                         {"from_stage": "act", "act_decision": "adopt", "start_next": "on"}, follow_redirects=False)
    session.commit()
    child = session.scalar(select(Cycle).where(Cycle.parent_id == cycle.id))
    assert child is not None and response.headers["location"].startswith(f"/pdca/cycles/{child.id}")
    page = client.get(f"/pdca/cycles/{child.id}").text
    assert "Ramp" in page and f"/pdca/cycles/{cycle.id}" in page


def test_doctors_read_the_board_but_cannot_move_cards_and_nurses_cannot_open_it(client, session, team):
    clinic, committee, doctor, nurse = team
    project = make_pdca_project(session, clinic, committee)
    cycle = make_pdca_cycle(session, project, committee)
    session.commit()
    login_staff(client, doctor.username)
    board = client.get("/pdca")
    assert board.status_code == 200 and f"/pdca/cycles/{cycle.id}" in board.text
    assert "/advance" not in board.text
    assert post_form(client, f"/pdca/cycles/{cycle.id}/advance", {"from_stage": "plan"}).status_code == 403
    assert client.get("/pdca/projects/new").status_code == 403
    client.cookies.clear()
    login_staff(client, nurse.username)
    assert client.get("/pdca").status_code == 403


def test_another_clinic_s_projects_and_cycles_are_not_found(client, session, team):
    _, committee, _, _ = team
    other = make_clinic(session)
    stranger = make_staff(session, other, role="committee")
    project = make_pdca_project(session, other, stranger)
    cycle = make_pdca_cycle(session, project, stranger)
    session.commit()
    login_staff(client, committee.username)
    for path in (f"/pdca/projects/{project.id}", f"/pdca/cycles/{cycle.id}", f"/pdca/measures/{project.aim_measure_id}",
                 f"/pdca?project={project.id}", f"/pdca?clinic={other.id}"):
        assert client.get(path).status_code == 404, path
    assert post_form(client, f"/pdca/cycles/{cycle.id}/advance", {"from_stage": "plan"}).status_code == 404
    assert f"/pdca/cycles/{cycle.id}" not in client.get("/pdca").text


def test_manual_values_are_entered_on_the_measure_page(client, session, team):
    clinic, committee, _, _ = team
    project = make_pdca_project(session, clinic, committee)
    session.commit()
    login_staff(client, committee.username)
    month = completed_months(1)[0].start.isoformat()[:7]
    saved = post_form(client, f"/pdca/measures/{project.aim_measure_id}/values",
                      {"period": month, "value": "12", "denominator": "30"}, follow_redirects=False)
    assert saved.status_code in (302, 303)
    page = client.get(f"/pdca/measures/{project.aim_measure_id}")
    assert month in page.text and "<svg" in page.text
    bad = post_form(client, f"/pdca/measures/{project.aim_measure_id}/values",
                    {"period": month, "value": "50", "denominator": "30"})
    assert bad.status_code == 422 and 'id="value-error"' in bad.text


def test_a_process_measure_is_added_from_the_catalogue(client, session, team):
    clinic, committee, _, _ = team
    project = make_pdca_project(session, clinic, committee)
    session.commit()
    login_staff(client, committee.username)
    assert "How each platform measure is defined" in client.get(f"/pdca/projects/{project.id}/measures/new").text
    added = post_form(client, f"/pdca/projects/{project.id}/measures/new", {
        "role": "process", "source": "catalogue", "metric_code": "reading_adherence", "frequency": "week"},
        follow_redirects=False)
    assert added.status_code in (302, 303), added.text
    assert "Reading adherence" in client.get(f"/pdca/projects/{project.id}").text


def at(day: date) -> datetime:
    return datetime.combine(day, time(10), tzinfo=TZ).astimezone(UTC)


def test_from_the_waiting_time_rca_to_a_card_moved_across_the_board(client, session, team):
    """The issue's 'done when': RCA action → project on waiting complaints per 1,000 → Check shows the u chart
    with the change as a new phase and a signal → the card reaches Done."""
    from core.security import Principal, Role
    from rca.enums import RcaSource
    from rca.models import RcaAction
    from rca.service import add_action, create_analysis

    clinic, committee, _, _ = team
    for _ in range(20):
        patient = make_patient(session, clinic)
        patient.created_at = at(today() - timedelta(days=800))
    months = completed_months(20)
    n = 0
    for i, month in enumerate(months):
        count = ([3, 5, 4, 4, 5, 3, 4, 4, 3, 5, 4, 4] + [1] * 8)[i]
        for j in range(count):
            n += 1
            received = at(month.start + timedelta(days=j + 1))
            session.add(FeedbackItem(reference=f"W{n}", clinic_id=clinic.id, kind="complaint", category="waiting_time",
                                     channel="phone", submitted_by_kind="staff", description="waited too long",
                                     received_at=received, ack_due_at=received + timedelta(days=3),
                                     resolve_due_at=received + timedelta(days=5)))
    suggestion = RcaSuggestion(clinic_id=clinic.id, category="waiting_time", cluster_key="W1", item_ids=[1, 2, 3],
                               threshold=3, window_days=30, first_received_at=at(months[-1].start),
                               last_received_at=at(months[-1].start))
    session.add(suggestion)
    session.flush()
    principal = Principal(kind="staff", user_id=committee.id, role=Role.committee, clinic_id=clinic.id,
                          name=committee.display_name, language="en")
    analysis = create_analysis(session=session, clinic=clinic, principal=principal, title="Waiting times",
                               problem_statement="Patients wait over an hour at the morning clinic",
                               source=RcaSource.suggestion, suggestion_id=suggestion.id)
    action = add_action(session=session, analysis=analysis, clinic=clinic, principal=principal,
                        description="Book morning appointments in 15-minute slots", strength="stronger",
                        owner_id=committee.id, due_date=(today() + timedelta(days=60)).isoformat(),
                        measure="Waiting complaints per 1,000 patients")
    session.commit()

    login_staff(client, committee.username)
    form = client.get(f"/pdca/projects/new?rca_action={action.id}")
    assert form.status_code == 200
    assert 'value="complaint_rate" selected' in form.text and 'value="waiting_time" selected' in form.text
    assert "Book morning appointments" in form.text
    session.commit()
    created = post_form(client, "/pdca/projects/new", {
        "rca_action_id": str(action.id), "title": "Shorter waits", "population": "patients of the morning clinic",
        "source": "catalogue", "metric_code": "complaint_rate", "option_category": "waiting_time",
        "frequency": "month", "baseline": "200", "target": "50",
        "deadline": (today() + timedelta(days=120)).isoformat()}, follow_redirects=False)
    assert created.status_code in (302, 303), created.text
    project = session.scalar(select(ImprovementProject).where(ImprovementProject.rca_action_id == action.id))
    session.commit()  # end the read snapshot: the app wrote in its own transaction
    session.expire_all()
    assert session.get(RcaAction, action.id).pdca_project_id == project.id

    cycle_created = post_form(client, f"/pdca/projects/{project.id}/cycles/new", {
        "change_idea": "15-minute slots", "prediction": "Fewer waiting complaints", "plan_who": "Front desk",
        "plan_what": "Book in slots", "plan_when": months[12].start.isoformat(), "plan_where": "Morning clinic",
        "measure_id": str(project.aim_measure_id), "owner_id": str(committee.id)}, follow_redirects=False)
    session.commit()
    cycle = session.scalar(select(Cycle).where(Cycle.project_id == project.id))
    steps = [{"from_stage": "plan"},
             {"from_stage": "do", "do_notes": "Slots used every morning",
              "change_started_on": months[12].start.isoformat()}]
    assert cycle_created.status_code in (302, 303)
    for values in steps:
        assert post_form(client, f"/pdca/cycles/{cycle.id}/advance", {**values, "next": "/pdca"},
                         follow_redirects=False).status_code in (302, 303)
    check = client.get(f"/pdca/cycles/{cycle.id}")
    assert "<svg" in check.text and "Cycle 1" in check.text and "Signal of improvement" in check.text
    assert "per 1,000 patients" in check.text
    assert f"/pdca/cycles/{cycle.id}" in column_of(client.get("/pdca").text, "check")
    for values in ({"from_stage": "check", "check_result": "Complaints fell from 200 to 50 per 1,000"},
                   {"from_stage": "act", "act_decision": "adopt"}):
        assert post_form(client, f"/pdca/cycles/{cycle.id}/advance", {**values, "next": "/pdca"},
                         follow_redirects=False).status_code in (302, 303)
    done = column_of(client.get("/pdca").text, "done")
    assert f"/pdca/cycles/{cycle.id}" in done and "Signal of improvement" in done
