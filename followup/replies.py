"""Patient SMS replies (clinical-rules.md §6.6) in zh-CN or en: every value echoed, one segment, no diagnosis."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core.sms_segments import fits_one_segment
from followup.enums import GlucoseQualifier, Intent, QuestionKind, ReadingKind, ReplyTier
from followup.grammar import ParsedMessage
from followup.units import Unit, convert_glucose
from followup.validation import Interpretation, Question, ResolvedReading

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
LANGUAGES = ("zh-CN", "en")
# Characters a carrier adds to every message: the mandatory 【签名】 in China (【XX社区卫生服务中心】 is 12),
# nothing on a US long code. A clinic passes its own.
DEFAULT_SIGNATURE_LENGTH: MappingProxyType[str, int] = MappingProxyType({"zh-CN": 12, "en": 0})


class ReplyKind(StrEnum):
    """One reply template each (templates/sms/reply_<kind>.<lang>.txt)."""

    recorded = "recorded"
    urgent_bp = "urgent_bp"
    urgent_glucose_high = "urgent_glucose_high"
    urgent_low = "urgent_low"
    same_day_low = "same_day_low"
    recheck = "recheck"
    symptom = "symptom"
    confirm_glucose_unit = "confirm_glucose_unit"
    confirm_bp_order = "confirm_bp_order"
    ask_weight_unit = "ask_weight_unit"
    ask_label = "ask_label"
    reject = "reject"
    unparsed = "unparsed"
    help = "help"
    opt_out_like = "opt_out_like"
    confirmed = "confirmed"
    discarded = "discarded"
    not_registered = "not_registered"
    opted_in = "opted_in"
    complaint_received = "complaint_received"


# Kinds that echo the accepted readings ("已收到：…。") before their own text.
_SUMMARY_KINDS = frozenset({
    ReplyKind.recorded, ReplyKind.urgent_bp, ReplyKind.urgent_glucose_high, ReplyKind.urgent_low,
    ReplyKind.same_day_low, ReplyKind.recheck, ReplyKind.symptom, ReplyKind.confirm_glucose_unit,
    ReplyKind.confirm_bp_order, ReplyKind.ask_weight_unit, ReplyKind.ask_label, ReplyKind.reject,
})
_QUESTION_KINDS = {
    QuestionKind.glucose_unit: ReplyKind.confirm_glucose_unit,
    QuestionKind.bp_order: ReplyKind.confirm_bp_order,
    QuestionKind.weight_unit: ReplyKind.ask_weight_unit,
    QuestionKind.bare_ambiguous: ReplyKind.ask_label,
}
_ACTION_TIERS = frozenset({
    ReplyTier.urgent_bp, ReplyTier.urgent_glucose_high, ReplyTier.urgent_low, ReplyTier.same_day_low,
})
_EMERGENCY_NUMBER = re.compile(r"[0-9][0-9 /]{0,10}")

_QUALIFIER_TEXT = {
    "zh-CN": {
        GlucoseQualifier.fasting: "空腹", GlucoseQualifier.premeal: "餐前", GlucoseQualifier.pp1h: "餐后1h",
        GlucoseQualifier.pp2h: "餐后2h", GlucoseQualifier.postprandial: "餐后", GlucoseQualifier.bedtime: "睡前",
    },
    "en": {
        GlucoseQualifier.fasting: "fasting", GlucoseQualifier.premeal: "before meal",
        GlucoseQualifier.pp1h: "1h after meal", GlucoseQualifier.pp2h: "2h after meal",
        GlucoseQualifier.postprandial: "after meal", GlucoseQualifier.bedtime: "bedtime",
    },
}
_WEIGHT_UNIT_TEXT = {
    "zh-CN": {Unit.kg: "公斤", Unit.jin: "斤", Unit.lb: "磅"},
    "en": {Unit.kg: " kg", Unit.jin: " jin", Unit.lb: " lb"},
}
# zh: items written together ("150/95/72") are joined by a space, separate items by "，" (§6.8 #16, #55).
_JOIN = {"zh-CN": (" ", "，", "等"), "en": (", ", ", ", " etc")}


def language_of(language: str) -> str:
    """"zh", "zh-cn", "zh-Hans" → "zh-CN"; anything else → "en"."""
    return "zh-CN" if language.lower().startswith("zh") else "en"


def compose_reply(
    *,
    kind: ReplyKind,
    language: str,
    emergency_number: str,
    readings: Sequence[ResolvedReading] = (),
    question: Question | None = None,
    urgent: bool = False,
    glucose_unit: str = Unit.mmol_l,
    signature_length: int | None = None,
) -> str:
    """Render one reply. `readings` are echoed in summary kinds; `question` fills the confirm kinds and
    `urgent` switches them to "we will call you" (an interpretation is dangerous). A summary that would
    overflow one segment is cut to its first items plus 等/etc, then dropped, so the instruction survives."""
    lang = language_of(language)
    if not _EMERGENCY_NUMBER.fullmatch(emergency_number):
        raise ValueError(f"emergency number must be a short dial string, not {emergency_number!r}")
    reserve = DEFAULT_SIGNATURE_LENGTH[lang] if signature_length is None else signature_length
    preferred = Unit(str(glucose_unit))
    base: dict[str, Any] = {
        "n": emergency_number,
        "urgent": urgent,
        "g": "7.2" if preferred is Unit.mmol_l else "130",  # a format example in the patient's own unit
        "summary": "",
    }
    if question is not None:
        base.update(_question_fields(question, lang, preferred))
    template = _environment().get_template(f"sms/reply_{kind}.{lang}.txt")
    text = ""
    for summary in _summaries(readings, lang) if kind in _SUMMARY_KINDS else [""]:
        text = template.render(base, summary=summary).strip()
        if fits_one_segment(text, reserve=reserve):
            return text
    return text  # only reachable with absurd input; a reply that costs two segments still goes out


def reply_for_message(
    *,
    parsed: ParsedMessage,
    interpretation: Interpretation,
    tier: ReplyTier | None,
    language: str,
    emergency_number: str,
    glucose_unit: str = Unit.mmol_l,
    signature_length: int | None = None,
    carrier_answers_keywords: bool = True,
) -> str | None:
    """The reply to one inbound message, or None when the app must stay silent (an opt-out; a keyword
    Twilio already answered). `tier` is the rules engine's decision for the message (None: no rule ran)."""

    def render(kind: ReplyKind, **extra: Any) -> str:
        return compose_reply(
            kind=kind, language=language, emergency_number=emergency_number, glucose_unit=glucose_unit,
            signature_length=signature_length, **extra,
        )

    carrier_answered = carrier_answers_keywords and parsed.carrier_keyword
    accepted = interpretation.accepted
    questions = interpretation.questions
    if tier is ReplyTier.symptom:  # an emergency outranks everything, whatever else the message was
        return render(ReplyKind.symptom, readings=accepted)
    match interpretation.intent:
        case Intent.opt_out:
            return None  # record it and send nothing more (§5.4; Twilio answers STOP itself)
        case Intent.opt_in:
            return None if carrier_answered else render(ReplyKind.opted_in)
        case Intent.help:
            return None if carrier_answered else render(ReplyKind.help)
        case Intent.confirm:
            return render(ReplyKind.confirmed)
        case Intent.reject:
            return render(ReplyKind.discarded)
        case Intent.opt_out_like:
            return render(ReplyKind.opt_out_like)
        case Intent.unparsed:
            if any(q.kind is QuestionKind.bare_ambiguous for q in questions):
                # "2" from a patient in both programmes may be a dangerous glucose the caller escalated.
                return render(ReplyKind.ask_label, urgent=tier in _ACTION_TIERS)
            return render(ReplyKind.unparsed)
    # One reply per message, most important part first; accepted readings are echoed in front of
    # whatever is said, as far as one segment allows.
    if tier in _ACTION_TIERS and (accepted or questions):
        if not accepted:
            # The only reading is in question and one of its meanings is dangerous (§6.8 #40): ask and
            # say we will call, in one message.
            return render(_QUESTION_KINDS[questions[0].kind], question=questions[0], urgent=True)
        return render(ReplyKind(str(tier)), readings=accepted)
    if questions:
        return render(_QUESTION_KINDS[questions[0].kind], question=questions[0], readings=accepted)
    if interpretation.rejected:
        return render(ReplyKind.reject, readings=accepted)
    recheck = tier is ReplyTier.recheck or any(v.recheck for v in interpretation.verdicts)
    return render(ReplyKind.recheck if recheck else ReplyKind.recorded, readings=accepted)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Plain text, not HTML: no autoescape. StrictUndefined turns a misspelt variable into an error in tests.
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=False,
        keep_trailing_newline=False,
        undefined=StrictUndefined,
    )


