"""PDSA cycles: create, edit, move between stages (each move needs its fields and leaves a history row) and
ramps (the next cycle started from an adopted or adapted one, pre-filled)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session

from core.db import utcnow
from core.errors import FieldErrors, ValidationFailed
from core.i18n import N_
from core.security import Principal
from pdca.enums import ActDecision, CycleStage, ProjectStatus, SignalState, next_stage, previous_stage
from pdca.models import Cycle, CycleStageChange, ImprovementProject, ProjectMeasure
from pdca.service import parse
from pdca.service.errors import CycleMovedOn, CycleNotFound
from pdca.service.projects import parse_owner

SHORT = 200
IDEA_MAX = 300

# What must be filled in before a cycle may leave each stage (field → message).
REQUIRED_TO_LEAVE: dict[CycleStage, dict[str, str]] = {
    CycleStage.plan: {
        "change_idea": N_("Describe the change you will test."),
        "prediction": N_("Write down what you predict will happen."),
        "plan_who": N_("Say who will carry out the test."),
        "plan_what": N_("Say what will be done."),
        "plan_when": N_("Say when the test will happen."),
        "plan_where": N_("Say where the test will happen."),
        "measure_id": N_("Choose the measure that will show whether the change worked."),
    },
    CycleStage.do: {
        "do_notes": N_("Record what happened during the test, including problems and surprises."),
        "change_started_on": N_("Enter the day the change began; the chart starts a new phase there."),
    },
    CycleStage.check: {
        "check_result": N_("Compare the result with your prediction."),
    },
    CycleStage.act: {
        "act_decision": N_("Decide whether to adopt, adapt or abandon the change."),
    },
}
# Fields that may be edited at each stage (later stages keep the earlier fields editable).
STAGE_FIELDS: dict[CycleStage, tuple[str, ...]] = {
    CycleStage.plan: ("change_idea", "objective", "prediction", "plan_who", "plan_what", "plan_when", "plan_where",
                      "measure_id", "owner_id"),
    CycleStage.do: ("do_notes", "change_started_on"),
    CycleStage.check: ("check_result",),
    CycleStage.act: ("act_decision", "act_notes"),
}
_TEXT_LIMITS = {"change_idea": IDEA_MAX, "plan_who": SHORT, "plan_where": SHORT}


def editable_fields(stage: CycleStage) -> tuple[str, ...]:
    order = list(CycleStage)
    upto = order.index(stage) if stage != CycleStage.done else order.index(CycleStage.act)
    return tuple(f for s in order[: upto + 1] for f in STAGE_FIELDS.get(s, ()))


def get_cycle(*, session: Session, clinic_id: int, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None or cycle.clinic_id != clinic_id:
        raise CycleNotFound()
    return cycle


def project_cycles(*, session: Session, project_id: int) -> list[Cycle]:
    return list(session.scalars(select(Cycle).where(Cycle.project_id == project_id).order_by(Cycle.number)).all())


def history(*, session: Session, cycle_id: int) -> list[CycleStageChange]:
    return list(session.scalars(select(CycleStageChange).where(CycleStageChange.cycle_id == cycle_id)
                                .order_by(CycleStageChange.id)).all())


def _record(session: Session, cycle: Cycle, principal: Principal | None, from_stage: str, to_stage: str,
            note: str = "") -> None:
    session.add(CycleStageChange(cycle_id=cycle.id, actor_id=principal.user_id if principal else None,  # type: ignore[arg-type]
                                 actor_name=principal.name if principal else "", from_stage=from_stage,
                                 to_stage=to_stage, note=note[:300]))


def _apply(session: Session, cycle: Cycle, values: Mapping[str, Any], errors: FieldErrors, today: date) -> None:
    """Copy the submitted fields the cycle's stage allows; format problems become field errors."""
    allowed = editable_fields(CycleStage(cycle.stage))
    for name in allowed:
        if name not in values:
            continue
        if name in ("plan_when", "change_started_on"):
            value = parse.day(values, name, errors)
            if name == "change_started_on" and value is not None and value > today:
                errors.add(name, "The change cannot have begun in the future.")
            if name == "plan_when" and value != cycle.plan_when:
                cycle.reminded_at = None  # a new planned day earns a new reminder (pdca.tasks)
            setattr(cycle, name, value)
        elif name == "measure_id":
            measure_id = parse.integer_id(values, name)
            measure = session.get(ProjectMeasure, measure_id) if measure_id is not None else None
            if str(values.get(name) or "").strip() and (measure is None or measure.project_id != cycle.project_id):
                errors.add(name, "Choose one of this project's measures.")
            else:
                cycle.measure_id = measure.id if measure is not None else None
        elif name == "owner_id":
            owner_id = parse_owner(session, cycle.clinic_id, values, errors)
            cycle.owner_id = owner_id or cycle.owner_id
        elif name == "act_decision":
            raw = str(values.get(name) or "").strip()
            if raw and raw not in ActDecision.__members__:
                errors.add(name, "Choose adopt, adapt or abandon.")
            else:
                cycle.act_decision = ActDecision(raw) if raw else None
        else:
            setattr(cycle, name, parse.text(values, name, errors, max_length=_TEXT_LIMITS.get(name, parse.TEXT_MAX)))
    if not cycle.change_idea:
        message = REQUIRED_TO_LEAVE[CycleStage.plan]["change_idea"]
        errors.add("change_idea", message)


