"""Corrective actions: graded on the RCA² hierarchy, owned, dated and measured; and their link to a PDCA project."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from clinic.models import Clinic
from core.db import utcnow
from core.errors import Conflict, FieldErrors, NotFound
from core.security import Principal
from rca import validate
from rca.enums import OPEN_ACTION_STATUSES, ActionStrength, RcaActionStatus
from rca.history import add_history
from rca.models import LABEL_MAX, TEXT_MAX, ActionRead, Cause, RcaAction, RootCauseAnalysis
from rca.service.records import ensure_editable
from rca.timers import action_due_at, action_overdue, local_today


class ActionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Action not found.")


def actions_of(*, session: Session, analysis_id: int) -> list[RcaAction]:
    return list(session.scalars(select(RcaAction).where(RcaAction.analysis_id == analysis_id)
                                .order_by(RcaAction.due_date, RcaAction.id)))


def get_action(*, session: Session, analysis: RootCauseAnalysis, action_id: Any) -> RcaAction:
    action = session.get(RcaAction, int(action_id)) if str(action_id).isdigit() else None
    if action is None or action.analysis_id != analysis.id:
        raise ActionNotFound()
    return action


def _cause(session: Session, errors: FieldErrors, analysis: RootCauseAnalysis, raw: Any) -> Cause | None:
    cause_id = validate.int_or_none(raw)
    if cause_id is None:
        return None
    cause = session.get(Cause, cause_id)
    if cause is None or cause.analysis_id != analysis.id:
        errors.add("cause_id", "Choose one of this analysis's causes.")
        return None
    return cause


def add_action(*, session: Session, analysis: RootCauseAnalysis, clinic: Clinic, principal: Principal,
               description: Any, strength: Any, owner_id: Any, due_date: Any, measure: Any, cause_id: Any = None,
               now: datetime | None = None) -> RcaAction:
    """An action needs its strength, an owner, a due date that has not passed and the measure that will show
    whether it worked (RCA²: each action has a responsible person, a date and measures)."""
    ensure_editable(analysis)
    now = now or utcnow()
    tz = ZoneInfo(clinic.timezone)
    errors = FieldErrors()
    what = validate.text(errors, "description", description, max_length=TEXT_MAX,
                         required="Describe the action: what will change.")
    grade = validate.choice(errors, "strength", strength, ActionStrength,
                            required="Choose how strong the action is: stronger, intermediate or weaker.")
    owner = validate.staff_member(session, errors, "owner_id", owner_id, clinic_id=clinic.id,
                                  required="Choose who owns this action.")
    due = validate.day(errors, "due_date", due_date, required="Choose a due date.")
    if due is not None and due < local_today(now, tz):
        errors.add("due_date", "The due date has already passed.")
    how_measured = validate.text(errors, "measure", measure, max_length=LABEL_MAX,
                                 required="Name the measure that will show whether the action worked.")
    cause = _cause(session, errors, analysis, cause_id)
    errors.raise_if_any()
    assert grade is not None and owner is not None and due is not None
    action = RcaAction(analysis_id=analysis.id, clinic_id=clinic.id, description=what, strength=grade,
                       cause_id=cause.id if cause else None, owner_id=owner.id, due_date=due,
                       due_at=action_due_at(due, tz), measure=how_measured, created_at=now, updated_at=now)
    session.add(action)
    session.flush()
    add_history(session=session, analysis=analysis, kind="action_added", principal=principal, detail={
        "action_id": action.id, "strength": str(grade), "owner_id": owner.id, "due_date": due.isoformat(),
        "text": what[:200]})
    return action


def update_action(*, session: Session, analysis: RootCauseAnalysis, clinic: Clinic, principal: Principal,
                  action_id: Any, values: dict[str, Any], now: datetime | None = None) -> list[str]:
    """Progress an action: status, owner, due date, outcome. Moving the due date re-arms its escalation."""
    ensure_editable(analysis)
    action = get_action(session=session, analysis=analysis, action_id=action_id)
    now = now or utcnow()
    tz = ZoneInfo(clinic.timezone)
    errors = FieldErrors()
    status = validate.choice(errors, "status", values.get("status") or action.status, RcaActionStatus)
    grade = validate.choice(errors, "strength", values.get("strength") or action.strength, ActionStrength,
                            required="Choose how strong the action is: stronger, intermediate or weaker.")
    owner = validate.staff_member(session, errors, "owner_id", values.get("owner_id") or action.owner_id,
                                  clinic_id=clinic.id, required="Choose who owns this action.")
    due = validate.day(errors, "due_date", values.get("due_date") or action.due_date, required="Choose a due date.")
    if due is not None and due != action.due_date and due < local_today(now, tz):
        errors.add("due_date", "The due date has already passed.")
    note = validate.text(errors, "outcome_note", values.get("outcome_note", action.outcome_note),
                         max_length=TEXT_MAX)
    if status == RcaActionStatus.done and not note:
        errors.add("outcome_note", "Say what the measure showed when marking the action done.")
    errors.raise_if_any()
    assert status is not None and grade is not None and owner is not None and due is not None
    new = {"status": status, "strength": grade, "owner_id": owner.id, "due_date": due, "outcome_note": note}
    changed = [name for name, value in new.items() if getattr(action, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(action, name, new[name])
    if "due_date" in changed:
        action.due_at = action_due_at(due, tz)
        if action.due_at > now:
            action.escalated_at = None  # a new deadline may be escalated again if it is missed too
    if "status" in changed:
        action.completed_at = now if status == RcaActionStatus.done else None
    action.updated_at = now
    session.flush()
    add_history(session=session, analysis=analysis, kind="action_updated", principal=principal, detail={
        "action_id": action.id, "fields": changed, "status": str(action.status), "text": action.description[:200]})
    return changed


def weak_plan(*, analysis: RootCauseAnalysis, actions: list[RcaAction]) -> bool:
    """RCA²: warn when every action of a SAC-3 analysis is a weaker one (training, memos, double checks)."""
    live = [a for a in actions if RcaActionStatus(a.status) != RcaActionStatus.cancelled]
    return analysis.sac_score == 3 and bool(live) and all(
        ActionStrength(a.strength) == ActionStrength.weaker for a in live)


def is_overdue(action: RcaAction, now: datetime | None = None) -> bool:
    return action_overdue(action.status, action.due_at, now or utcnow())


def action_summary(*, session: Session, clinic_id: int, action_id: int, now: datetime | None = None) -> ActionRead:
    """What the PDCA domain reads to prefill a project started from an action; another clinic's is a 404."""
    action = session.get(RcaAction, action_id)
    if action is None or action.clinic_id != clinic_id:
        raise ActionNotFound()
    analysis = session.get(RootCauseAnalysis, action.analysis_id)
    assert analysis is not None
    return ActionRead(
        id=action.id, analysis_id=action.analysis_id, analysis_title=analysis.title, description=action.description,
        strength=action.strength, owner_id=action.owner_id, due_date=action.due_date, measure=action.measure,
        status=action.status, overdue=is_overdue(action, now), pdca_project_id=action.pdca_project_id)


def link_project(*, session: Session, action_id: int, project_id: int, clinic_id: int | None = None,
                 principal: Principal | None = None) -> RcaAction:
    """Called by the PDCA domain when it starts a project from an action, so the action shows its project.

    Linking the same project again is a no-op; an action already tied to another project keeps that link."""
    action = session.get(RcaAction, action_id)
    if action is None or (clinic_id is not None and action.clinic_id != clinic_id):
        raise ActionNotFound()
    if action.pdca_project_id == project_id:
        return action
    if action.pdca_project_id is not None:
        raise Conflict("This action already has a PDCA project.")
    action.pdca_project_id = project_id
    action.updated_at = utcnow()
    session.flush()
    analysis = session.get(RootCauseAnalysis, action.analysis_id)
    assert analysis is not None
    add_history(session=session, analysis=analysis, kind="pdca_linked", principal=principal,
                detail={"action_id": action.id, "project_id": project_id, "text": action.description[:200]})
    return action


def open_action_count(actions: list[RcaAction]) -> int:
    return sum(1 for a in actions if RcaActionStatus(a.status) in OPEN_ACTION_STATUSES)
