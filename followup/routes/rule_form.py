"""The rule admin's form: a rule's JSON as flat form fields and back, engine errors placed on those fields
in the admin's language, and one-line summaries of rules for the list."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from core.errors import FieldErrors
from core.i18n import N_, gettext
from followup.enums import Comparison, DayValue, DuePolicy, GlucoseContext, MeterFlag, ReadingKind, RuleType, Severity
from followup.rules import (
    UNITS_BY_KIND,
    Condition,
    ConsecutiveDaysParams,
    KOfNParams,
    MissingDataParams,
    PersistentParams,
    RuleDefinition,
    SymptomParams,
    WindowMeanParams,
    parse_duration,
    texts,
)

TYPE_LABELS = {
    RuleType.single_threshold: N_("Single reading"), RuleType.consecutive_days: N_("Consecutive days"),
    RuleType.k_of_n: N_("K of the last N readings"), RuleType.window_mean: N_("Mean over a window"),
    RuleType.persistent: N_("Persistent (re-check first)"), RuleType.missing_data: N_("Missing readings"),
    RuleType.symptom: N_("Symptom words"),
}
KIND_LABELS = {
    ReadingKind.glucose: N_("Glucose"), ReadingKind.blood_pressure: N_("Blood pressure"),
    ReadingKind.heart_rate: N_("Heart rate"), ReadingKind.weight: N_("Weight"),
}
SEVERITY_LABELS = {
    Severity.emergency: N_("Emergency"), Severity.urgent: N_("Urgent"), Severity.same_day: N_("Same day"),
    Severity.follow_up: N_("Follow-up within 14 days"), Severity.routine: N_("Routine"),
}
OP_LABELS = {Comparison.ge: "≥", Comparison.gt: ">", Comparison.le: "≤", Comparison.lt: "<"}
OP_HELP = {Comparison.ge: N_("at or above (inclusive)"), Comparison.gt: N_("above (exclusive)"),
           Comparison.le: N_("at or below (inclusive)"), Comparison.lt: N_("below (exclusive)")}
DAY_VALUE_LABELS = {DayValue.max: N_("the day's highest reading"), DayValue.min: N_("the day's lowest reading"),
                    DayValue.mean: N_("the day's mean"), DayValue.every: N_("every reading of the day")}
CONTEXT_LABELS = {
    GlucoseContext.fasting: N_("Fasting"), GlucoseContext.before_meal: N_("Before a meal"),
    GlucoseContext.after_meal_1h: N_("1 hour after a meal"), GlucoseContext.after_meal_2h: N_("2 hours after a meal"),
    GlucoseContext.bedtime: N_("Bedtime"), GlucoseContext.random: N_("Random or not stated"),
}
DUE_POLICY_LABELS = {DuePolicy.after: N_("After the delay"),
                     DuePolicy.end_of_service_day: N_("At the end of a service day, at least the delay later")}
DURATION_UNITS = {"minutes": (timedelta(minutes=1), N_("minutes")), "hours": (timedelta(hours=1), N_("hours")),
                  "days": (timedelta(days=1), N_("days"))}
DURATION_FIELDS = ("due", "within", "min_spacing", "reminder_after", "callback_after")
TEXT_FIELDS = ("title.zh-CN", "title.en", "reason.zh-CN", "reason.en", "recheck_reason.zh-CN", "recheck_reason.en")
_PARAM_FIELDS = {
    RuleType.single_threshold: (),
    RuleType.consecutive_days: ("days", "day_value"),
    RuleType.k_of_n: ("k", "n", "within"),
    RuleType.window_mean: ("within", "min_readings", "min_days"),
    RuleType.persistent: ("count", "min_spacing", "within", "recheck_reason.zh-CN", "recheck_reason.en"),
    RuleType.missing_data: ("reminder_after", "callback_after"),
    RuleType.symptom: ("terms",),
}
_READING_TYPES = (RuleType.single_threshold, RuleType.consecutive_days, RuleType.k_of_n, RuleType.window_mean,
                  RuleType.persistent)


# --- JSON → form --------------------------------------------------------------------------------------


def form_values(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The flat values the form shows for a stored (valid) rule definition."""
    values: dict[str, Any] = {
        "code": definition["code"], "type": definition["type"], "kind": definition.get("kind") or "",
        "severity": definition["severity"], "due_policy": definition.get("due_policy") or DuePolicy.after.value,
        "contexts": list(definition.get("contexts") or []),
        "advanced_json": json.dumps(definition, ensure_ascii=False, indent=2),
    }
    for name in ("title", "reason"):
        for lang in ("zh-CN", "en"):
            values[f"{name}.{lang}"] = definition[name][lang]
    _put_duration(values, "due", definition["due"])
    params = definition.get("params") or {}
    condition = params.get("condition") or {}
    for i, bound in enumerate(condition.get("bounds") or []):
        for key, value in bound.items():
            values[f"bound{i}.{key}"] = str(value)
    for side in ("systolic", "diastolic"):
        for key, value in (condition.get(side) or {}).items():
            values[f"{side}.{key}"] = str(value)
    values["meter_flags"] = list(condition.get("meter_flags") or [])
    for name in ("days", "day_value", "k", "n", "min_readings", "min_days", "count"):
        if name in params:
            values[name] = "" if params[name] is None else str(params[name])
    for name in ("within", "min_spacing", "reminder_after", "callback_after"):
        if name in params:
            _put_duration(values, name, params[name])
    for lang in ("zh-CN", "en"):
        if "recheck_reason" in params:
            values[f"recheck_reason.{lang}"] = params["recheck_reason"][lang]
    if "terms" in params:
        values["terms"] = "\n".join(params["terms"])
    return values


