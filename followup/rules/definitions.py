"""Follow-up rules as data: the frozen definitions a clinic edits, and the checks that keep them sound."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from followup.enums import (
    Comparison,
    DayValue,
    DuePolicy,
    GlucoseContext,
    MeterFlag,
    ReadingKind,
    RuleType,
    Severity,
)

MMOL_L = "mmol/L"
MG_DL = "mg/dL"
MMHG = "mmHg"
PER_MIN = "/min"
KG = "kg"
MGDL_PER_MMOL = Decimal("18.016")  # clinical-rules.md §2.3; used only to check and to order, never to compare

# The units a threshold must state for each kind. Glucose needs both, because a reading is compared in the
# unit it was sent in (clinical-rules.md §0.3: 70 mg/dL is 3.885 mmol/L and must not flip a 3.9 boundary).
UNITS_BY_KIND: dict[ReadingKind, tuple[str, ...]] = {
    ReadingKind.glucose: (MMOL_L, MG_DL),
    ReadingKind.blood_pressure: (MMHG,),
    ReadingKind.heart_rate: (PER_MIN,),
    ReadingKind.weight: (KG,),
}

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_COMMON = frozenset({"subject", "condition", "threshold", "values", "readings", "unit"})
PLACEHOLDERS: dict[RuleType, frozenset[str]] = {
    RuleType.single_threshold: _COMMON,
    RuleType.consecutive_days: _COMMON | {"days"},
    RuleType.k_of_n: _COMMON | {"k", "n", "within"},
    RuleType.window_mean: _COMMON | {"mean", "count", "days", "within"},
    RuleType.persistent: _COMMON | {"count", "min_spacing", "within"},
    RuleType.missing_data: frozenset({"subject", "days", "last"}),
    RuleType.symptom: frozenset({"symptoms"}),
}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class RuleInvalid(ValueError):
    """A rule definition a clinic admin wrote cannot be used; every bad field is listed by its path."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in errors))


@dataclass(frozen=True)
class LocalizedText:
    zh_cn: str
    en: str

    def get(self, lang: str) -> str:
        return self.zh_cn if lang.lower().startswith("zh") else self.en


@dataclass(frozen=True)
class Bound:
    """One comparison, with its value in every unit a reading of the rule's kind may arrive in."""

    op: Comparison
    values: tuple[tuple[str, Decimal], ...]

    @classmethod
    def of(cls, op: Comparison | str, values: Mapping[str, Decimal | int | str]) -> Bound:
        return cls(op=Comparison(op), values=tuple((u, Decimal(str(v))) for u, v in values.items()))

    def value_in(self, unit: str | None) -> Decimal | None:
        return next((v for u, v in self.values if u == unit), None)


@dataclass(frozen=True)
class Condition:
    """What a reading, a day's value or a mean must meet: every bound (in the reading's own unit) or, for
    blood pressure, the systolic or the diastolic bound ("SBP ≥180 or DBP ≥110"); listed meter flags match."""

    bounds: tuple[Bound, ...] = ()
    systolic: Bound | None = None
    diastolic: Bound | None = None
    meter_flags: tuple[MeterFlag, ...] = ()


@dataclass(frozen=True)
class SingleThresholdParams:
    condition: Condition


@dataclass(frozen=True)
class ConsecutiveDaysParams:
    condition: Condition
    days: int
    # The day's highest reading by default: "glucose above 10 on three days" reads as "the day's highest".
    day_value: DayValue = DayValue.max


@dataclass(frozen=True)
class KOfNParams:
    condition: Condition
    k: int
    n: int | None  # None: every reading inside `within` counts ("twice in 72 hours")
    within: timedelta | None


@dataclass(frozen=True)
class WindowMeanParams:
    condition: Condition
    within: timedelta
    min_readings: int
    min_days: int


@dataclass(frozen=True)
class PersistentParams:
    """`count` matching readings in a row, each at least `min_spacing` after the one before (CN-DM-05)."""

    condition: Condition
    count: int
    min_spacing: timedelta
    within: timedelta
    recheck_reason: LocalizedText


@dataclass(frozen=True)
class MissingDataParams:
    reminder_after: timedelta | None
    callback_after: timedelta | None


@dataclass(frozen=True)
class SymptomParams:
    terms: tuple[str, ...]  # empty: any symptom the SMS grammar found


RuleParams = (
    SingleThresholdParams
    | ConsecutiveDaysParams
    | KOfNParams
    | WindowMeanParams
    | PersistentParams
    | MissingDataParams
    | SymptomParams
)
PARAMS_BY_TYPE: dict[RuleType, type] = {
    RuleType.single_threshold: SingleThresholdParams,
    RuleType.consecutive_days: ConsecutiveDaysParams,
    RuleType.k_of_n: KOfNParams,
    RuleType.window_mean: WindowMeanParams,
    RuleType.persistent: PersistentParams,
    RuleType.missing_data: MissingDataParams,
    RuleType.symptom: SymptomParams,
}
READING_TYPES = frozenset(PARAMS_BY_TYPE) - {RuleType.missing_data, RuleType.symptom}