def _number(value: Decimal) -> str:
    return format(value, "f")


def format_reading(reading: ResolvedReading, *, language: str, compact: bool = False) -> str:
    """One echoed reading: 血压150/95, 血糖7.2(空腹), 体重130斤 / BP 150/95, glucose 202 mg/dL."""
    lang = language_of(language)
    zh = lang == "zh-CN"
    values = "/".join(_number(v) for v in reading.values)
    if reading.kind is ReadingKind.blood_pressure:
        return f"血压{values}" if zh else f"BP {values}"
    if reading.kind is ReadingKind.heart_rate:
        return f"心率{values}" if zh else f"pulse {values}"
    if reading.kind is ReadingKind.weight:
        unit = _WEIGHT_UNIT_TEXT[lang].get(reading.unit, f" {reading.unit}")
        return f"体重{values}{unit}" if zh else f"weight {values}{unit}"
    if reading.flag is not None:
        shown = reading.flag.upper()
    elif zh:  # mmol/L is what Chinese meters show, so only mg/dL is spelt out
        shown = values + ("mg/dL" if reading.unit is Unit.mg_dl else "")
    else:
        shown = f"{values} {reading.unit}"
    qualifier = None if compact or reading.qualifier is None else _QUALIFIER_TEXT[lang].get(reading.qualifier)
    if zh:
        return f"血糖{shown}" + (f"({qualifier})" if qualifier else "")
    return f"glucose {shown}" + (f" ({qualifier})" if qualifier else "")


