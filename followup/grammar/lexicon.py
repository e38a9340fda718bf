"""The words of the SMS grammar (clinical-rules.md §6.3, §5.4, CN-SYM-01), as data a clinic can extend."""

from __future__ import annotations

import re
from collections.abc import Iterable
from types import MappingProxyType

from followup.enums import GlucoseQualifier, Intent

# Whole-message control words (already NFKC-normalised and lower-cased). Never reuse Twilio's opt-in/out
# and help words for confirmation (§0.6): OK/Y/确认 confirm, N/不对 reject.
CONTROL_WORDS: MappingProxyType[str, Intent] = MappingProxyType({
    **dict.fromkeys(
        ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout",
         "退订", "td", "t", "r"),
        Intent.opt_out,
    ),
    **dict.fromkeys(("start", "yes", "unstop"), Intent.opt_in),
    **dict.fromkeys(("help", "info", "帮助", "?"), Intent.help),
    **dict.fromkeys(("ok", "y", "确认", "对", "是", "是的"), Intent.confirm),
    **dict.fromkeys(("n", "no", "不对", "错了", "不是", "重测"), Intent.reject),
})

# Single words Twilio's (Advanced) Opt-Out acts on and answers itself (§5.4): the app must not answer too.
TWILIO_KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "start", "yes", "unstop",
     "help", "info"}
)

# A wish to stop texts written as a sentence: carriers ignore it, so staff must see it (§5.4 point 4).
OPT_OUT_LIKE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        r"(?<![a-z])(?:stop|unsubscribe|optout|opt out|opt me out|remove me)(?![a-z])",
        r"(?<![a-z])no more (?:texts|messages|sms)(?![a-z])",
        r"(?<![a-z])(?:don'?t|do not) (?:text|message|send)(?![a-z])",
        r"退订|拒收|不要再发|别再发|不要发了|别发了|不要给我发|别给我发|取消短信|停止发送|不再接收|不想收",
    )
)

BP_KEYWORDS = ("血压", "bp", "xy", "b/p", "blood pressure")
SYS_KEYWORDS = ("高压", "收缩压", "sys", "sbp", "systolic")
DIA_KEYWORDS = ("低压", "舒张压", "dia", "dbp", "diastolic")
GLUCOSE_KEYWORDS = ("血糖", "xt", "bg", "bs", "glu", "gluc", "glucose", "sugar")
HR_KEYWORDS = ("心率", "脉搏", "心跳", "hr", "pulse", "pul", "heart rate")
WEIGHT_KEYWORDS = ("体重", "wt", "weight")
GLUCOSE_UNIT_WORDS = ("mmol/l", "mmol", "毫摩尔", "mg/dl", "mgdl", "mg")
WEIGHT_UNIT_WORDS = ("kg", "公斤", "千克", "斤", "lb", "lbs", "磅")
HR_UNIT_WORDS = ("次/分钟", "次/分", "次", "bpm", "/min")

QUALIFIER_WORDS: MappingProxyType[str, GlucoseQualifier] = MappingProxyType({
    **dict.fromkeys(
        ("空腹", "fasting", "fbg", "fpg", "fbs", "早餐前", "before breakfast"), GlucoseQualifier.fasting
    ),
    **dict.fromkeys(
        ("餐后2小时", "饭后2小时", "餐后两小时", "饭后两小时", "餐后二小时", "饭后二小时",
         "餐后2h", "饭后2h", "2hpp", "2h pp"),
        GlucoseQualifier.pp2h,
    ),
    **dict.fromkeys(
        ("餐后1小时", "餐后一小时", "饭后1小时", "饭后一小时", "餐后1h", "饭后1h", "1hpp", "1h pp"),
        GlucoseQualifier.pp1h,
    ),
    **dict.fromkeys(("餐后", "饭后", "after meal", "pp"), GlucoseQualifier.postprandial),
    **dict.fromkeys(("餐前", "饭前", "before meal"), GlucoseQualifier.premeal),
    **dict.fromkeys(("睡前", "bedtime"), GlucoseQualifier.bedtime),
    **dict.fromkeys(("随机", "random"), GlucoseQualifier.random),
})

# Danger symptoms (CN-SYM-01 / US-SYM-01). Any hit makes the message an emergency (E0) for the rules
# engine, with or without readings. Add terms here; matching is longest-first, English on word boundaries.
SYMPTOM_LEXICON: tuple[str, ...] = (
    "胸痛", "胸口痛", "胸闷", "气短", "喘不上气", "意识不清", "说话不清",
    "肢体无力", "视力模糊", "剧烈头痛", "头痛", "呕吐", "抽搐", "晕倒", "昏迷",
    "chest pain", "chest pains", "chest tightness", "short of breath", "shortness of breath",
    "trouble breathing", "difficulty breathing", "can't breathe", "cannot breathe", "cant breathe",
    "confused", "confusion", "faint", "fainted", "fainting", "passed out", "unconscious",
    "seizure", "seizures",
    "slurred speech", "trouble speaking", "numbness", "blurred vision", "severe headache", "vomiting",
)


def alternation(words: Iterable[str]) -> str:
    """A non-capturing regex group matching any of `words`, longest first; words with Latin letters must
    not touch other Latin letters ("xt" is not read inside "next", but "bp150/95" still is)."""
    parts = []
    for word in sorted(set(words), key=len, reverse=True):
        part = re.escape(word).replace(r"\ ", r"\s*")
        if re.match(r"[a-z]", word):
            part = r"(?<![a-z])" + part
        if re.search(r"[a-z]$", word):
            part += r"(?![a-z])"
        parts.append(part)
    return "(?:" + "|".join(parts) + ")"
