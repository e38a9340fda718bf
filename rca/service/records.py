"""The analysis record: the clinic's timer policy, opening an analysis, triage, listing, and its stages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from clinic.models import Clinic, Patient
from core.db import utcnow
from core.errors import Conflict, FieldErrors, NotFound, ValidationFailed
from core.security import Principal
from rca import validate
from rca.enums import (
    ACTIVE_STATUSES,
    OPEN_ACTION_STATUSES,
    TRANSITIONS,
    RcaActionStatus,
    RcaSource,
    RcaStatus,
    RcaTeamRole,
    SacProbability,
    SacSeverity,
    Transition,
    sac_score,
)
from rca.history import add_history
from rca.models import (
    TEXT_MAX,
    TITLE_MAX,
    Cause,
    RcaAction,
    RcaLink,
    RcaPolicy,
    RootCauseAnalysis,
    TeamMember,
)
from rca.timers import finish_due, start_due

PER_PAGE = 25
START_HOURS_RANGE = (1, 24 * 14)
FINISH_DAYS_RANGE = (7, 365)


class AnalysisNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Root-cause analysis not found.")


def get_policy(*, session: Session, clinic_id: int) -> RcaPolicy:
    """The clinic's timers, created with the RCA² defaults (72 hours, 45 days) the first time they are needed."""
    policy = session.scalar(select(RcaPolicy).where(RcaPolicy.clinic_id == clinic_id))
    if policy is not None:
        return policy
    policy = RcaPolicy(clinic_id=clinic_id)
    try:
        with session.begin_nested():
            session.add(policy)
            session.flush()
    except IntegrityError:  # another transaction created it first
        policy = session.scalar(select(RcaPolicy).where(RcaPolicy.clinic_id == clinic_id))
        assert policy is not None
    return policy


def update_policy(*, session: Session, clinic_id: int, principal: Principal, start_within_hours: Any,
                  finish_within_days: Any) -> RcaPolicy:
    """New deadlines apply to analyses opened from now on; open ones keep the deadlines they were given."""
    errors = FieldErrors()
    hours = validate.whole_number(errors, "start_within_hours", start_within_hours,
                                  low=START_HOURS_RANGE[0], high=START_HOURS_RANGE[1])
    days = validate.whole_number(errors, "finish_within_days", finish_within_days,
                                 low=FINISH_DAYS_RANGE[0], high=FINISH_DAYS_RANGE[1])
    if hours is not None and days is not None and hours > days * 24:
        errors.add("start_within_hours", "The start deadline cannot come after the finish deadline.")
    errors.raise_if_any()
    policy = get_policy(session=session, clinic_id=clinic_id)
    assert hours is not None and days is not None
    policy.start_within_hours, policy.finish_within_days = hours, days
    policy.updated_at, policy.updated_by = utcnow(), principal.user_id
    session.flush()
    return policy


def create_analysis(
    *, session: Session, clinic: Clinic, principal: Principal | None, title: Any, problem_statement: Any,
    source: RcaSource, triggered_at: Any = None, event_at: Any = None, location: Any = "", severity: Any = None,
    probability: Any = None, patient_id: int | None = None, suggestion_id: int | None = None,
    now: datetime | None = None,
) -> RootCauseAnalysis:
    """Open an analysis; both clocks start at `triggered_at` (default: now), when the need for review was known."""
    now = now or utcnow()
    tz = ZoneInfo(clinic.timezone)
    errors = FieldErrors()
    title_text = validate.text(errors, "title", title, max_length=TITLE_MAX, required="Give the analysis a title.")
    statement = validate.text(errors, "problem_statement", problem_statement, max_length=TEXT_MAX,
                              required="Describe the problem: what happened, where, when and how often.")
    triggered = validate.moment(errors, "triggered_at", triggered_at, tz=tz, now=now) or now
    event = validate.moment(errors, "event_at", event_at, tz=tz, now=now)
    place = validate.text(errors, "location", location, max_length=120)
    sev = validate.choice(errors, "severity", severity, SacSeverity)
    prob = validate.choice(errors, "probability", probability, SacProbability)
    if patient_id is not None:
        patient = session.get(Patient, patient_id)
        if patient is None or patient.clinic_id != clinic.id:
            errors.add("patient_id", "Choose a patient of this clinic.")
    errors.raise_if_any()
    policy = get_policy(session=session, clinic_id=clinic.id)
    analysis = RootCauseAnalysis(
        clinic_id=clinic.id, title=title_text, problem_statement=statement, source=source,
        suggestion_id=suggestion_id, patient_id=patient_id, event_at=event, location=place,
        severity=sev, probability=prob, sac_score=sac_score(sev, prob), triggered_at=triggered,
        start_due_at=start_due(triggered, policy.start_within_hours),
        due_at=finish_due(triggered, policy.finish_within_days),
        created_by=principal.user_id if principal and principal.is_staff else None, created_at=now, updated_at=now,
    )
    session.add(analysis)
    session.flush()
    add_history(session=session, analysis=analysis, kind="created", principal=principal, detail={
        "source": str(source), "title": title_text, "start_within_hours": policy.start_within_hours,
        "finish_within_days": policy.finish_within_days})
    return analysis


