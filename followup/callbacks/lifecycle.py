"""Working a callback: claim, assign, log call attempts, close, reopen. Every change is a history row
(CallbackEvent) and an audit row; closing announces `callback.completed` in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic.models import StaffUser
from core.audit import record_audit
from core.db import utcnow
from core.errors import FieldErrors
from core.events import record_event
from core.models import AuditAction
from core.security import Principal, Role
from followup.callbacks.escalation import escalate_callback
from followup.callbacks.outcomes import (
    UNREACHED,
    AttemptOutcome,
    CallbackAlreadyClosed,
    CallbackAlreadyOpen,
    CallbackClaimedByOther,
    CallbackNotClosed,
    CallbackNotFound,
    CallResult,
    CloseOutcome,
    CloseReason,
)
from followup.callbacks.policy import clinic_timezone, get_policy, retry_backoff, tier_due_at
from followup.models import Callback, CallbackEvent, CallbackStatus

NOTE_LIMIT = 1000
REMIND_LIMIT = timedelta(days=366)
ASSIGNABLE_ROLES = frozenset({Role.doctor, Role.nurse})


@dataclass(frozen=True)
class AttemptLogged:
    callback: Callback
    closed: bool
    escalated: bool


def get_callback(*, session: Session, clinic_id: int, callback_id: int, lock: bool = False) -> Callback:
    """A callback of this clinic; another clinic's callback is indistinguishable from a missing one.

    `lock` takes a row lock on PostgreSQL so two people acting on one callback act one after the other."""
    query = select(Callback).where(Callback.id == callback_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    callback = session.scalar(query)
    if callback is None or callback.clinic_id != clinic_id:
        raise CallbackNotFound()
    return callback


def claim_callback(*, session: Session, callback: Callback, actor: Principal, take_over: bool = False,
                   client_address: str = "") -> Callback:
    """Make the caller the owner; someone else's callback is only taken over on purpose."""
    _require_open(callback)
    previous = callback.assigned_to
    if previous == actor.user_id:
        return callback
    if previous is not None and not take_over:
        owner = session.get(StaffUser, previous)
        raise CallbackClaimedByOther(owner.display_name if owner else "?")
    callback.assigned_to = actor.user_id
    _history(session, callback, "claimed", actor, {"previous": previous})
    _audit(session, callback, actor, client_address, "claimed" + (" (taken over)" if previous else ""))
    return callback


def assign_callback(*, session: Session, callback: Callback, actor: Principal, assignee_id: Any,
                    client_address: str = "") -> Callback:
    """Give the callback to a doctor or nurse of the clinic (an empty choice leaves it unassigned)."""
    _require_open(callback)
    raw = str(assignee_id or "").strip()
    assignee: int | None = None
    if raw:
        user = session.get(StaffUser, int(raw)) if raw.isdigit() else None
        if user is None or user.clinic_id != callback.clinic_id or not user.active or user.role not in ASSIGNABLE_ROLES:
            errors = FieldErrors()
            errors.add("assigned_to", "Choose a doctor or nurse of this clinic.")
            errors.raise_if_any()
        assert user is not None
        assignee = user.id
    previous = callback.assigned_to
    if assignee == previous:
        return callback
    callback.assigned_to = assignee
    _history(session, callback, "assigned", actor, {"to": assignee, "previous": previous})
    _audit(session, callback, actor, client_address, f"assigned to {assignee}")
    return callback