def create_cycle(*, session: Session, project: ImprovementProject, values: Mapping[str, Any], principal: Principal,
                 today: date) -> Cycle:
    errors = FieldErrors()
    if project.status != ProjectStatus.active:
        errors.add("change_idea", "This project is closed. Reopen it to test another change.")
        errors.raise_if_any()
    number = (session.scalar(select(func.max(Cycle.number)).where(Cycle.project_id == project.id)) or 0) + 1
    cycle = Cycle(clinic_id=project.clinic_id, project_id=project.id, number=number, change_idea="",  # type: ignore[arg-type]
                  measure_id=project.aim_measure_id, owner_id=principal.user_id, created_by=principal.user_id)
    _apply(session, cycle, values, errors, today)
    errors.raise_if_any()
    session.add(cycle)
    session.flush()
    _record(session, cycle, principal, "", CycleStage.plan.value)
    session.flush()
    return cycle


def update_cycle(*, session: Session, cycle: Cycle, values: Mapping[str, Any], today: date) -> None:
    errors = FieldErrors()
    _apply(session, cycle, values, errors, today)
    errors.raise_if_any()
    cycle.updated_at = utcnow()
    session.flush()


def missing_fields(cycle: Cycle) -> FieldErrors:
    """The fields the cycle still needs before it may leave its stage."""
    errors = FieldErrors()
    stage = CycleStage(cycle.stage)
    for name, message in REQUIRED_TO_LEAVE.get(stage, {}).items():
        if getattr(cycle, name) in (None, ""):
            errors.add(name, message)
    explain = cycle.act_decision in (ActDecision.adapt, ActDecision.abandon)
    if stage == CycleStage.act and explain and not cycle.act_notes:
        message = (N_("Say what you will change for the next test.") if cycle.act_decision == ActDecision.adapt
                   else N_("Say why the change is abandoned, so others can learn from it."))
        errors.add("act_notes", message)
    return errors


def advance_cycle(*, session: Session, cycle: Cycle, from_stage: str, values: Mapping[str, Any], principal: Principal,
                  today: date, check_signal: SignalState | Callable[[Cycle], SignalState | None] | None = None,
                  ) -> CycleStage:
    """Save the submitted fields, then move the cycle one stage on if everything its stage needs is there.

    `from_stage` is the stage the user saw; if the cycle moved meanwhile nothing changes (compare-and-set).
    `check_signal` is what the chart shows when the cycle leaves Check (or a function reading it from the
    cycle as just saved), kept for the board and reports."""
    if from_stage != cycle.stage:
        raise CycleMovedOn()
    errors = FieldErrors()
    _apply(session, cycle, values, errors, today)
    errors.raise_if_any()
    missing = missing_fields(cycle)
    if missing.errors:
        raise ValidationFailed("This cycle cannot move on yet: please fill in the highlighted fields.",
                               field_errors=missing.errors)
    current = CycleStage(cycle.stage)
    target = next_stage(current)
    if target is None:
        raise CycleMovedOn()
    _move(session, cycle, current, target, principal)
    if current == CycleStage.check and check_signal is not None:
        state = check_signal(cycle) if callable(check_signal) else check_signal
        cycle.check_signal = state.value if state is not None else ""
    session.flush()
    return target