@dataclass(frozen=True)
class RuleDefinition:
    """One clinic rule; constructing an invalid one raises RuleInvalid, so every rule in use is sound."""

    code: str
    kind: ReadingKind | None  # None: symptom rules, and missing-data rules over any kind
    type: RuleType
    params: RuleParams
    severity: Severity
    due: timedelta
    title: LocalizedText
    reason: LocalizedText  # a template; PLACEHOLDERS[type] lists what it may use
    due_policy: DuePolicy = DuePolicy.after
    contexts: tuple[GlucoseContext, ...] | None = None  # glucose only; None: any context

    def __post_init__(self) -> None:
        errors = _check_rule(self)
        if errors:
            raise RuleInvalid(errors)

    # The JSON codec lives in codec.py (it needs these classes); imported here to keep one obvious API.
    def to_dict(self) -> dict[str, Any]:
        from followup.rules.codec import rule_to_dict

        return rule_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleDefinition:
        """Read a rule from plain JSON; RuleInvalid lists every bad field by its path."""
        from followup.rules.codec import rule_from_dict

        return rule_from_dict(data)


def choices(enum: type[StrEnum]) -> str:
    return ", ".join(e.value for e in enum)


# --- validation of a constructed rule -------------------------------------------------------------------


def _check_rule(rule: RuleDefinition) -> list[FieldError]:
    errors: list[FieldError] = []

    def bad(where: str, message: str) -> None:
        errors.append(FieldError(where, message))

    if not isinstance(rule.code, str) or not _CODE.match(rule.code):
        bad("code", "use 1-40 letters, digits, '.', '_' or '-', e.g. CN-DM-01a")
    expected = PARAMS_BY_TYPE.get(rule.type)
    if expected is None:
        bad("type", f"unknown rule type; expected one of {choices(RuleType)}")
        return errors
    if rule.type in READING_TYPES and rule.kind is None:
        bad("kind", f"a {rule.type} rule reads readings, so it needs a reading kind")
    if rule.type is RuleType.symptom and rule.kind is not None:
        bad("kind", "a symptom rule reads messages, not readings; leave kind empty")
    if rule.contexts is not None:
        if rule.kind is not ReadingKind.glucose:
            bad("contexts", "only glucose rules can be limited to glucose contexts")
        elif not rule.contexts or len(set(rule.contexts)) != len(rule.contexts):
            bad("contexts", "list each context once, or leave empty for any context")
    if not isinstance(rule.due, timedelta) or rule.due < timedelta(0) or rule.due > timedelta(days=400):
        bad("due", "must be a duration between 0 and 400 days")
    _check_text(bad, "title", rule.title, frozenset())
    _check_text(bad, "reason", rule.reason, PLACEHOLDERS[rule.type])
    if not isinstance(rule.params, expected):
        bad("params", f"a {rule.type} rule needs {expected.__name__}, not {type(rule.params).__name__}")
        return errors
    _check_params(bad, rule)
    return errors


