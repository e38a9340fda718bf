"""Pure evaluation of follow-up rules over plain reading values: what to read, and whether a rule fires."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from followup.enums import (
    Comparison,
    DayValue,
    DuePolicy,
    GlucoseContext,
    MeterFlag,
    ReadingKind,
    RuleOutcome,
    RuleType,
    Severity,
)
from followup.rules import texts
from followup.rules.definitions import (
    MG_DL,
    MGDL_PER_MMOL,
    MMHG,
    MMOL_L,
    READING_TYPES,
    Bound,
    Condition,
    ConsecutiveDaysParams,
    KOfNParams,
    LocalizedText,
    PersistentParams,
    RuleDefinition,
    SingleThresholdParams,
    WindowMeanParams,
)

# [DESIGN] "By the end of the same service day" (clinical-rules.md §3, S2) needs an hour; clinics set theirs.
DEFAULT_SERVICE_DAY_END = time(17, 30)
_OPS: dict[Comparison, Callable[[Decimal, Decimal], bool]] = {
    Comparison.ge: operator.ge,
    Comparison.gt: operator.gt,
    Comparison.le: operator.le,
    Comparison.lt: operator.lt,
}


@dataclass(frozen=True)
class ReadingFact:
    """A reading as the rules see it: the value and unit the patient sent, never a converted one."""

    id: int
    kind: ReadingKind
    taken_at: datetime  # timezone-aware
    value: Decimal | None = None
    unit: str | None = None  # "mmol/L", "mg/dL", "mmHg", "/min", "kg"
    systolic: int | None = None
    diastolic: int | None = None
    context: GlucoseContext | None = None
    meter_flag: MeterFlag | None = None


@dataclass(frozen=True)
class WindowSpec:
    """What the caller reads for a rule: readings of `kind` (and `contexts`) taken at or after `since`, and
    only the newest `limit` of them; limit 0 means the new readings alone are enough."""

    kind: ReadingKind | None
    contexts: tuple[GlucoseContext, ...] | None
    since: datetime | None
    limit: int | None


@dataclass(frozen=True)
class RuleHit:
    rule_code: str
    outcome: RuleOutcome  # callback, or recheck (the patient re-measures; nobody is called yet)
    severity: Severity
    due_at: datetime | None  # UTC; None for a recheck
    reading_ids: tuple[int, ...]
    reason: LocalizedText


@dataclass(frozen=True)
class _Trip:
    """What an evaluator found: the readings behind it and the numbers its text may quote."""

    readings: tuple[ReadingFact, ...]
    values: tuple[str, ...] | None = None  # None: the readings' own values
    numbers: dict[str, str] = field(default_factory=dict)
    outcome: RuleOutcome = RuleOutcome.callback


def applies_to(rule: RuleDefinition, reading: ReadingFact) -> bool:
    return reading.kind == rule.kind and (rule.contexts is None or reading.context in rule.contexts)


def window_for(rule: RuleDefinition, *, now: datetime, tz: ZoneInfo) -> WindowSpec:
    """The smallest slice of history the rule needs, so evaluation cost never grows with the history."""
    p, since, limit = rule.params, None, None
    if isinstance(p, ConsecutiveDaysParams):
        # N local days before the newest one, so a reading sent late for yesterday can still complete a run.
        first_day = now.astimezone(tz).date() - timedelta(days=p.days)
        since = datetime.combine(first_day, time(0), tzinfo=tz).astimezone(UTC)
    elif isinstance(p, KOfNParams):
        since, limit = (None if p.within is None else now - p.within), p.n
    elif isinstance(p, WindowMeanParams | PersistentParams):
        since = now - p.within
    else:
        limit = 0
    return WindowSpec(kind=rule.kind, contexts=rule.contexts, since=since, limit=limit)


def due_at(
    rule: RuleDefinition, *, now: datetime, tz: ZoneInfo, service_day_end: time = DEFAULT_SERVICE_DAY_END
) -> datetime:
    """now + due; for end_of_service_day, the first local service-day end at least `due` from now."""
    earliest = (now + rule.due).astimezone(UTC)
    if rule.due_policy is not DuePolicy.end_of_service_day:
        return earliest
    local = earliest.astimezone(tz)
    end = datetime.combine(local.date(), service_day_end, tzinfo=tz)
    if end < local:
        end = datetime.combine(local.date() + timedelta(days=1), service_day_end, tzinfo=tz)
    return end.astimezone(UTC)


def evaluate(
    rule: RuleDefinition,
    *,
    new_readings: Sequence[ReadingFact],
    window: Sequence[ReadingFact],
    tz: ZoneInfo,
    now: datetime,
    service_day_end: time = DEFAULT_SERVICE_DAY_END,
) -> RuleHit | None:
    """Whether the new readings make the rule fire. `window` is what window_for asked for (more is harmless:
    it is cut to the window again). A rule fires only when a new reading is among those that trip it, so
    re-evaluating old data never fires twice. Missing-data and symptom rules never fire here."""
    if rule.type not in READING_TYPES:
        return None
    new = [r for r in new_readings if applies_to(rule, r)]
    if not new:
        return None
    pool = _pool(rule, window_for(rule, now=now, tz=tz), new, window)
    new_ids = {r.id for r in new}
    trip = _EVALUATORS[rule.type](rule, pool, new_ids, tz)
    if trip is None or not new_ids.intersection(r.id for r in trip.readings):
        return None
    recheck = trip.outcome is RuleOutcome.recheck
    template = rule.params.recheck_reason if recheck and isinstance(rule.params, PersistentParams) else rule.reason
    return RuleHit(
        rule_code=rule.code,
        outcome=trip.outcome,
        severity=rule.severity,
        due_at=None if recheck else due_at(rule, now=now, tz=tz, service_day_end=service_day_end),
        reading_ids=tuple(r.id for r in trip.readings),
        reason=LocalizedText(
            zh_cn=_reason(rule, template.zh_cn, trip, "zh-CN"), en=_reason(rule, template.en, trip, "en")
        ),
    )


def matches(condition: Condition, reading: ReadingFact) -> bool:
    """One reading against a condition, in the unit it was sent in; a meter flag matches if listed."""
    if reading.meter_flag is not None:
        return reading.meter_flag in condition.meter_flags
    if condition.systolic is not None or condition.diastolic is not None:
        sides = ((condition.systolic, reading.systolic), (condition.diastolic, reading.diastolic))
        return any(b is not None and v is not None and _holds(b, Decimal(v), MMHG) for b, v in sides)
    if reading.value is None or not condition.bounds:
        return False
    return all(_holds(b, Decimal(reading.value), reading.unit) for b in condition.bounds)


def _holds(bound: Bound, value: Decimal, unit: str | None) -> bool:
    limit = bound.value_in(unit)  # a unit the rule does not state is never compared after a conversion
    return limit is not None and value.is_finite() and _OPS[bound.op](value, limit)


def _pool(
    rule: RuleDefinition, spec: WindowSpec, new: list[ReadingFact], window: Sequence[ReadingFact]
) -> list[ReadingFact]:
    if spec.limit == 0:
        return sorted(new, key=_order)
    by_id = {r.id: r for r in window if applies_to(rule, r)}
    by_id.update((r.id, r) for r in new)
    pool = sorted((r for r in by_id.values() if spec.since is None or r.taken_at >= spec.since), key=_order)
    return pool if spec.limit is None else pool[-spec.limit :]


def _order(reading: ReadingFact) -> tuple[datetime, int]:
    return reading.taken_at, reading.id


def _single(rule: RuleDefinition, pool: list[ReadingFact], new_ids: set[int], tz: ZoneInfo) -> _Trip | None:
    p = rule.params
    assert isinstance(p, SingleThresholdParams)
    tripped = tuple(r for r in pool if matches(p.condition, r))
    return _Trip(readings=tripped) if tripped else None


def _consecutive(rule: RuleDefinition, pool: list[ReadingFact], new_ids: set[int], tz: ZoneInfo) -> _Trip | None:
    p = rule.params
    assert isinstance(p, ConsecutiveDaysParams)
    days: dict[date, list[ReadingFact]] = {}
    for reading in pool:  # the patient's local day: 23:50 and 00:10 in Shanghai are two days
        days.setdefault(reading.taken_at.astimezone(tz).date(), []).append(reading)
    verdicts = {day: _day_verdict(rule, p, readings) for day, readings in days.items()}
    for last in sorted(days, reverse=True):  # the newest run that a new reading is part of
        run = [last - timedelta(days=i) for i in range(p.days - 1, -1, -1)]
        if not all(day in verdicts and verdicts[day] is not None for day in run):
            continue
        found = [verdict for day in run if (verdict := verdicts[day]) is not None]
        readings = tuple(r for contributors, _ in found for r in contributors)
        if new_ids.intersection(r.id for r in readings):
            unit = texts.display_unit(rule.kind, readings)
            values = tuple(text for contributors, mean in found for text in _day_texts(contributors, mean, unit))
            return _Trip(readings=readings, values=values, numbers={"days": str(p.days)})
    return None


def _day_verdict(
    rule: RuleDefinition, p: ConsecutiveDaysParams, readings: list[ReadingFact]
) -> tuple[list[ReadingFact], tuple[str, str | None] | None] | None:
    """The readings that make the day count (and the day's mean as text with its unit, when the day's value
    is a mean), or None if the day does not count."""
    if p.day_value is DayValue.every:
        return (readings, None) if all(matches(p.condition, r) for r in readings) else None
    if p.day_value is DayValue.mean:
        mean = _mean(p.condition, rule.kind, readings)
        if mean is not None:
            ok, used, text, unit = mean
            return (used, (text, unit)) if ok else None
        # only meter flags that day: no number to average, so the flags speak for the day
    pick = min if p.day_value is DayValue.min else max
    chosen = pick(readings, key=_rank)
    return ([chosen], None) if matches(p.condition, chosen) else None


def _day_texts(contributors: list[ReadingFact], mean: tuple[str, str | None] | None, unit: str | None) -> list[str]:
    if mean is None:
        return [texts.reading_value(r, unit) for r in contributors]
    text, mean_unit = mean
    return [text if mean_unit == unit else texts.with_unit(text, mean_unit)]


def _rank(reading: ReadingFact) -> tuple[Decimal, Decimal]:
    """Order readings across units (only to choose the day's highest or lowest, never to compare)."""
    if reading.meter_flag is not None:
        edge = Decimal("Infinity") if reading.meter_flag is MeterFlag.hi else Decimal("-Infinity")
        return edge, edge
    if reading.kind is ReadingKind.blood_pressure:
        return Decimal(reading.systolic or 0), Decimal(reading.diastolic or 0)
    value = Decimal(reading.value) if reading.value is not None else Decimal("-Infinity")
    return (value / MGDL_PER_MMOL if reading.unit == MG_DL else value), Decimal(0)


def _mean(
    condition: Condition, kind: ReadingKind | None, readings: Sequence[ReadingFact]
) -> tuple[bool, list[ReadingFact], str, str | None] | None:
    """Whether the mean meets the condition, the readings averaged, the mean as text, and its unit."""
    if kind is ReadingKind.blood_pressure:
        used = [r for r in readings if r.systolic is not None and r.diastolic is not None]
        if not used:
            return None
        sbp = Decimal(sum(r.systolic or 0 for r in used)) / len(used)
        dbp = Decimal(sum(r.diastolic or 0 for r in used)) / len(used)
        ok = any(
            b is not None and _holds(b, v, MMHG) for b, v in ((condition.systolic, sbp), (condition.diastolic, dbp))
        )
        return ok, used, f"{texts.mean_number(sbp, MMHG)}/{texts.mean_number(dbp, MMHG)}", MMHG
    used = [r for r in readings if r.meter_flag is None and r.value is not None and r.value.is_finite()]
    if not used:
        return None
    # A mean of mixed units needs one unit: the newest reading's. Converting here is unavoidable and the
    # mean is not a value anybody sent, so §0.3 (compare single readings as sent) is not at stake.
    unit = used[-1].unit
    converted = [(r, _convert(r.value, r.unit, unit)) for r in used if r.value is not None]
    values = [v for _, v in converted if v is not None]  # never empty: the newest reading is in its own unit
    mean = sum(values, Decimal(0)) / len(values)
    ok = bool(condition.bounds) and all(_holds(b, mean, unit) for b in condition.bounds)
    return ok, [r for r, v in converted if v is not None], texts.mean_number(mean, unit), unit


def _convert(value: Decimal, unit: str | None, to: str | None) -> Decimal | None:
    if unit == to:
        return value
    if (unit, to) == (MMOL_L, MG_DL):
        return value * MGDL_PER_MMOL
    if (unit, to) == (MG_DL, MMOL_L):
        return value / MGDL_PER_MMOL
    return None


def _k_of_n(rule: RuleDefinition, pool: list[ReadingFact], new_ids: set[int], tz: ZoneInfo) -> _Trip | None:
    p = rule.params
    assert isinstance(p, KOfNParams)
    tripped = tuple(r for r in pool if matches(p.condition, r))
    if len(tripped) < p.k:
        return None
    return _Trip(readings=tripped, numbers={"k": str(p.k), "n": str(p.n if p.n is not None else len(pool))})


def _window_mean(rule: RuleDefinition, pool: list[ReadingFact], new_ids: set[int], tz: ZoneInfo) -> _Trip | None:
    p = rule.params
    assert isinstance(p, WindowMeanParams)
    mean = _mean(p.condition, rule.kind, pool)
    if mean is None:
        return None
    ok, used, text, _ = mean
    days = {r.taken_at.astimezone(tz).date() for r in used}
    if not ok or len(used) < p.min_readings or len(days) < p.min_days:
        return None
    return _Trip(readings=tuple(used), numbers={"mean": text, "count": str(len(used)), "days": str(len(days))})


def _persistent(rule: RuleDefinition, pool: list[ReadingFact], new_ids: set[int], tz: ZoneInfo) -> _Trip | None:
    p = rule.params
    assert isinstance(p, PersistentParams)
    run: list[ReadingFact] = []
    for reading in reversed(pool):  # the latest unbroken run: a normal reading in between ends persistence
        if not matches(p.condition, reading):
            break
        run.insert(0, reading)
    if not run:
        return None
    chain = [run[0]]
    for reading in run[1:]:  # a re-check sooner than min_spacing neither counts nor breaks the run
        if reading.taken_at - chain[-1].taken_at >= p.min_spacing:
            chain.append(reading)
    outcome = RuleOutcome.callback if len(chain) >= p.count else RuleOutcome.recheck
    return _Trip(readings=tuple(run), numbers={"count": str(p.count)}, outcome=outcome)


_EVALUATORS: dict[RuleType, Callable[[RuleDefinition, list[ReadingFact], set[int], ZoneInfo], _Trip | None]] = {
    RuleType.single_threshold: _single,
    RuleType.consecutive_days: _consecutive,
    RuleType.k_of_n: _k_of_n,
    RuleType.window_mean: _window_mean,
    RuleType.persistent: _persistent,
}


def _reason(rule: RuleDefinition, template: str, trip: _Trip, lang: str) -> str:
    readings = trip.readings
    unit = texts.display_unit(rule.kind, readings)
    condition: Condition | None = getattr(rule.params, "condition", None)
    values = list(trip.values) if trip.values is not None else [texts.reading_value(r, unit) for r in readings]
    fill = {
        "subject": texts.subject(rule.kind, readings, lang),
        "unit": unit or "",
        "condition": texts.condition_text(condition, rule.kind, unit, lang),
        "threshold": texts.threshold_text(condition, rule.kind, unit),
        "values": texts.join(values, lang),
        "readings": texts.values_with_unit(values, unit, lang),
        "within": texts.duration_text(getattr(rule.params, "within", None), lang),
        "min_spacing": texts.duration_text(getattr(rule.params, "min_spacing", None), lang),
        **trip.numbers,
    }
    return texts.render(template, fill)