def log_attempt(*, session: Session, callback: Callback, actor: Principal, data: Mapping[str, Any],
                client_address: str = "", now: datetime | None = None) -> AttemptLogged:
    """Record one call: reached with a result (closing it, or "call again later" at a date), or not reached
    (retry after the tier's backoff; escalate after the policy's run of unanswered calls or a wrong number)."""
    _require_open(callback)
    now = now or utcnow()
    tz = clinic_timezone(session=session, clinic_id=callback.clinic_id)
    outcome, result, remind_at, note = _attempt_input(data, now=now, tz=tz)
    if callback.assigned_to is None:
        # Whoever dials owns the callback from then on, so the next call is theirs and the queue says so.
        callback.assigned_to = actor.user_id
        _history(session, callback, "claimed", actor, {"previous": None, "auto": True})
    callback.attempts += 1
    _history(session, callback, "attempt", actor, {
        "outcome": str(outcome), "result": str(result) if result else None,
        "remind_at": remind_at.isoformat() if remind_at else None, "note": note})
    _audit(session, callback, actor, client_address, f"attempt {outcome} {result or ''}".strip())
    policy = get_policy(session=session, clinic_id=callback.clinic_id)
    if outcome is AttemptOutcome.reached:
        if result is CallResult.remind_later:
            assert remind_at is not None
            # The patient was reached and asked for a later call: that time is the new promise, and a
            # standing escalation is over.
            callback.next_attempt_at = remind_at
            callback.due_at = remind_at
            callback.escalated_at = None
            session.flush()
            return AttemptLogged(callback, closed=False, escalated=False)
        assert result is not None
        _close(session, callback, actor, outcome=CloseOutcome.reached, reason=str(result), note=note, now=now)
        return AttemptLogged(callback, closed=True, escalated=False)
    callback.next_attempt_at = now + retry_backoff(policy, callback.severity)
    session.flush()
    escalate_reason = None
    if outcome is AttemptOutcome.wrong_number:
        escalate_reason = "wrong_number"
    elif _unreached_run(session, callback.id) >= policy.max_attempts:
        escalate_reason = "max_attempts"
    escalated = False
    if escalate_reason is not None:
        escalated = escalate_callback(session=session, callback_id=callback.id, reason=escalate_reason, now=now,
                                      actor=actor, client_address=client_address)
    return AttemptLogged(callback, closed=False, escalated=escalated)


def close_callback(*, session: Session, callback: Callback, actor: Principal, data: Mapping[str, Any],
                   client_address: str = "", now: datetime | None = None) -> Callback:
    """Close with a result (reached) or a reason (not reached); "other" needs a note saying what."""
    _require_open(callback)
    errors = FieldErrors()
    raw_outcome = _text(data.get("outcome")) or CloseOutcome.not_reached.value
    reason = _text(data.get("reason"))
    note = _text(data.get("note"))
    outcome: CloseOutcome | None = None
    if raw_outcome not in CloseOutcome.__members__:
        errors.add("outcome", "Choose reached or not reached.")
    else:
        outcome = CloseOutcome(raw_outcome)
    if outcome is CloseOutcome.reached:
        if reason not in CallResult.__members__ or reason == CallResult.remind_later:
            errors.add("reason", "Choose what came of the call.")
    elif outcome is CloseOutcome.not_reached:
        if not reason:
            errors.add("reason", "Choose why the callback is closed without reaching the patient.")
        elif reason not in CloseReason.__members__:
            errors.add("reason", "Choose one of the listed reasons.")
        elif reason == CloseReason.other and not note:
            errors.add("note", "Say why in a note when the reason is \"other\".")
    if len(note) > NOTE_LIMIT:
        errors.add("note", "Keep the note under %(n)s characters.", n=NOTE_LIMIT)
    errors.raise_if_any()
    assert outcome is not None
    _close(session, callback, actor, outcome=outcome, reason=reason, note=note, now=now or utcnow())
    _audit(session, callback, actor, client_address, f"closed {outcome} {reason}")
    return callback


def reopen_callback(*, session: Session, callback: Callback, actor: Principal, note: str = "",
                    client_address: str = "", now: datetime | None = None) -> Callback:
    """Reopen a closed callback (closed by mistake, or the situation changed), due as a new one of its tier."""
    if callback.status != CallbackStatus.closed:
        raise CallbackNotClosed()
    note = note.strip()
    if len(note) > NOTE_LIMIT:
        errors = FieldErrors()
        errors.add("note", "Keep the note under %(n)s characters.", n=NOTE_LIMIT)
        errors.raise_if_any()
    now = now or utcnow()
    policy = get_policy(session=session, clinic_id=callback.clinic_id)
    due = tier_due_at(policy, callback.severity, now, clinic_timezone(session=session, clinic_id=callback.clinic_id))
    previous = {"outcome": callback.outcome, "reason": callback.close_reason}
    try:
        with session.begin_nested():
            callback.status = CallbackStatus.open
            callback.closed_at = callback.closed_by = callback.escalated_at = callback.next_attempt_at = None
            callback.outcome = callback.close_reason = ""
            callback.due_at = due
            session.flush()
    except IntegrityError as exc:  # the rules opened a new one for this patient and rule meanwhile
        raise CallbackAlreadyOpen() from exc
    _history(session, callback, "reopened", actor, {**previous, "note": note, "due_at": due.isoformat()})
    _audit(session, callback, actor, client_address, "reopened")
    return callback


