"""The SMS reading language: what a patient typed, read as control words, readings and symptoms (§6.3).

Pure: no database, no patient. Which measure a bare number is (glucose or blood pressure) depends on the
patient's programmes and is decided by followup.validation, not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal

from followup.enums import GlucoseQualifier, Intent, MeterFlag, ReadingKind
from followup.grammar.lexicon import (
    BP_KEYWORDS,
    CONTROL_WORDS,
    DIA_KEYWORDS,
    GLUCOSE_KEYWORDS,
    GLUCOSE_UNIT_WORDS,
    HR_KEYWORDS,
    HR_UNIT_WORDS,
    OPT_OUT_LIKE_PATTERNS,
    QUALIFIER_WORDS,
    SYMPTOM_LEXICON,
    SYS_KEYWORDS,
    TWILIO_KEYWORDS,
    WEIGHT_KEYWORDS,
    WEIGHT_UNIT_WORDS,
    alternation,
)
from followup.grammar.normalise import CONSUMED, MAX_BODY_CHARS, normalise
from followup.units import Unit, normalise_unit

__all__ = ["MAX_BODY_CHARS", "SYMPTOM_LEXICON", "ParsedMessage", "ParsedReading", "normalise", "parse"]


@dataclass(frozen=True)
class ParsedReading:
    """One reading as written. `kind` None means bare numbers ("150 95", "11.2", "7") that only the
    patient's enrolment can resolve; `values` is (systolic, diastolic) for blood pressure and empty for a
    meter flag (HI/LO)."""

    kind: ReadingKind | None
    values: tuple[Decimal, ...] = ()
    unit: Unit | None = None
    qualifier: GlucoseQualifier | None = None
    flag: MeterFlag | None = None
    group: int = 0  # readings written as one item ("150/95/72" → BP and heart rate) share a group
    text: str = ""  # the normalised text the reading was read from
    start: int = 0  # its offset in ParsedMessage.normalised

    @property
    def has_decimal_point(self) -> bool:
        return any(v.as_tuple().exponent < 0 for v in self.values)  # type: ignore[operator]


@dataclass(frozen=True)
class ParsedMessage:
    intent: Intent
    readings: tuple[ParsedReading, ...] = ()
    symptoms: tuple[str, ...] = ()  # lexicon terms found, in message order
    keyword: str | None = None  # the control word, normalised ("stop", "退订", "确认")
    normalised: str = ""
    language_hint: str | None = None  # "zh-CN" if the body has Chinese, "en" if it has Latin letters

    @property
    def carrier_keyword(self) -> bool:
        """True when Twilio itself acts on (and auto-answers) this single-word message."""
        return self.keyword in TWILIO_KEYWORDS


# --- patterns over normalised text (NFKC, lower-case, ASCII digits) ---------------------------------------

_NUM = r"(?<![0-9.])([0-9]{1,4}(?:\.[0-9]{1,3})?)(?![0-9]|\.[0-9])"
_BPNUM = r"(?<![0-9.])([0-9]{1,3}(?:\.[0-9]{1,2})?)(?![0-9]|\.[0-9])"
_INT3 = r"(?<![0-9.])([0-9]{1,3})(?![0-9]|\.[0-9])"
# Decimal comma ("11,2") is a European habit: accepted only right after a glucose keyword (§6.3).
_GLU_VALUE = (
    r"(?:(?<![0-9.])([0-9]{1,2},[0-9]{1,2})(?![0-9.,])"
    r"|" + _NUM + r"|(hi|lo|high|low)(?![a-z])(?!\s*[0-9]))"  # "sugar low 3.2" is a value, not a flag
)
_FILL = r"\s*(?:值)?\s*(?:[:=]|是|为|(?<![a-z])(?:is|was|of)(?![a-z]))?\s*"
_BP_TAIL = r"(?:\s*(?:mmhg|毫米汞柱))?"

_BP_KW = alternation(BP_KEYWORDS)
_SYS_KW = alternation(SYS_KEYWORDS)
_DIA_KW = alternation(DIA_KEYWORDS)
_GLU_KW = alternation(GLUCOSE_KEYWORDS)
_HR_KW = alternation(HR_KEYWORDS)
_WT_KW = alternation(WEIGHT_KEYWORDS)
_GLU_UNIT = alternation(GLUCOSE_UNIT_WORDS)
# Without a glucose keyword only unmistakable units count: "500mg" is far more often a tablet than a glucose.
_GLU_UNIT_STRICT = alternation(tuple(u for u in GLUCOSE_UNIT_WORDS if u != "mg"))
_WT_UNIT = alternation(WEIGHT_UNIT_WORDS)
_HR_UNIT = alternation(HR_UNIT_WORDS)
_HR_UNIT_STRICT = alternation(tuple(u for u in HR_UNIT_WORDS if u != "次"))  # "吃了2次药" is not a pulse
_QUAL = alternation(tuple(QUALIFIER_WORDS))
_ANY_UNIT = alternation(GLUCOSE_UNIT_WORDS + WEIGHT_UNIT_WORDS + HR_UNIT_WORDS)

_SEP = r"\s*[/\\|-]\s*"
_SPACE_OR_COMMA = r"(?:\s*,\s*|\s+)"


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# (name, pattern) in priority order: a span consumed by one pattern is not read again.
_READING_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("sys_dia", _c(_SYS_KW + _FILL + _BPNUM + r"[\s,]*" + _DIA_KW + _FILL + _BPNUM + _BP_TAIL)),
    ("dia_sys", _c(_DIA_KW + _FILL + _BPNUM + r"[\s,]*" + _SYS_KW + _FILL + _BPNUM + _BP_TAIL)),
    ("bp_sep", _c(_BP_KW + _FILL + _BPNUM + _SEP + _BPNUM + rf"(?:{_SEP}{_INT3})?" + _BP_TAIL)),
    (
        "bp_space",
        _c(
            _BP_KW + _FILL + _BPNUM + _SPACE_OR_COMMA + _BPNUM
            + rf"(?:{_SPACE_OR_COMMA}{_INT3}(?![.,]?[0-9])(?!\s*{_ANY_UNIT}))?" + _BP_TAIL
        ),
    ),
    ("bp_single", _c(_BP_KW + _FILL + _BPNUM + _BP_TAIL)),
    # Without a keyword, "/" "\" "|" always mean blood pressure; "-" only between 2-3 digit numbers so a
    # date such as 5-1 is not read as a reading.
    (
        "slash",
        _c(
            r"(?<![0-9./\\|-])" + _BPNUM + r"\s*[/\\|]\s*" + _BPNUM
            + r"(?:\s*[/\\|]\s*" + _INT3 + r")?(?![0-9./\\|])" + _BP_TAIL
        ),
    ),
    (
        "dash",
        _c(
            r"(?<![0-9./\\|-])([0-9]{2,3})\s*-\s*([0-9]{2,3})(?:\s*-\s*([0-9]{2,3}))?(?![0-9./\\|-])"
            + _BP_TAIL
        ),
    ),
    (
        "glucose",
        _c(
            rf"(?:({_QUAL})\s*)?{_GLU_KW}(?:\s*({_QUAL}))?{_FILL}{_GLU_VALUE}"
            rf"(?:\s*({_GLU_UNIT}))?(?:\s*({_QUAL})(?!\s*{_GLU_KW}))?"
        ),
    ),
    # A timing word straight before a number ("空腹6.8", "fbg 6.8") is a glucose reading, unless more
    # numbers follow ("空腹 150 95" stays bare blood pressure).
    (
        "qualifier_glucose",
        _c(rf"({_QUAL}){_FILL}{_NUM}(?:\s*({_GLU_UNIT}))?(?!\s*[,/\\|-]?\s*[0-9])"),
    ),
    ("pulse", _c(_HR_KW + _FILL + _NUM + rf"(?:\s*{_HR_UNIT})?")),
    ("weight", _c(_WT_KW + _FILL + _NUM + rf"(?:\s*({_WT_UNIT}))?")),
    ("unit_weight", _c(_NUM + rf"\s*({_WT_UNIT})")),
    ("unit_glucose", _c(_NUM + rf"\s*({_GLU_UNIT_STRICT})")),
    ("unit_pulse", _c(_NUM + rf"\s*{_HR_UNIT_STRICT}")),
)

# A bare number must stand alone: "吃了2片药" has a number but no reading.
_BARE = re.compile(r"(?<![^\s,])([0-9]{1,4}(?:\.[0-9]{1,3})?)(?![^\s,!?.]|\.[0-9])")
_LOOSE_QUALIFIER = re.compile(_QUAL)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[a-z]")
_CONTROL_STRIP = " .!~。！"

_SYMPTOM_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (term, re.compile(r"(?<![a-z])" + r"\s+".join(map(re.escape, term.split())) + r"(?![a-z])"))
    for term in sorted(SYMPTOM_LEXICON, key=len, reverse=True)  # longest first: 剧烈头痛 before 头痛
)


def parse(body: str) -> ParsedMessage:
    """Read one inbound SMS body. Never raises: anything unreadable is Intent.unparsed."""
    if not isinstance(body, str):
        body = ""
    text = normalise(body)
    hint = "zh-CN" if _CJK.search(text) else "en" if _LATIN.search(text) else None
    word = text.strip(_CONTROL_STRIP)
    if word in CONTROL_WORDS:
        return ParsedMessage(CONTROL_WORDS[word], keyword=word, normalised=text, language_hint=hint)
    readings = _readings(text)
    symptoms = _symptoms(text)
    if readings:
        intent = Intent.readings
    elif not symptoms and any(p.search(text) for p in OPT_OUT_LIKE_PATTERNS):
        # Symptoms win over a wish to stop texts: an emergency must not be routed as an opt-out request.
        intent = Intent.opt_out_like
    else:
        intent = Intent.unparsed
    return ParsedMessage(intent, readings, symptoms, normalised=text, language_hint=hint)


def _readings(text: str) -> tuple[ParsedReading, ...]:
    found: list[ParsedReading] = []
    rest = text
    group = 0
    for name, pattern in _READING_PATTERNS:
        matches = list(pattern.finditer(rest))
        for m in matches:
            found.extend(_build(name, m, group))
            group += 1
            # Blank rather than cut, so offsets stay valid; the blank is not whitespace, so a timing word
            # cannot reach across one reading to another and a number touching it is not "standalone".
            rest = rest[: m.start()] + CONSUMED * (m.end() - m.start()) + rest[m.end() :]
    found.extend(_bare(rest, group))
    found.sort(key=lambda r: (r.start, r.group))
    # Number the items in message order (patterns ran in priority order, not left to right).
    order: dict[int, int] = {}
    for r in found:
        order.setdefault(r.group, len(order))
    found = [replace(r, group=order[r.group]) for r in found]
    return tuple(_assign_loose_qualifiers(found, rest))


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value.replace(",", "."))


def _build(name: str, m: re.Match[str], group: int) -> list[ParsedReading]:
    at = {"text": m.group(0).strip(), "start": m.start(), "group": group}
    g = m.groups()
    if name in ("sys_dia", "bp_sep", "bp_space", "slash", "dash"):
        out = [ParsedReading(ReadingKind.blood_pressure, (Decimal(g[0]), Decimal(g[1])), Unit.mmhg, **at)]
        if len(g) > 2 and g[2] is not None:
            out.append(ParsedReading(ReadingKind.heart_rate, (Decimal(g[2]),), Unit.per_min, **at))
        return out
    if name == "dia_sys":
        return [ParsedReading(ReadingKind.blood_pressure, (Decimal(g[1]), Decimal(g[0])), Unit.mmhg, **at)]
    if name == "bp_single":
        return [ParsedReading(ReadingKind.blood_pressure, (Decimal(g[0]),), Unit.mmhg, **at)]
    if name == "glucose":
        before, inside, comma, number, flag, unit, after = g
        qualifier = _qualifier(before or inside or after)
        if flag is not None:
            meter = MeterFlag.hi if flag.startswith("h") else MeterFlag.lo
            return [ParsedReading(ReadingKind.glucose, (), None, qualifier, meter, **at)]
        value = _d(comma or number)
        assert value is not None  # the pattern always captures a number or a flag
        return [ParsedReading(ReadingKind.glucose, (value,), _unit(unit), qualifier, **at)]
    if name == "qualifier_glucose":
        return [ParsedReading(ReadingKind.glucose, (Decimal(g[1]),), _unit(g[2]), _qualifier(g[0]), **at)]
    if name in ("pulse", "unit_pulse"):
        return [ParsedReading(ReadingKind.heart_rate, (Decimal(g[0]),), Unit.per_min, **at)]
    if name in ("weight", "unit_weight"):
        return [ParsedReading(ReadingKind.weight, (Decimal(g[0]),), _unit(g[1]), **at)]
    return [ParsedReading(ReadingKind.glucose, (Decimal(g[0]),), _unit(g[1]), **at)]  # unit_glucose


def _unit(typed: str | None) -> Unit | None:
    return None if typed is None else normalise_unit(typed)


def _qualifier(typed: str | None) -> GlucoseQualifier | None:
    return None if typed is None else QUALIFIER_WORDS.get(typed.strip())


def _bare(rest: str, first_group: int) -> list[ParsedReading]:
    """Standalone numbers left over: up to three integers in a row form one item ("150 95 72"); a
    number with a decimal point is an item of its own ("11.2")."""
    items: list[list[re.Match[str]]] = []
    for m in _BARE.finditer(rest):
        previous = items[-1] if items else None
        joinable = (
            previous is not None
            and len(previous) < 3
            and "." not in previous[-1].group(1)
            and "." not in m.group(1)
            and rest[previous[-1].end() : m.start()].strip(" ,") == ""
        )
        if joinable and previous is not None:
            previous.append(m)
        else:
            items.append([m])
    return [
        ParsedReading(
            None,
            tuple(Decimal(m.group(1)) for m in item),
            text=rest[item[0].start() : item[-1].end()],
            start=item[0].start(),
            group=first_group + i,
        )
        for i, item in enumerate(items)
    ]


def _assign_loose_qualifiers(readings: list[ParsedReading], rest: str) -> list[ParsedReading]:
    """A timing word standing apart ("11.2 空腹", "空腹 血压135/85 血糖7.2") belongs to the nearest single
    glucose-like value without one, the preceding value first."""
    loose = [m for m in _LOOSE_QUALIFIER.finditer(rest)]
    if not loose:
        return readings
    open_ = [
        i
        for i, r in enumerate(readings)
        if r.qualifier is None and r.flag is None and len(r.values) == 1
        and r.kind in (ReadingKind.glucose, None)
    ]
    for m in loose:
        if not open_:
            break
        before = [i for i in open_ if readings[i].start < m.start()]
        chosen = before[-1] if before else open_[0]
        readings[chosen] = replace(readings[chosen], qualifier=_qualifier(m.group(0)))
        open_.remove(chosen)
    return readings


def _symptoms(text: str) -> tuple[str, ...]:
    # Negations ("没有胸痛", "no chest pain") still count: a needless call costs less than a missed emergency.
    hits: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for term, pattern in _SYMPTOM_PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append(m.span())
            hits.append((m.start(), term))
    seen: dict[str, None] = {}
    for _, term in sorted(hits):
        seen.setdefault(term, None)
    return tuple(seen)
