"""Callbacks: the calls the care team owes patients — opened by rules, worked from the queue (claim, assign,
call attempts, close, reopen), escalated when nobody completes them, under each clinic's follow-up policy."""

from followup.callbacks.escalation import due_for_escalation, escalate_callback, escalation_sms_text
from followup.callbacks.lifecycle import (
    AttemptLogged,
    assign_callback,
    claim_callback,
    close_callback,
    get_callback,
    log_attempt,
    parse_local_datetime,
    reopen_callback,
)
from followup.callbacks.opening import open_callback, open_callbacks_for
from followup.callbacks.outcomes import (
    AttemptOutcome,
    CallbackAlreadyClosed,
    CallbackAlreadyOpen,
    CallbackClaimedByOther,
    CallbackNotClosed,
    CallbackNotFound,
    CallResult,
    CloseOutcome,
    CloseReason,
    QueueScope,
)
from followup.callbacks.policy import clinic_timezone, get_policy, retry_backoff, save_policy, tier_due_at
from followup.callbacks.queue import (
    QueueFilters,
    callback_item,
    events_for,
    list_callback_rows,
    list_callbacks,
    queue_query,
    reason_in,
    recent_readings,
    staff_names,
    tripped_readings,
)

__all__ = [
    "AttemptLogged", "AttemptOutcome", "CallResult", "CallbackAlreadyClosed", "CallbackAlreadyOpen",
    "CallbackClaimedByOther", "CallbackNotClosed", "CallbackNotFound", "CloseOutcome", "CloseReason",
    "QueueFilters", "QueueScope", "assign_callback", "callback_item", "claim_callback", "clinic_timezone",
    "close_callback", "due_for_escalation", "escalate_callback", "escalation_sms_text", "events_for",
    "get_callback", "get_policy", "list_callback_rows", "list_callbacks", "log_attempt", "open_callback",
    "open_callbacks_for",
    "parse_local_datetime", "queue_query", "reason_in", "recent_readings", "reopen_callback", "retry_backoff",
    "save_policy", "staff_names", "tier_due_at", "tripped_readings",
]