def get_analysis(*, session: Session, clinic_id: int, analysis_id: int) -> RootCauseAnalysis:
    """An analysis of this clinic; another clinic's is indistinguishable from a missing one."""
    analysis = session.get(RootCauseAnalysis, analysis_id)
    if analysis is None or analysis.clinic_id != clinic_id:
        raise AnalysisNotFound()
    return analysis


def ensure_editable(analysis: RootCauseAnalysis) -> None:
    if RcaStatus(analysis.status) in (RcaStatus.closed, RcaStatus.excluded):
        raise Conflict("This analysis is closed. Reopen it to make changes.")


def update_analysis(*, session: Session, analysis: RootCauseAnalysis, clinic: Clinic, principal: Principal,
                    values: dict[str, Any], now: datetime | None = None) -> list[str]:
    """Edit the problem and its triage; returns the names of the fields that changed."""
    ensure_editable(analysis)
    now = now or utcnow()
    tz = ZoneInfo(clinic.timezone)
    errors = FieldErrors()
    new: dict[str, Any] = {
        "title": validate.text(errors, "title", values.get("title"), max_length=TITLE_MAX,
                               required="Give the analysis a title."),
        "problem_statement": validate.text(errors, "problem_statement", values.get("problem_statement"),
                                           max_length=TEXT_MAX,
                                           required="Describe the problem: what happened, where, when and how often."),
        "event_at": validate.moment(errors, "event_at", values.get("event_at"), tz=tz, now=now),
        "location": validate.text(errors, "location", values.get("location"), max_length=120),
        "severity": validate.choice(errors, "severity", values.get("severity"), SacSeverity),
        "probability": validate.choice(errors, "probability", values.get("probability"), SacProbability),
        "blameworthy": str(values.get("blameworthy", "")).lower() in ("1", "on", "true", "yes"),
        "lessons_learned": validate.text(errors, "lessons_learned", values.get("lessons_learned"),
                                         max_length=TEXT_MAX),
    }
    errors.raise_if_any()
    new["sac_score"] = sac_score(new["severity"], new["probability"])
    changed = [name for name, value in new.items() if getattr(analysis, name) != value]
    for name in changed:
        setattr(analysis, name, new[name])
    if changed:
        add_history(session=session, analysis=analysis, kind="updated", principal=principal,
                    detail={"fields": changed, "sac_score": analysis.sac_score})
    return changed