def _check_params(bad: Callable[[str, str], None], rule: RuleDefinition) -> None:
    p = rule.params
    day, spans = timedelta(days=1), "params.within"
    if isinstance(p, ConsecutiveDaysParams) and not (isinstance(p.days, int) and 2 <= p.days <= 31):
        bad("params.days", "must be a whole number from 2 to 31")
    if isinstance(p, KOfNParams):
        if not (isinstance(p.k, int) and p.k >= 1):
            bad("params.k", "must be a whole number of at least 1")
        elif p.n is not None and not (isinstance(p.n, int) and p.k <= p.n <= 100):
            bad("params.n", f"must be a whole number from k ({p.k}) to 100, or empty")
        if p.n is None and p.within is None:
            bad(spans, "give n or within (or both); without either the rule would read the whole history")
        if p.within is not None and not timedelta(0) < p.within <= timedelta(days=365):
            bad(spans, "must be a duration between 1 second and 365 days")
    if isinstance(p, WindowMeanParams):
        if not timedelta(0) < p.within <= timedelta(days=90):
            bad(spans, "must be a duration between 1 second and 90 days")
        if not (isinstance(p.min_readings, int) and p.min_readings >= 1):
            bad("params.min_readings", "must be a whole number of at least 1")
        if not (isinstance(p.min_days, int) and 1 <= p.min_days <= max(1, p.within // day + 1)):
            bad("params.min_days", "must be at least 1 and fit inside the window")
        if p.condition.meter_flags:
            bad("params.condition.meter_flags", "a meter flag has no value to average; leave empty")
    if isinstance(p, PersistentParams):
        if not (isinstance(p.count, int) and 2 <= p.count <= 10):
            bad("params.count", "must be a whole number from 2 to 10")
        elif p.min_spacing <= timedelta(0):
            bad("params.min_spacing", "must be a positive duration")
        elif p.within < p.min_spacing * (p.count - 1) or p.within > timedelta(days=7):
            bad(spans, "must hold count readings min_spacing apart, and be at most 7 days")
        _check_text(bad, "params.recheck_reason", p.recheck_reason, PLACEHOLDERS[RuleType.persistent])
    if isinstance(p, MissingDataParams):
        if p.reminder_after is None and p.callback_after is None:
            bad("params", "give reminder_after, callback_after or both")
        for name in ("reminder_after", "callback_after"):
            value = getattr(p, name)
            if value is not None and not timedelta(0) < value <= timedelta(days=400):
                bad(f"params.{name}", "must be a duration between 1 second and 400 days")
        if p.reminder_after and p.callback_after and p.reminder_after >= p.callback_after:
            bad("params.reminder_after", "must come before callback_after")
    if isinstance(p, SymptomParams) and any(not isinstance(t, str) or not t.strip() for t in p.terms):
        bad("params.terms", "every term must be non-empty text")
    condition = getattr(p, "condition", None)
    if isinstance(condition, Condition) and rule.kind is not None:
        _check_condition(bad, "params.condition", condition, rule.kind)


def _check_condition(bad: Callable[[str, str], None], at: str, c: Condition, kind: ReadingKind) -> None:
    units = UNITS_BY_KIND[kind]
    if kind is ReadingKind.blood_pressure:
        if c.bounds:
            bad(f"{at}.bounds", "blood pressure uses systolic and/or diastolic, not bounds")
        if c.systolic is None and c.diastolic is None:
            bad(at, "give a systolic or a diastolic bound (or both)")
        sides = [("systolic", c.systolic), ("diastolic", c.diastolic)]
        checked = [(f"{at}.{name}", b) for name, b in sides if b is not None]
    else:
        if c.systolic is not None or c.diastolic is not None:
            bad(at, f"systolic and diastolic are for blood pressure, not {kind}")
        if not c.bounds and not c.meter_flags:
            bad(f"{at}.bounds", "give at least one bound")
        checked = [(f"{at}.bounds[{i}]", b) for i, b in enumerate(c.bounds)]
    if c.meter_flags and kind is not ReadingKind.glucose:
        bad(f"{at}.meter_flags", "only glucose meters show HI/LO")
    for where, b in checked:
        given = [u for u, _ in b.values]
        for unit in units:
            if unit not in given:
                bad(
                    f"{where}.{unit}",
                    f"is required: {kind} thresholds are stated in {' and '.join(units)}"
                    " and compared in the unit the reading was sent in",
                )
        for unit, value in b.values:
            if unit not in units or given.count(unit) > 1:
                bad(f"{where}.{unit}", f"unknown or repeated unit; expected {', '.join(units)}")
            elif not value.is_finite() or value < 0:
                bad(f"{where}.{unit}", "must be a number of at least 0")
        mmol, mgdl = b.value_in(MMOL_L), b.value_in(MG_DL)
        if kind is ReadingKind.glucose and mmol is not None and mgdl is not None and mmol.is_finite():
            # Catch a typo such as 30 for 300: the two stated values must describe the same glucose.
            expected = mmol * MGDL_PER_MMOL
            if mgdl.is_finite() and abs(mgdl - expected) > max(Decimal(2), expected * Decimal("0.03")):
                bad(f"{where}.{MG_DL}", f"{mgdl} does not match {mmol} mmol/L (≈ {expected:.0f} mg/dL)")


def _check_text(bad: Callable[[str, str], None], at: str, text: LocalizedText, allowed: frozenset[str]) -> None:
    if not isinstance(text, LocalizedText):
        bad(at, "expected zh-CN and en texts")
        return
    for lang, value in (("zh-CN", text.zh_cn), ("en", text.en)):
        if not isinstance(value, str) or not value.strip():
            bad(f"{at}.{lang}", "is required")
            continue
        try:
            fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(value) if name is not None]
        except ValueError as exc:
            bad(f"{at}.{lang}", f"braces do not pair up ({exc}); write {{{{ and }}}} for literal braces")
            continue
        if any(spec or conv for _, spec, conv in fields):
            bad(f"{at}.{lang}", "write placeholders bare, such as {values}, without ':' or '!'")
            continue
        names = {name for name, _, _ in fields}
        unknown = sorted(names - allowed)
        if unknown:
            hint = f"allowed: {', '.join('{' + a + '}' for a in sorted(allowed))}" if allowed else "none allowed"
            bad(f"{at}.{lang}", f"unknown placeholder {', '.join('{' + u + '}' for u in unknown)}; {hint}")
