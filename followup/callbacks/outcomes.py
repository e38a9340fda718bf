"""What a call can end in (Simple.org's call results plus per-attempt telephony outcomes, anchor-systems §1.2)."""

from __future__ import annotations

from enum import StrEnum

from core.errors import Conflict, NotFound
from core.i18n import N_


class AttemptOutcome(StrEnum):
    reached = "reached"
    no_answer = "no_answer"
    busy = "busy"
    wrong_number = "wrong_number"
    phone_off = "phone_off"
    left_message = "left_message"


class CallResult(StrEnum):
    """What came of a call that reached the patient; every result but remind_later closes the callback."""

    advice_given = "advice_given"
    medication_adjusted = "medication_adjusted"
    visit_booked = "visit_booked"
    referred = "referred"
    emergency_referral = "emergency_referral"
    remind_later = "remind_later"


class CloseReason(StrEnum):
    """Why a callback is closed without reaching the patient (Simple's removal reasons, issue #4805)."""

    already_visited = "already_visited"
    refused = "refused"
    moved = "moved"
    transferred = "transferred"
    deceased = "deceased"
    invalid_phone = "invalid_phone"
    not_responding = "not_responding"
    other = "other"


class CloseOutcome(StrEnum):
    reached = "reached"
    not_reached = "not_reached"


class QueueScope(StrEnum):
    all = "all"
    mine = "mine"
    unassigned = "unassigned"


# The telephony outcomes that leave the patient unreached; a run of them as long as the policy's maximum
# escalates the callback.
UNREACHED = frozenset(o for o in AttemptOutcome if o is not AttemptOutcome.reached)

LABELS: dict[str, str] = {
    "reached": N_("Reached"),
    "no_answer": N_("No answer"),
    "busy": N_("Busy"),
    "wrong_number": N_("Wrong number"),
    "phone_off": N_("Phone switched off"),
    "left_message": N_("Left a message"),
    "not_reached": N_("Not reached"),
    "advice_given": N_("Advice given"),
    "medication_adjusted": N_("Medication adjusted"),
    "visit_booked": N_("Visit booked"),
    "referred": N_("Referred"),
    "emergency_referral": N_("Emergency referral"),
    "remind_later": N_("Call again later"),
    "already_visited": N_("Already visited the clinic"),
    "refused": N_("Refused follow-up"),
    "moved": N_("Moved away"),
    "transferred": N_("Transferred to another facility"),
    "deceased": N_("Died"),
    "invalid_phone": N_("Phone number does not work"),
    "not_responding": N_("Not responding"),
    "other": N_("Other reason"),
    # Severity tiers and history kinds, shown on the queue and the detail page.
    "emergency": N_("Emergency"),
    "urgent": N_("Urgent"),
    "same_day": N_("Same day"),
    "follow_up": N_("Follow-up"),
    "routine": N_("Routine"),
    "opened": N_("Opened"),
    "hit_added": N_("New reading added"),
    "claimed": N_("Claimed"),
    "assigned": N_("Assigned"),
    "attempt": N_("Call attempt"),
    "escalated": N_("Escalated"),
    "closed": N_("Closed"),
    "reopened": N_("Reopened"),
    "overdue": N_("Past its due time"),
    "max_attempts": N_("Too many unanswered calls"),
    "out_of_hours": N_("Out of service hours"),
}


class CallbackNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Callback not found.")


class CallbackAlreadyClosed(Conflict):
    def __init__(self) -> None:
        super().__init__("This callback is already closed.")


class CallbackNotClosed(Conflict):
    def __init__(self) -> None:
        super().__init__("This callback is still open.")


class CallbackAlreadyOpen(Conflict):
    def __init__(self) -> None:
        super().__init__("Another callback for this patient and rule is already open; work that one instead.")


class CallbackClaimedByOther(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__("%(name)s has already claimed this callback.", name=name)
