"""The words of a rule hit in zh-CN and en: subjects, values, thresholds and durations for a rule's texts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from followup.enums import Comparison, GlucoseContext, MeterFlag, ReadingKind
from followup.rules.definitions import KG, MMHG, MMOL_L, UNITS_BY_KIND, Bound, Condition

if TYPE_CHECKING:
    from followup.rules.evaluate import ReadingFact

_SYMBOLS = {Comparison.ge: "≥", Comparison.gt: ">", Comparison.le: "≤", Comparison.lt: "<"}
_KIND_SUBJECTS = {
    ReadingKind.glucose: ("血糖", "Glucose"),
    ReadingKind.blood_pressure: ("血压", "Blood pressure"),
    ReadingKind.heart_rate: ("心率", "Heart rate"),
    ReadingKind.weight: ("体重", "Weight"),
}
_CONTEXT_SUBJECTS = {
    GlucoseContext.fasting: ("空腹血糖", "Fasting glucose"),
    GlucoseContext.before_meal: ("餐前血糖", "Before-meal glucose"),
    GlucoseContext.after_meal_1h: ("餐后1小时血糖", "1-hour after-meal glucose"),
    GlucoseContext.after_meal_2h: ("餐后2小时血糖", "2-hour after-meal glucose"),
    GlucoseContext.bedtime: ("睡前血糖", "Bedtime glucose"),
    GlucoseContext.random: ("随机血糖", "Random glucose"),
}
_DURATION_UNITS = (
    (timedelta(days=1), "天", "day"),
    (timedelta(hours=1), "小时", "hour"),
    (timedelta(minutes=1), "分钟", "minute"),
    (timedelta(seconds=1), "秒", "second"),
)


def is_zh(lang: str) -> bool:
    return lang.lower().startswith("zh")


def pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if is_zh(lang) else pair[1]


def join(items: Sequence[str], lang: str) -> str:
    return ("、" if is_zh(lang) else ", ").join(items)


def subject(kind: ReadingKind | None, readings: Sequence[ReadingFact], lang: str) -> str:
    """ "Fasting glucose" when every reading shares one context, else the kind ("Glucose")."""
    if kind is None:
        return pick(("读数", "Readings"), lang)
    contexts = {r.context for r in readings}
    if kind is ReadingKind.glucose and len(contexts) == 1:
        context = contexts.pop()
        if context is not None:
            return pick(_CONTEXT_SUBJECTS[context], lang)
    return pick(_KIND_SUBJECTS[kind], lang)


def number(value: Decimal, unit: str | None) -> str:
    """The value as sent, padded to one decimal for mmol/L and kg ("11" → "11.0"), never rounded away."""
    places = 1 if unit in (MMOL_L, KG) else 0
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent < places:
        value = value.quantize(Decimal(1).scaleb(-places))
    return f"{value:f}"


def mean_number(value: Decimal, unit: str | None) -> str:
    """A mean to one decimal; whole-number units drop a trailing .0 (138/86, 134.7/85.0 → 134.7/85)."""
    text = f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):f}"
    return text[:-2] if unit not in (MMOL_L, KG) and text.endswith(".0") else text


def with_unit(text: str, unit: str | None) -> str:
    if not unit:
        return text
    return f"{text}{unit}" if unit.startswith("/") else f"{text} {unit}"


def display_unit(kind: ReadingKind | None, readings: Sequence[ReadingFact]) -> str | None:
    """The unit of the newest reading that carries a value, so the text speaks the patient's unit."""
    if kind is None:
        return None
    if kind is ReadingKind.blood_pressure:
        return MMHG
    units = UNITS_BY_KIND[kind]
    for reading in reversed(readings):
        if reading.meter_flag is None and reading.unit in units:
            return reading.unit
    return units[0]


def reading_value(reading: ReadingFact, unit: str | None) -> str:
    """One reading as shown in a reason; a value sent in another unit than the text's keeps its own unit."""
    if reading.meter_flag is not None:
        return "HI" if reading.meter_flag is MeterFlag.hi else "LO"
    if reading.kind is ReadingKind.blood_pressure:
        return f"{reading.systolic}/{reading.diastolic}"
    if reading.value is None:
        return "?"
    text = number(Decimal(reading.value), reading.unit)
    return text if reading.unit == unit else with_unit(text, reading.unit)


def values_with_unit(values: Sequence[str], unit: str | None, lang: str) -> str:
    text = join(values, lang)
    return text if all(v in ("HI", "LO") for v in values) else with_unit(text, unit)


def condition_text(condition: Condition | None, kind: ReadingKind | None, unit: str | None, lang: str) -> str:
    """The condition in the text's unit: "≥16.7 mmol/L or HI", "SBP ≥180 or DBP ≥110 mmHg"."""
    if condition is None or kind is None:
        return ""
    and_, or_ = ("且", "或") if is_zh(lang) else (" and ", " or ")
    if kind is ReadingKind.blood_pressure:
        sides = ((("收缩压", "SBP "), condition.systolic), (("舒张压", "DBP "), condition.diastolic))
        text = or_.join(f"{pick(label, lang)}{_bound_text(b, MMHG)}" for label, b in sides if b is not None)
        return with_unit(text, MMHG)
    parts = and_.join(_bound_text(b, unit) for b in condition.bounds)
    text = with_unit(parts, unit) if parts else ""
    flags = [("HI" if f is MeterFlag.hi else "LO") for f in condition.meter_flags]
    return or_.join([t for t in [text, *flags] if t])


def threshold_text(condition: Condition | None, kind: ReadingKind | None, unit: str | None) -> str:
    """The bare threshold for "above {threshold}" texts: "10.0 mmol/L", "135/85 mmHg"."""
    if condition is None or kind is None:
        return ""
    if kind is ReadingKind.blood_pressure:
        sides = [b for b in (condition.systolic, condition.diastolic) if b is not None]
        return with_unit("/".join(_value_text(b, MMHG) for b in sides), MMHG)
    return with_unit(_value_text(condition.bounds[0], unit), unit) if condition.bounds else ""


def duration_text(value: timedelta | None, lang: str) -> str:
    if value is None:
        return ""
    for size, zh, en in _DURATION_UNITS:
        if value % size == timedelta(0) and value >= size:
            count = value // size
            return f"{count}{zh}" if is_zh(lang) else f"{count} {en}{'' if count == 1 else 's'}"
    return str(value)


def render(template: str, fill: Mapping[str, str]) -> str:
    """Fill a rule text; definitions allow only known placeholders, so a failure here means a stale text."""
    try:
        return template.format_map(fill)
    except (KeyError, IndexError, ValueError, AttributeError):
        return template


def _bound_text(b: Bound, unit: str | None) -> str:
    return f"{_SYMBOLS[b.op]}{_value_text(b, unit)}"


def _value_text(b: Bound, unit: str | None) -> str:
    value = b.value_in(unit)
    if value is None:  # no value for this unit: show the first stated one with its unit
        first_unit, value = b.values[0]
        return with_unit(number(value, first_unit), first_unit)
    return number(value, unit)