def _put_duration(values: dict[str, Any], name: str, iso: str | None) -> None:
    if iso is None:
        values[f"{name}_value"], values[f"{name}_unit"] = "", "days"
        return
    span = parse_duration(iso)
    for unit in ("days", "hours", "minutes"):
        size = DURATION_UNITS[unit][0]
        if span % size == timedelta(0):
            values[f"{name}_value"], values[f"{name}_unit"] = str(span // size), unit
            return
    values[f"{name}_value"], values[f"{name}_unit"] = str(int(span.total_seconds() // 60)), "minutes"


# --- form → JSON --------------------------------------------------------------------------------------


def definition_from_form(form: Mapping[str, Any], *, code: str, rule_type: str, kind: str) -> tuple[dict[str, Any],
                                                                                                    FieldErrors]:
    """The rule JSON the structured form describes, and the problems only the form can see (a duration
    that is not a number). Everything else is checked by the rule engine itself."""
    errors = FieldErrors()

    def text(name: str) -> str:
        value = form.get(name, "")
        return str(value[-1] if isinstance(value, list) else value).strip()

    def listed(name: str) -> list[str]:
        value = form.get(name)
        return [] if value is None else [str(v) for v in (value if isinstance(value, list) else [value])]

    def duration(name: str, required: bool) -> str | None:
        # A placeholder stands in for a bad required duration, so the engine still checks everything else
        # and the admin sees every problem at once; the placeholder itself never gets saved.
        raw, unit = text(f"{name}_value"), text(f"{name}_unit") or "days"
        if not raw:
            if required:
                errors.add(name, "Enter a duration.")
            return "P1D" if required else None
        if not raw.isdigit() or unit not in DURATION_UNITS:
            errors.add(name, "Enter a whole number of minutes, hours or days.")
            return "P1D" if required else None
        count = int(raw)
        if count == 0:
            return "PT0S"
        return {"days": f"P{count}D", "hours": f"PT{count}H", "minutes": f"PT{count}M"}[unit]

    definition: dict[str, Any] = {
        "code": code, "type": rule_type, "kind": kind or None, "severity": text("severity"),
        "due_policy": text("due_policy") or DuePolicy.after.value, "due": duration("due", True),
        "title": {"zh-CN": text("title.zh-CN"), "en": text("title.en")},
        "reason": {"zh-CN": text("reason.zh-CN"), "en": text("reason.en")},
    }
    if kind == ReadingKind.glucose.value:
        definition["contexts"] = listed("contexts") or None
    params: dict[str, Any] = {}
    if rule_type in _READING_TYPES and kind:
        params["condition"] = _condition_from_form(text, listed, kind)
    if rule_type == RuleType.consecutive_days:
        params.update(days=text("days"), day_value=text("day_value") or DayValue.max.value)
    elif rule_type == RuleType.k_of_n:
        params.update(k=text("k"), n=text("n") or None, within=duration("within", False))
    elif rule_type == RuleType.window_mean:
        params.update(within=duration("within", True), min_readings=text("min_readings"), min_days=text("min_days"))
    elif rule_type == RuleType.persistent:
        params.update(count=text("count"), min_spacing=duration("min_spacing", True), within=duration("within", True),
                      recheck_reason={"zh-CN": text("recheck_reason.zh-CN"), "en": text("recheck_reason.en")})
    elif rule_type == RuleType.missing_data:
        params.update(reminder_after=duration("reminder_after", False),
                      callback_after=duration("callback_after", False))
    elif rule_type == RuleType.symptom:
        params["terms"] = [t.strip() for t in text("terms").splitlines() if t.strip()]
    definition["params"] = {k: v for k, v in params.items() if v is not None}
    return definition, errors


def _condition_from_form(text: Any, listed: Any, kind: str) -> dict[str, Any]:
    condition: dict[str, Any] = {"bounds": [], "systolic": None, "diastolic": None, "meter_flags": []}
    if kind == ReadingKind.blood_pressure.value:
        for side in ("systolic", "diastolic"):
            op, value = text(f"{side}.op"), text(f"{side}.mmHg")
            if op or value:
                condition[side] = {"op": op, **({"mmHg": value} if value else {})}
        return condition
    for i in range(2):
        op = text(f"bound{i}.op")
        values = {u: text(f"bound{i}.{u}") for u in UNITS_BY_KIND[ReadingKind(kind)] if text(f"bound{i}.{u}")}
        if op or values:
            condition["bounds"].append({"op": op, **values})
    if kind == ReadingKind.glucose.value:
        condition["meter_flags"] = [f for f in listed("meter_flags") if f in {m.value for m in MeterFlag}]
    return condition


def form_fields(rule_type: str, kind: str) -> set[str]:
    """The names the form shows an error beside; anything else is listed above the form."""
    names = {"code", "title.zh-CN", "title.en", "reason.zh-CN", "reason.en", "severity", "due", "due_policy",
             "advanced_json", *_PARAM_FIELDS.get(RuleType(rule_type), ())} if rule_type in RuleType.__members__ \
        else {"code", "advanced_json"}
    if kind == ReadingKind.blood_pressure.value:
        sides = ("systolic", "diastolic")
        names |= {"condition", *(f"{side}{part}" for side in sides for part in ("", ".op", ".mmHg"))}
    elif kind in ReadingKind.__members__ and rule_type in _READING_TYPES:
        names |= {"condition", "meter_flags", "contexts"}
        for i in range(2):
            names |= {f"bound{i}", f"bound{i}.op", *(f"bound{i}.{u}" for u in UNITS_BY_KIND[ReadingKind(kind)])}
    return names


def field_for(path: str) -> str:
    """An engine error path (params.condition.bounds[0].mmol/L) as the form field name (bound0.mmol/L)."""
    name = path.removeprefix("params.").removeprefix("condition.")
    name = re.sub(r"^bounds\[(\d+)\]", r"bound\1", name)
    return {"bounds": "bound0", "params.condition": "condition"}.get(name, name)


# --- engine messages in the admin's language ----------------------------------------------------------------

# The rule engine writes plain English for API users; the form shows these msgids instead.
_MESSAGES: list[tuple[str, str]] = [
    (r"is required", N_("This is required.")),
    (r"use 1-40 letters, .*", N_("Use 1 to 40 letters, digits, '.', '_' or '-', e.g. CN-DM-01a.")),
    (r"must be a duration between 0 and (\d+) days", N_("Enter a duration of at most %(days)s days.")),
    (r"must be a duration between 1 second and (\d+) days",
     N_("Enter a duration longer than zero and at most %(days)s days.")),
    (r"must be a whole number from k \((\d+)\) to 100, or empty", N_("Enter a whole number from k (%(k)s) to 100, "
                                                                     "or leave empty.")),
    (r"must be a whole number from (\d+) to (\d+)", N_("Enter a whole number from %(low)s to %(high)s.")),
    (r"must be a whole number of at least 1", N_("Enter a whole number of at least 1.")),
    (r"give n or within .*", N_("Give N, a time window, or both.")),
    (r"must be at least 1 and fit inside the window", N_("Enter at least 1, and no more days than the window has.")),
    (r"a meter flag has no value to average.*", N_("A meter HI/LO has no value to average; leave it unticked.")),
    (r"must be a positive duration", N_("Enter a duration longer than zero.")),
    (r"must hold count readings .*", N_("The window must hold the readings at their spacing, and be at most 7 days.")),
    (r"give reminder_after, callback_after or both", N_("Give a reminder delay, a callback delay, or both.")),
    (r"must come before callback_after", N_("The reminder must come before the callback.")),
    (r"every term must be non-empty text", N_("Write one symptom word or phrase per line.")),
    (r"give a systolic or a diastolic bound.*", N_("Give a systolic or a diastolic threshold (or both).")),
    (r"give at least one bound", N_("Give at least one threshold.")),
    (r"only glucose meters show HI/LO", N_("Only glucose meters show HI/LO.")),
    (r"is required: \S+ thresholds are stated in .*",
     N_("Give this threshold in every unit: a reading is compared in the unit it was sent in.")),
    (r"must be a number of at least 0", N_("Enter a number of at least 0.")),
    (r"(\S+) does not match (\S+) mmol/L \(≈ (\d+) mg/dL\)",
     N_("%(mgdl)s mg/dL does not match %(mmol)s mmol/L (about %(expected)s mg/dL).")),
    (r"braces do not pair up.*", N_("The braces do not pair up; write {{ and }} for a literal brace.")),
    (r"write placeholders bare.*", N_("Write placeholders bare, such as {values}.")),
    (r"unknown placeholder (.+?); allowed: (.+)", N_("Unknown placeholder %(names)s. You can use: %(allowed)s.")),
    (r"unknown placeholder (.+?); none allowed", N_("Unknown placeholder %(names)s. No placeholders here.")),
    (r"expected an ISO 8601 duration.*", N_("Enter a duration such as PT15M, PT1H or P14D.")),
    (r"expected a whole number.*", N_("Enter a whole number.")),
    (r"expected a (finite )?number.*", N_("Enter a number such as 16.7.")),
    (r"(.+) is not one of (.+)", N_("Choose one of the listed options.")),
    (r"list each context once.*", N_("Tick each glucose timing once, or none for any timing.")),
    (r"only glucose rules can be limited.*", N_("Only glucose rules can be limited to glucose timings.")),
    (r"a \S+ rule reads readings, so it needs a reading kind", N_("Choose which readings the rule reads.")),
    (r"unknown field; expected one of (.+)", N_("Unknown field; expected one of %(names)s.")),
]
_PARAM_NAMES = {
    N_("Enter a duration of at most %(days)s days."): ("days",),
    N_("Enter a duration longer than zero and at most %(days)s days."): ("days",),
    N_("Enter a whole number from k (%(k)s) to 100, or leave empty."): ("k",),
    N_("Enter a whole number from %(low)s to %(high)s."): ("low", "high"),
    N_("%(mgdl)s mg/dL does not match %(mmol)s mmol/L (about %(expected)s mg/dL)."): ("mgdl", "mmol", "expected"),
    N_("Unknown placeholder %(names)s. You can use: %(allowed)s."): ("names", "allowed"),
    N_("Unknown placeholder %(names)s. No placeholders here."): ("names",),
    N_("Unknown field; expected one of %(names)s."): ("names",),
}


def engine_message(message: str, params: Mapping[str, object], language: str) -> str:
    """Translate one field message: a msgid of ours, or one of the rule engine's English messages."""
    for pattern, msgid in _MESSAGES:
        match = re.fullmatch(pattern, message)
        if match:
            names = _PARAM_NAMES.get(msgid, ())
            return gettext(language, msgid, **dict(zip(names, match.groups(), strict=False)))
    return gettext(language, message, **params)


# --- summaries for the list ------------------------------------------------------------------------------------


def condition_summary(rule: RuleDefinition, language: str) -> str:
    """The rule in one line: "≥16.7 mmol/L (≥300 mg/dL) or HI", "… on 3 consecutive days (the day's highest)"."""
    p = rule.params

    def duration(span: timedelta | None) -> str:
        return texts.duration_text(span, language)

    if isinstance(p, MissingDataParams):
        parts = []
        if p.reminder_after is not None:
            parts.append(gettext(language, "No reading for %(span)s: reminder SMS", span=duration(p.reminder_after)))
        if p.callback_after is not None:
            parts.append(gettext(language, "No reading for %(span)s: callback", span=duration(p.callback_after)))
        return ("；" if texts.is_zh(language) else "; ").join(parts)
    if isinstance(p, SymptomParams):
        if not p.terms:
            return gettext(language, "Any symptom word the SMS reader finds")
        return gettext(language, "Symptom words: %(num)s", num=len(p.terms))
    text = _reading_summary(rule, language)
    if not rule.contexts:
        return text
    separator = "、" if texts.is_zh(language) else ", "
    timings = separator.join(gettext(language, CONTEXT_LABELS[c]) for c in rule.contexts)
    return f"{timings}{'：' if texts.is_zh(language) else ': '}{text}"


def _reading_summary(rule: RuleDefinition, language: str) -> str:
    p = rule.params

    def duration(span: timedelta | None) -> str:
        return texts.duration_text(span, language)

    condition = _condition_text(getattr(p, "condition", None), rule.kind, language)
    if isinstance(p, ConsecutiveDaysParams):
        return gettext(language, "%(condition)s on %(days)s consecutive days (%(value)s)", condition=condition,
                       days=p.days, value=gettext(language, DAY_VALUE_LABELS[p.day_value]))
    if isinstance(p, KOfNParams):
        if p.n is None:
            return gettext(language, "%(condition)s at least %(k)s times within %(within)s", condition=condition,
                           k=p.k, within=duration(p.within))
        if p.within is None:
            return gettext(language, "%(condition)s in %(k)s of the last %(n)s readings", condition=condition, k=p.k,
                           n=p.n)
        return gettext(language, "%(condition)s in %(k)s of the last %(n)s readings within %(within)s",
                       condition=condition, k=p.k, n=p.n, within=duration(p.within))
    if isinstance(p, WindowMeanParams):
        return gettext(language, "Mean %(condition)s over %(within)s (at least %(count)s readings on %(days)s days)",
                       condition=condition, within=duration(p.within), count=p.min_readings, days=p.min_days)
    if isinstance(p, PersistentParams):
        return gettext(language, "%(condition)s %(count)s times at least %(spacing)s apart within %(within)s",
                       condition=condition, count=p.count, spacing=duration(p.min_spacing), within=duration(p.within))
    return condition


def _condition_text(condition: Condition | None, kind: ReadingKind | None, language: str) -> str:
    if condition is None or kind is None:
        return ""
    units = UNITS_BY_KIND[kind]
    if kind is not ReadingKind.glucose or not condition.bounds:
        return texts.condition_text(condition, kind, units[0], language)
    bounds_only = Condition(bounds=condition.bounds)
    first, second = (texts.condition_text(bounds_only, kind, unit, language) for unit in units)
    flags = [("HI" if f is MeterFlag.hi else "LO") for f in condition.meter_flags]
    return ("或" if texts.is_zh(language) else " or ").join([f"{first} ({second})", *flags])


def due_summary(rule: RuleDefinition, language: str) -> str:
    if rule.type is RuleType.missing_data and isinstance(rule.params, MissingDataParams) \
            and rule.params.callback_after is None:
        return "—"
    if rule.due_policy is DuePolicy.end_of_service_day:
        if not rule.due:
            return gettext(language, "By the end of the service day")
        return gettext(language, "End of the service day, at least %(span)s later",
                       span=texts.duration_text(rule.due, language))
    if not rule.due:
        return gettext(language, "Immediately")
    return gettext(language, "Within %(span)s", span=texts.duration_text(rule.due, language))