def _close(session: Session, callback: Callback, actor: Principal, *, outcome: CloseOutcome, reason: str,
           note: str, now: datetime) -> None:
    callback.status = CallbackStatus.closed
    callback.outcome = str(outcome)
    callback.close_reason = reason
    callback.closed_at = now
    callback.closed_by = actor.user_id
    callback.next_attempt_at = None
    _history(session, callback, "closed", actor, {"outcome": str(outcome), "reason": reason, "note": note})
    record_event(session=session, name="callback.completed", clinic_id=callback.clinic_id, payload={
        "callback_id": callback.id, "patient_id": callback.patient_id, "clinic_id": callback.clinic_id,
        "outcome": str(outcome), "closed_by": actor.user_id, "rule_code": callback.rule_code})


def _attempt_input(data: Mapping[str, Any], *, now: datetime, tz: ZoneInfo
                   ) -> tuple[AttemptOutcome, CallResult | None, datetime | None, str]:
    errors = FieldErrors()
    raw_outcome, raw_result = _text(data.get("outcome")), _text(data.get("result"))
    raw_remind, note = _text(data.get("remind_at")), _text(data.get("note"))
    outcome = AttemptOutcome(raw_outcome) if raw_outcome in AttemptOutcome.__members__ else None
    result = CallResult(raw_result) if raw_result in CallResult.__members__ else None
    remind_at: datetime | None = None
    if outcome is None:
        errors.add("outcome", "Choose how the call went.")
    if raw_result and result is None:
        errors.add("result", "Choose one of the listed results.")
    elif outcome is AttemptOutcome.reached and result is None:
        errors.add("result", "Choose what came of the call.")
    elif outcome is not None and outcome is not AttemptOutcome.reached and result is not None:
        errors.add("result", "Only a call that reached the patient has a result.")
    if result is CallResult.remind_later and outcome is AttemptOutcome.reached:
        remind_at = parse_local_datetime(raw_remind, tz)
        if not raw_remind:
            errors.add("remind_at", "Choose when to call again.")
        elif remind_at is None:
            errors.add("remind_at", "Enter a date and time, for example 2026-12-01 09:30.")
        elif remind_at <= now:
            errors.add("remind_at", "Choose a time in the future.")
        elif remind_at > now + REMIND_LIMIT:
            errors.add("remind_at", "Choose a time within the next year.")
    if len(note) > NOTE_LIMIT:
        errors.add("note", "Keep the note under %(n)s characters.", n=NOTE_LIMIT)
    errors.raise_if_any()
    assert outcome is not None
    return outcome, result, remind_at, note


def parse_local_datetime(raw: str, tz: ZoneInfo) -> datetime | None:
    """ISO 8601 with an offset, or a wall-clock time (a form's datetime-local, or a bare date meaning 09:00)
    in the clinic's time zone."""
    text = raw.strip().replace(" ", "T", 1)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if len(text) == 10:
        value = value.replace(hour=9)
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def _unreached_run(session: Session, callback_id: int) -> int:
    """Unanswered calls since the patient was last reached (a reached call starts the count again)."""
    details = session.scalars(select(CallbackEvent.detail).where(
        CallbackEvent.callback_id == callback_id, CallbackEvent.kind == "attempt").order_by(CallbackEvent.id.desc()))
    run = 0
    for detail in details:
        if detail.get("outcome") not in UNREACHED:
            break
        run += 1
    return run


def _require_open(callback: Callback) -> None:
    if callback.status != CallbackStatus.open:
        raise CallbackAlreadyClosed()


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = value[-1] if value else ""
    return "" if value is None else str(value).strip()


def _history(session: Session, callback: Callback, kind: str, actor: Principal, detail: dict[str, Any]) -> None:
    session.add(CallbackEvent(callback_id=callback.id, kind=kind, actor_id=actor.user_id, detail=detail))
    session.flush()


def _audit(session: Session, callback: Callback, actor: Principal, client_address: str, detail: str) -> None:
    record_audit(session=session, action=AuditAction.update, object_type="callback", object_id=callback.id,
                 principal=actor, patient_id=callback.patient_id, client_address=client_address, detail=detail)