def _summaries(readings: Sequence[ResolvedReading], lang: str) -> Iterator[str]:
    """Summaries from the full echo down to nothing, for the first one that fits."""
    within, between, etc = _JOIN[lang]
    groups: list[list[ResolvedReading]] = []
    for r in readings:
        if groups and groups[-1][-1].group == r.group:
            groups[-1].append(r)
        else:
            groups.append([r])
    items = [within.join(format_reading(r, language=lang) for r in g) for g in groups]
    for k in range(len(items), 0, -1):
        yield between.join(items[:k]) + (etc if k < len(items) else "")
    if readings:
        yield format_reading(readings[0], language=lang, compact=True) + (etc if len(readings) > 1 else "")
    yield ""


def _question_fields(question: Question, lang: str, preferred: Unit) -> dict[str, Any]:
    zh = lang == "zh-CN"
    fields: dict[str, Any] = {"value": "/".join(_number(v) for v in question.sent)}
    if question.kind is QuestionKind.bp_order and len(question.sent) == 2:
        fields["a"], fields["b"] = (_number(v) for v in question.sent)
    proposed = question.proposed
    if question.kind is QuestionKind.glucose_unit and proposed is not None and proposed.values:
        # "是请回复确认，否则请按“血糖6.2”格式重发": the example is the same reading in the other unit, so the
        # patient sees at once which number they meant (§6.8 #39: 112 mg/dL = 6.2 mmol/L).
        other = Unit.mmol_l if proposed.unit is Unit.mg_dl else Unit.mg_dl
        example = _number(convert_glucose(proposed.values[0], from_unit=proposed.unit, to_unit=other))
        fields["unit"] = str(proposed.unit)
        fields["example"] = example + ("" if zh and other is Unit.mmol_l else ("mg/dL" if zh else f" {other}"))
    else:
        fields["unit"] = str(preferred)
        fields["example"] = ""
    return fields
