"""Enumerations of the feedback domain: what an item is about, how it came in, and where it stands."""

from __future__ import annotations

from enum import StrEnum

from core.i18n import N_


class FeedbackKind(StrEnum):
    """A complaint is a formal grievance; a concern is a service-recovery record (qi-methods §7.4), e.g. from a
    low survey answer, that staff may convert into a complaint."""

    complaint = "complaint"
    concern = "concern"


class Category(StrEnum):
    waiting_time = "waiting_time"
    attitude = "attitude"
    communication = "communication"
    medication = "medication"
    billing = "billing"
    environment = "environment"
    follow_up = "follow_up"
    other = "other"


class Channel(StrEnum):
    web = "web"
    sms = "sms"
    phone = "phone"
    in_person = "in_person"
    survey = "survey"
    api = "api"


class Severity(StrEnum):
    """`high` means possible harm to a patient: it escalates at once to the supervisor."""

    low = "low"
    medium = "medium"
    high = "high"


class Complexity(StrEnum):
    """Picks the resolution deadline: the 2019 NHC measures give complex and multi-department cases longer."""

    simple = "simple"
    complex = "complex"
    multi_department = "multi_department"


class FeedbackStatus(StrEnum):
    received = "received"
    acknowledged = "acknowledged"
    investigating = "investigating"
    resolved = "resolved"
    closed = "closed"


OPEN_STATUSES = frozenset({FeedbackStatus.received, FeedbackStatus.acknowledged, FeedbackStatus.investigating})


class Action(StrEnum):
    """The workflow verbs staff use; each maps to one transition (or a change that keeps the status)."""

    acknowledge = "acknowledge"
    investigate = "investigate"
    resolve = "resolve"
    close = "close"
    reopen = "reopen"


# Allowed moves. Resolving straight from `received` is first-contact resolution (首诉负责制: settle on the spot
# where possible); it counts as acknowledged at the same moment. Reopening returns the item to investigation.
TRANSITIONS: dict[Action, tuple[frozenset[FeedbackStatus], FeedbackStatus]] = {
    Action.acknowledge: (frozenset({FeedbackStatus.received}), FeedbackStatus.acknowledged),
    Action.investigate: (frozenset({FeedbackStatus.acknowledged}), FeedbackStatus.investigating),
    Action.resolve: (frozenset(OPEN_STATUSES), FeedbackStatus.resolved),
    Action.close: (frozenset({FeedbackStatus.resolved}), FeedbackStatus.closed),
    Action.reopen: (frozenset({FeedbackStatus.resolved, FeedbackStatus.closed}), FeedbackStatus.investigating),
}


def allowed_actions(status: FeedbackStatus) -> list[Action]:
    return [action for action, (sources, _) in TRANSITIONS.items() if status in sources]


class Timer(StrEnum):
    acknowledge = "acknowledge"
    resolve = "resolve"


class SuggestionTrigger(StrEnum):
    """Why the committee is offered an analysis: a cluster of items, or a signal on the category's monthly rate."""

    count = "count"  # `rca_threshold` items of one category within `rca_window_days`
    spc_signal = "spc_signal"  # the category's monthly complaint rate rose beyond its control limits or shifted


class SuggestionStatus(StrEnum):
    open = "open"
    dismissed = "dismissed"
    converted = "converted"  # the RCA module opened an analysis from it


# Display names; templates show them as _(LABELS[value]).
LABELS: dict[str, str] = {
    "complaint": N_("Complaint"), "concern": N_("Concern"),
    "waiting_time": N_("Waiting time"), "attitude": N_("Staff attitude"), "communication": N_("Communication"),
    "medication": N_("Medication"), "billing": N_("Billing"), "environment": N_("Environment"),
    "follow_up": N_("Follow-up"), "other": N_("Other"),
    "web": N_("Web form"), "sms": N_("SMS"), "phone": N_("Phone call"), "in_person": N_("In person"),
    "survey": N_("Survey"), "api": N_("API"),
    "low": N_("Low"), "medium": N_("Medium"), "high": N_("High (possible harm)"),
    "simple": N_("Simple"), "complex": N_("Complex (needs investigation)"),
    "multi_department": N_("Several departments"),
    "received": N_("Awaiting acknowledgement"), "acknowledged": N_("Acknowledged"),
    "investigating": N_("Investigating"), "resolved": N_("Resolved"), "closed": N_("Closed"),
    "acknowledge": N_("Acknowledge"), "investigate": N_("Start investigation"), "resolve": N_("Resolve"),
    "close": N_("Close"), "reopen": N_("Reopen"),
}

# History rows, in the past tense.
HISTORY_LABELS: dict[str, str] = {
    "created": N_("Received"), "acknowledge": N_("Acknowledged"), "investigate": N_("Investigation started"),
    "resolve": N_("Resolved"), "close": N_("Closed"), "reopen": N_("Reopened"), "note": N_("Note"),
    "updated": N_("Classification changed"), "escalated": N_("Supervisor alerted"),
    "due_soon": N_("Deadline reminder sent"), "ack_breached": N_("Acknowledgement deadline missed"),
    "resolve_breached": N_("Resolution deadline missed"), "sms_queued": N_("Text message to the patient queued"),
    "survey_answer": N_("Another low survey answer"),
}
FIELD_LABELS: dict[str, str] = {
    "kind": N_("Kind"), "category": N_("Category"), "severity": N_("Severity"), "complexity": N_("Complexity"),
    "owner_id": N_("Owner"), "subject_staff_id": N_("About staff member"), "lead_department": N_("Lead department"),
    "departments": N_("Departments"),
}

# Lower-case words that suggest a category in free text (SMS and survey comments); staff correct the guess.
_CATEGORY_WORDS: tuple[tuple[Category, tuple[str, ...]], ...] = (
    (Category.medication, ("药", "处方", "medicine", "medication", "prescription", "pharmacy", "drug")),
    (Category.billing, ("收费", "费用", "价格", "医保", "报销", "多收", "bill", "charge", "fee", "cost", "insurance")),
    (Category.waiting_time, ("等了", "等待", "等候", "等很久", "排队", "太慢", "wait", "queue", "slow", "delay")),
    (Category.attitude, ("态度", "凶", "不耐烦", "骂", "rude", "attitude", "impolite", "shout")),
    (Category.communication, ("解释", "沟通", "没说清", "听不懂", "explain", "communicat", "understand", "told")),
    (Category.follow_up, ("随访", "回访", "电话没", "没人联系", "follow-up", "follow up", "callback", "call back")),
    (Category.environment, ("环境", "卫生", "脏", "厕所", "停车", "clean", "dirty", "toilet", "parking", "noise")),
)

# Words that suggest harm or risk of harm: such items start as `high` so a person looks at them at once.
_HARM_WORDS = ("错药", "用错", "拿错", "过敏", "晕倒", "摔倒", "受伤", "出血", "伤害", "wrong medic", "wrong drug",
               "allerg", "fainted", "fell", "injur", "bleed", "harm")


def guess_category(text: str) -> Category:
    lowered = text.lower()
    for category, words in _CATEGORY_WORDS:
        if any(word in lowered for word in words):
            return category
    return Category.other


def guess_severity(text: str) -> Severity:
    lowered = text.lower()
    return Severity.high if any(word in lowered for word in _HARM_WORDS) else Severity.medium