def change_status(*, session: Session, analysis: RootCauseAnalysis, principal: Principal, transition: Any,
                  note: str = "", now: datetime | None = None) -> RootCauseAnalysis:
    """Move the analysis to its next stage. The update is compare-and-set on the status, so two people pressing
    the same button at once move it once."""
    now = now or utcnow()
    try:
        step = Transition(str(transition))
    except ValueError:
        raise ValidationFailed("This step is not available at the analysis's current stage.") from None
    sources, target = TRANSITIONS[step]
    current = RcaStatus(analysis.status)
    if current not in sources:
        raise Conflict("This step is not available at the analysis's current stage.")
    _check_ready(session, analysis, step, note)
    values: dict[str, Any] = {"status": target, "updated_at": now}
    if step == Transition.start:
        values["started_at"] = now
    elif step == Transition.complete:
        values["completed_at"] = now
    elif step in (Transition.close, Transition.exclude):
        values["closed_at"] = now
    elif step == Transition.reopen:
        values.update(completed_at=None, closed_at=None)
    moved = session.execute(
        update(RootCauseAnalysis).where(RootCauseAnalysis.id == analysis.id, RootCauseAnalysis.status == current)
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        raise Conflict("Someone else changed this analysis a moment ago. Reload the page and try again.")
    for name, value in values.items():  # the loaded object now matches the row, with nothing left to flush
        set_committed_value(analysis, name, value)
    add_history(session=session, analysis=analysis, kind="status", principal=principal, detail={
        "transition": str(step), "from": str(current), "to": str(target), "note": note.strip()[:TEXT_MAX]})
    return analysis


def _check_ready(session: Session, analysis: RootCauseAnalysis, step: Transition, note: str) -> None:
    errors = FieldErrors()
    if step == Transition.start:
        if not session.scalar(select(TeamMember.id).where(TeamMember.analysis_id == analysis.id,
                                                          TeamMember.role == RcaTeamRole.facilitator)):
            errors.add("team", "Add a facilitator to the team before starting the analysis.")
        if analysis.blameworthy:
            errors.add("blameworthy", "A blameworthy event goes to HR or just-culture review, not to RCA.")
    elif step == Transition.complete:
        if not analysis.problem_statement.strip():
            errors.add("problem_statement", "Describe the problem: what happened, where, when and how often.")
        if analysis.sac_score is None:
            errors.add("severity", "Rate severity and probability (SAC) before completing the analysis.")
        if not session.scalar(select(Cause.id).where(Cause.analysis_id == analysis.id, Cause.is_root.is_(True))):
            errors.add("causes", "Select at least one root cause on the fishbone.")
        if not session.scalar(select(RcaAction.id).where(RcaAction.analysis_id == analysis.id,
                                                         RcaAction.status != RcaActionStatus.cancelled)):
            errors.add("actions", "Add at least one action with an owner, a due date and a measure.")
    elif step == Transition.close:
        if session.scalar(select(RcaAction.id).where(RcaAction.analysis_id == analysis.id,
                                                     RcaAction.status.in_([s.value for s in OPEN_ACTION_STATUSES]))):
            errors.add("actions", "Every action must be done or cancelled before the analysis is closed.")
    elif step == Transition.exclude and not note.strip():
        errors.add("note", "Say where the event was routed (HR or just-culture review) and why.")
    errors.raise_if_any("This step cannot be taken yet.")


def patient_ids_of(*, session: Session, analysis: RootCauseAnalysis) -> list[int]:
    """The patients whose data the analysis touches: its own patient and those of its linked items."""
    ids = {analysis.patient_id} if analysis.patient_id else set()
    ids.update(pid for pid in session.scalars(select(RcaLink.patient_id).where(
        RcaLink.analysis_id == analysis.id, RcaLink.patient_id.is_not(None))) if pid is not None)
    return sorted(ids)


@dataclass(frozen=True)
class ListFilters:
    status: RcaStatus | None = None
    sac: int | None = None
    overdue: bool = False
    q: str = ""


def _overdue_clause(now: datetime) -> Any:
    open_action_overdue = exists().where(
        RcaAction.analysis_id == RootCauseAnalysis.id,
        RcaAction.status.in_([s.value for s in OPEN_ACTION_STATUSES]), RcaAction.due_at <= now)
    return or_(
        (RootCauseAnalysis.status == RcaStatus.open) & (RootCauseAnalysis.start_due_at < now),
        RootCauseAnalysis.status.in_([s.value for s in ACTIVE_STATUSES]) & (RootCauseAnalysis.due_at < now),
        open_action_overdue,
    )


def list_analyses(*, session: Session, clinic_id: int, filters: ListFilters, page: int = 1,
                  per_page: int = PER_PAGE, now: datetime | None = None) -> tuple[list[RootCauseAnalysis], int]:
    """Active analyses first (soonest deadline first), then finished ones (most recently changed first)."""
    now = now or utcnow()
    query = select(RootCauseAnalysis).where(RootCauseAnalysis.clinic_id == clinic_id)
    if filters.status is not None:
        query = query.where(RootCauseAnalysis.status == filters.status)
    if filters.sac is not None:
        query = query.where(RootCauseAnalysis.sac_score == filters.sac)
    if filters.overdue:
        query = query.where(_overdue_clause(now))
    if filters.q:
        pattern = f"%{filters.q.lower()}%"
        query = query.where(or_(func.lower(RootCauseAnalysis.title).like(pattern),
                                func.lower(RootCauseAnalysis.problem_statement).like(pattern)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    finished = case((RootCauseAnalysis.status.in_([s.value for s in ACTIVE_STATUSES]), 0),
                    (RootCauseAnalysis.status == RcaStatus.completed, 1), else_=2)
    rows = session.scalars(query.order_by(finished, RootCauseAnalysis.due_at, RootCauseAnalysis.id.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def action_counts(*, session: Session, analysis_ids: list[int], now: datetime | None = None
                  ) -> dict[int, tuple[int, int]]:
    """analysis id → (open actions, overdue actions), for the list page."""
    if not analysis_ids:
        return {}
    now = now or utcnow()
    overdue = case((RcaAction.due_at <= now, 1), else_=0)
    rows = session.execute(
        select(RcaAction.analysis_id, func.count(), func.sum(overdue))
        .where(RcaAction.analysis_id.in_(analysis_ids),
               RcaAction.status.in_([s.value for s in OPEN_ACTION_STATUSES]))
        .group_by(RcaAction.analysis_id)).all()
    return {row[0]: (int(row[1]), int(row[2] or 0)) for row in rows}
