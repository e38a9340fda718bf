"""Working an item: acknowledge → investigate → resolve → close (and reopen), triage changes, notes, and the
SLA sweep that warns before deadlines and escalates breaches — each exactly once, by compare-and-set."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlmodel import Session

from clinic.models import Clinic
from core.db import utcnow
from core.errors import Conflict, FieldErrors
from core.events import record_event
from core.security import Principal
from feedback.clusters import check_cluster
from feedback.enums import (
    OPEN_STATUSES,
    TRANSITIONS,
    Action,
    Category,
    Complexity,
    FeedbackKind,
    FeedbackStatus,
    Severity,
    Timer,
)
from feedback.history import add_history
from feedback.models import DESCRIPTION_MAX, RESPONSE_MAX, FeedbackItem, FeedbackPolicy
from feedback.notify import escalate, local_due, patient_contact, text_patient, warn_owner
from feedback.policy import deadlines, get_policy
from feedback.service import choice, clinic_staff

SWEEP_BATCH = 500


class InvalidTransition(Conflict):
    def __init__(self) -> None:
        super().__init__("This step is not possible in the item's current status. Reload the page to see what "
                         "changed.")


class ItemClosed(Conflict):
    def __init__(self) -> None:
        super().__init__("This item is closed. Reopen it before changing it.")


def transition(
    *, session: Session, item: FeedbackItem, clinic: Clinic, action: Action, principal: Principal | None,
    note: str = "", resolution: str = "", patient_response: str = "", notify_patient: bool = True,
    now: datetime | None = None,
) -> FeedbackItem:
    now = now or utcnow()
    sources, target = TRANSITIONS[Action(action)]
    if item.status not in sources:
        raise InvalidTransition()
    errors = FieldErrors()
    note, resolution, patient_response = note.strip(), resolution.strip(), patient_response.strip()
    if len(note) > DESCRIPTION_MAX:
        errors.add("note", "Please keep it under %(max)s characters.", max=DESCRIPTION_MAX)
    if action == Action.resolve:
        if not resolution:
            errors.add("resolution", "Describe what was found and done.")
        if not patient_response:
            errors.add("patient_response", "Write the reply the patient will receive.")
        elif len(patient_response) > RESPONSE_MAX:
            errors.add("patient_response", "Keep the reply under %(max)s characters; it is sent by SMS.",
                       max=RESPONSE_MAX)
    if action == Action.reopen and not note:
        errors.add("note", "Say why the item is reopened.")
    errors.raise_if_any()
    previous = FeedbackStatus(item.status)
    # Compare-and-set: of two people pressing the same button, one wins and the other gets a 409.
    changed = session.execute(update(FeedbackItem).where(FeedbackItem.id == item.id,
                                                         FeedbackItem.status == previous)
                              .values(status=target, updated_at=now)
                              .execution_options(synchronize_session=False)).rowcount
    if not changed:
        raise InvalidTransition()
    item.status, item.updated_at = target, now
    policy = get_policy(session=session, clinic=clinic)
    detail: dict[str, Any] = {}
    if action == Action.acknowledge:
        item.acknowledged_at = now
        item.next_due_at = item.resolve_due_at
    elif action == Action.investigate:
        item.investigating_at = now
    elif action == Action.resolve:
        item.acknowledged_at = item.acknowledged_at or now  # settled at first contact counts as acknowledged
        item.resolved_at, item.next_due_at = now, None
        item.resolution, item.patient_response = resolution, patient_response
        # A registered patient can read the reply on their feedback page; an SMS (below) replaces this.
        item.response_channel = "web" if item.patient_id is not None else ""
        item.response_sent_at = now if item.patient_id is not None else None
    elif action == Action.close:
        item.closed_at, item.next_due_at = now, None
    elif action == Action.reopen:
        detail["previous_resolution"] = item.resolution
        item.reopened_count += 1
        item.resolved_at = item.closed_at = None
        _, item.resolve_due_at = deadlines(session=session, clinic=clinic, policy=policy,
                                           received_at=item.received_at, complexity=item.complexity,
                                           resolve_from=now)
        item.resolve_warned_at = item.resolve_breached_at = None
        item.next_due_at = item.resolve_due_at
    add_history(session=session, item=item, kind=str(action), principal=principal, from_status=previous,
                to_status=target, note=note, detail=detail)
    if notify_patient and action in (Action.acknowledge, Action.resolve):
        _tell_patient(session, item, clinic, action)
    session.flush()
    return item


def _tell_patient(session: Session, item: FeedbackItem, clinic: Clinic, action: Action) -> None:
    contact = patient_contact(session=session, item=item)
    if contact is None or not contact.may_text:
        return
    if action == Action.acknowledge:
        text_patient(session=session, item=item, clinic=clinic, template="acknowledged",
                     due=local_due(item.resolve_due_at, contact.language, ZoneInfo(clinic.timezone)))
    else:
        if text_patient(session=session, item=item, clinic=clinic, template="resolved",
                        response=item.patient_response) is not None:
            item.response_channel, item.response_sent_at = "sms", item.resolved_at


def add_note(*, session: Session, item: FeedbackItem, principal: Principal, note: str) -> None:
    errors = FieldErrors()
    text = note.strip()
    if not text:
        errors.add("note", "Write the note first.")
    elif len(text) > DESCRIPTION_MAX:
        errors.add("note", "Please keep it under %(max)s characters.", max=DESCRIPTION_MAX)
    errors.raise_if_any()
    add_history(session=session, item=item, kind="note", principal=principal, note=text)


def update_item(*, session: Session, item: FeedbackItem, clinic: Clinic, values: dict[str, Any],
                principal: Principal) -> dict[str, list[Any]]:
    """Triage: owner, category, severity, complexity, kind, who it is about, departments. Returns the changes."""
    if item.status == FeedbackStatus.closed:
        raise ItemClosed()
    errors = FieldErrors()
    wanted: dict[str, Any] = {
        "kind": choice(FeedbackKind, values.get("kind"), errors, "kind", "Choose complaint or concern."),
        "category": choice(Category, values.get("category"), errors, "category", "Choose a category."),
        "severity": choice(Severity, values.get("severity"), errors, "severity", "Choose a severity."),
        "complexity": choice(Complexity, values.get("complexity"), errors, "complexity",
                             "Choose how complex it is."),
        "owner_id": clinic_staff(session, clinic.id, values.get("owner_id"), errors, "owner_id"),
        "subject_staff_id": clinic_staff(session, clinic.id, values.get("subject_staff_id"), errors,
                                         "subject_staff_id"),
        "lead_department": str(values.get("lead_department", "")).strip()[:80],
        "departments": [d.strip()[:80] for d in str(values.get("departments", "")).replace("，", ",")
                        .replace("、", ",").split(",") if d.strip()][:10],
    }
    errors.raise_if_any()
    changes = {name: [_plain(getattr(item, name)), _plain(value)] for name, value in wanted.items()
               if getattr(item, name) != value}
    if not changes:
        return changes
    for name, value in wanted.items():
        setattr(item, name, value)
    item.updated_at = utcnow()
    policy = get_policy(session=session, clinic=clinic)
    if "complexity" in changes and item.status in OPEN_STATUSES:
        item.ack_due_at, item.resolve_due_at = deadlines(session=session, clinic=clinic, policy=policy,
                                                         received_at=item.received_at, complexity=item.complexity)
        item.next_due_at = item.ack_due_at if item.status == FeedbackStatus.received else item.resolve_due_at
    add_history(session=session, item=item, kind="updated", principal=principal, detail={"changes": changes})
    if "severity" in changes and item.severity == Severity.high and item.escalated_at is None:
        item.escalated_at = utcnow()
        escalate(session=session, item=item, clinic=clinic, policy=policy, reason="high_severity")
    if "category" in changes:
        check_cluster(session=session, item=item, policy=policy)
    session.flush()
    return changes


def _plain(value: Any) -> Any:
    return str(value) if hasattr(value, "value") else value


# --- the SLA sweep ----------------------------------------------------------------------------------------


def sweep_sla(*, session: Session, now: datetime | None = None) -> dict[str, int]:
    """Warn owners of deadlines inside the warning window and escalate breached ones, each once per item.

    Every mark is a conditional update (`… WHERE ack_breached_at IS NULL`), so overlapping sweeps or two
    scheduler processes never notify twice."""
    now = now or utcnow()
    counts = {"ack_breached": 0, "resolve_breached": 0, "ack_due_soon": 0, "resolve_due_soon": 0}
    contexts: dict[int, tuple[Clinic, FeedbackPolicy]] = {}

    def context(clinic_id: int) -> tuple[Clinic, FeedbackPolicy]:
        if clinic_id not in contexts:
            clinic = session.get(Clinic, clinic_id)
            assert clinic is not None
            contexts[clinic_id] = (clinic, get_policy(session=session, clinic=clinic))
        return contexts[clinic_id]

    received = FeedbackItem.status == FeedbackStatus.received
    unresolved = FeedbackItem.status.in_([s.value for s in OPEN_STATUSES])
    timers = (
        (Timer.acknowledge, received, FeedbackItem.ack_due_at, FeedbackItem.ack_breached_at, "ack_breached_at",
         FeedbackItem.ack_warned_at, "ack_warned_at"),
        (Timer.resolve, unresolved, FeedbackItem.resolve_due_at, FeedbackItem.resolve_breached_at,
         "resolve_breached_at", FeedbackItem.resolve_warned_at, "resolve_warned_at"),
    )
    for timer, state, due, breached, breached_name, warned, warned_name in timers:
        key = "ack" if timer == Timer.acknowledge else "resolve"
        for item in session.scalars(select(FeedbackItem).where(state, due < now, breached.is_(None))
                                    .order_by(due).limit(SWEEP_BATCH)).all():
            if _mark(session, item, breached_name, now, state):
                clinic, policy = context(item.clinic_id)
                due_at = getattr(item, "ack_due_at" if timer == Timer.acknowledge else "resolve_due_at")
                add_history(session=session, item=item, kind=f"{key}_breached", detail={"due_at": due_at.isoformat()})
                escalate(session=session, item=item, clinic=clinic, policy=policy, reason="breach",
                         timer=str(timer), due_at=due_at)
                record_event(session=session, name="feedback.sla_breached", clinic_id=item.clinic_id, payload={
                    "item_id": item.id, "clinic_id": item.clinic_id, "timer": str(timer),
                    "due_at": due_at.isoformat()})
                counts[f"{key}_breached"] += 1
        # The warning window differs per clinic; fetch what could be inside the widest one and check each.
        horizon = now + timedelta(hours=72)
        for item in session.scalars(select(FeedbackItem).where(state, due >= now, due <= horizon, warned.is_(None),
                                                               breached.is_(None))
                                    .order_by(due).limit(SWEEP_BATCH)).all():
            clinic, policy = context(item.clinic_id)
            due_at = getattr(item, "ack_due_at" if timer == Timer.acknowledge else "resolve_due_at")
            if due_at - timedelta(hours=policy.due_soon_hours) > now:
                continue
            if _mark(session, item, warned_name, now, state):
                warn_owner(session=session, item=item, clinic=clinic, policy=policy, timer=str(timer), due_at=due_at)
                counts[f"{key}_due_soon"] += 1
    session.flush()
    return counts


def _mark(session: Session, item: FeedbackItem, column: str, now: datetime, state: Any) -> bool:
    marked = session.execute(update(FeedbackItem).where(
        FeedbackItem.id == item.id, getattr(FeedbackItem, column).is_(None), state)
        .values({column: now}).execution_options(synchronize_session=False)).rowcount
    if marked:
        setattr(item, column, now)
    return bool(marked)


def open_breaches(*, session: Session, clinic_id: int) -> list[FeedbackItem]:
    """Items still open with a breached deadline, worst (longest overdue) first."""
    return list(session.scalars(select(FeedbackItem).where(
        FeedbackItem.clinic_id == clinic_id, FeedbackItem.status.in_([s.value for s in OPEN_STATUSES]),
        or_(and_(FeedbackItem.status == FeedbackStatus.received, FeedbackItem.ack_breached_at.is_not(None)),
            FeedbackItem.resolve_breached_at.is_not(None)))
        .order_by(FeedbackItem.next_due_at, FeedbackItem.id)))