def move_back(*, session: Session, cycle: Cycle, from_stage: str, principal: Principal, note: str = "") -> CycleStage:
    """One stage back (e.g. Check back to Do while the data are still coming in); a Done cycle reopens in Act."""
    if from_stage != cycle.stage:
        raise CycleMovedOn()
    current = CycleStage(cycle.stage)
    target = previous_stage(current)
    if target is None:
        raise CycleMovedOn()
    _move(session, cycle, current, target, principal, note)
    session.flush()
    return target


def _move(session: Session, cycle: Cycle, current: CycleStage, target: CycleStage, principal: Principal,
          note: str = "") -> None:
    now = utcnow()
    # Compare-and-set: two people pressing the same button move the cycle once.
    moved = session.execute(
        update(Cycle).where(Cycle.id == cycle.id, Cycle.stage == current.value)
        .values(stage=target.value, stage_changed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        session.refresh(cycle)
        raise CycleMovedOn()
    cycle.stage, cycle.stage_changed_at, cycle.updated_at = target, now, now
    _record(session, cycle, principal, current.value, target.value, note)


def next_in_ramp(*, session: Session, cycle_id: int) -> Cycle | None:
    return session.scalar(select(Cycle).where(Cycle.parent_id == cycle_id).order_by(Cycle.id).limit(1))


def start_next_cycle(*, session: Session, cycle: Cycle, project: ImprovementProject, principal: Principal) -> Cycle:
    """The ramp's next cycle, pre-filled from this one (adopted: test at a larger scale; adapted: test the
    modified change).  Starting it twice returns the cycle already started."""
    existing = next_in_ramp(session=session, cycle_id=cycle.id)  # type: ignore[arg-type]
    if existing is not None:
        return existing
    errors = FieldErrors()
    if cycle.stage not in (CycleStage.act, CycleStage.done) or cycle.act_decision not in (ActDecision.adopt,
                                                                                          ActDecision.adapt):
        errors.add("act_decision", "Only an adopted or adapted change starts a next cycle.")
    if project.status != ProjectStatus.active:
        errors.add("act_decision", "This project is closed. Reopen it to test another change.")
    errors.raise_if_any()
    if cycle.ramp_id is None:
        cycle.ramp_id = cycle.id
    number = (session.scalar(select(func.max(Cycle.number)).where(Cycle.project_id == project.id)) or 0) + 1
    child = Cycle(
        clinic_id=cycle.clinic_id, project_id=cycle.project_id, number=number, measure_id=cycle.measure_id,
        owner_id=cycle.owner_id, change_idea=cycle.change_idea, objective=cycle.objective,
        prediction=cycle.prediction, plan_who=cycle.plan_who, plan_what=cycle.plan_what,
        plan_where=cycle.plan_where, parent_id=cycle.id, ramp_id=cycle.ramp_id, created_by=principal.user_id,
    )
    session.add(child)
    session.flush()
    _record(session, child, principal, "", CycleStage.plan.value)
    session.flush()
    return child


def ramp_of(*, session: Session, cycle: Cycle) -> list[Cycle]:
    """Every cycle of the cycle's ramp, in order (just the cycle when it is not part of one)."""
    if cycle.ramp_id is None:
        return [cycle]
    return list(session.scalars(select(Cycle).where(Cycle.ramp_id == cycle.ramp_id).order_by(Cycle.number)).all())
