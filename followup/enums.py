"""Enumerations of the follow-up domain: what a reading is, where it came from, how it is judged."""

from enum import StrEnum


class ReadingKind(StrEnum):
    glucose = "glucose"
    blood_pressure = "blood_pressure"
    heart_rate = "heart_rate"
    weight = "weight"


class GlucoseContext(StrEnum):
    fasting = "fasting"
    before_meal = "before_meal"
    after_meal_1h = "after_meal_1h"
    after_meal_2h = "after_meal_2h"
    bedtime = "bedtime"
    random = "random"


class MeterFlag(StrEnum):
    """What a glucose meter shows instead of a number when the value is off its scale."""

    hi = "hi"
    lo = "lo"


class ReadingSource(StrEnum):
    sms = "sms"
    web = "web"
    api = "api"
    staff = "staff"
    import_ = "import"


class Severity(StrEnum):
    """Callback tiers of clinical-rules.md §3, most urgent first."""

    emergency = "emergency"
    urgent = "urgent"
    same_day = "same_day"
    follow_up = "follow_up"
    routine = "routine"


SEVERITY_ORDER: dict[Severity, int] = {s: i for i, s in enumerate(Severity)}


class RuleType(StrEnum):
    """How a follow-up rule reads the readings (followup/rules/definitions.py)."""

    single_threshold = "single_threshold"
    consecutive_days = "consecutive_days"
    k_of_n = "k_of_n"
    window_mean = "window_mean"
    persistent = "persistent"
    missing_data = "missing_data"
    symptom = "symptom"


class Comparison(StrEnum):
    """One side of a threshold; the source says whether the bound itself counts (ge/le) or not (gt/lt)."""

    ge = "ge"
    gt = "gt"
    le = "le"
    lt = "lt"


class DayValue(StrEnum):
    """Which value stands for a local day in a consecutive-days rule."""

    every = "every"
    max = "max"
    min = "min"
    mean = "mean"


class DuePolicy(StrEnum):
    """How a rule's due time is set: a plain delay, or the end of a service day."""

    after = "after"
    end_of_service_day = "end_of_service_day"


class RuleOutcome(StrEnum):
    """What a rule asks for: a doctor's callback, a re-measurement by the patient, or a reminder SMS."""

    callback = "callback"
    recheck = "recheck"
    reminder = "reminder"


class Intent(StrEnum):
    """What an inbound SMS is, as a whole (clinical-rules.md §6.3); one per message."""

    readings = "readings"
    opt_out = "opt_out"
    opt_in = "opt_in"
    help = "help"
    confirm = "confirm"
    reject = "reject"
    opt_out_like = "opt_out_like"
    unparsed = "unparsed"


class GlucoseQualifier(StrEnum):
    """The timing word a patient wrote beside a glucose value; kept apart from GlucoseContext so the echo
    can say what the patient typed (a bare 餐后 has no known number of hours)."""

    fasting = "fasting"
    premeal = "premeal"
    pp1h = "pp1h"
    pp2h = "pp2h"
    postprandial = "postprandial"
    bedtime = "bedtime"
    random = "random"


class VerdictStatus(StrEnum):
    """What validation (clinical-rules.md §6.4) decided about one parsed reading."""

    accepted = "accepted"
    confirm = "confirm"
    rejected = "rejected"


class QuestionKind(StrEnum):
    """Why a reading needs the patient's answer before it is recorded."""

    bp_order = "bp_order"
    glucose_unit = "glucose_unit"
    weight_unit = "weight_unit"
    bare_ambiguous = "bare_ambiguous"


class ReplyTier(StrEnum):
    """The clinical part of an SMS reply, chosen by the rules engine and rendered by followup.replies."""

    recorded = "recorded"
    urgent_bp = "urgent_bp"
    urgent_glucose_high = "urgent_glucose_high"
    urgent_low = "urgent_low"
    same_day_low = "same_day_low"
    recheck = "recheck"
    symptom = "symptom"
