"""Rules fired by something other than a new reading: symptom words in a message, and silence (the sweep)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from followup.enums import RuleOutcome, Severity
from followup.rules import texts
from followup.rules.definitions import LocalizedText, MissingDataParams, RuleDefinition, SymptomParams
from followup.rules.evaluate import DEFAULT_SERVICE_DAY_END, RuleHit, due_at


@dataclass(frozen=True)
class MissingDataAction:
    rule_code: str
    outcome: RuleOutcome  # reminder (an SMS now) or callback
    severity: Severity
    due_at: datetime
    # The last reading before the gap: the sweep acts once per (rule, since, outcome).
    since: datetime
    reason: LocalizedText


def evaluate_symptoms(
    rule: RuleDefinition,
    *,
    symptoms: Sequence[str],
    now: datetime,
    tz: ZoneInfo,
    service_day_end: time = DEFAULT_SERVICE_DAY_END,
) -> RuleHit | None:
    """Whether the symptom words the SMS grammar found in a message match the rule's lexicon."""
    if not isinstance(rule.params, SymptomParams):
        return None
    terms = [_normalise(t) for t in rule.params.terms]
    matched = [
        s
        for s in symptoms
        if isinstance(s, str) and s.strip() and (not terms or any(t in _normalise(s) for t in terms))
    ]
    if not matched:
        return None
    return RuleHit(
        rule_code=rule.code,
        outcome=RuleOutcome.callback,
        severity=rule.severity,
        due_at=due_at(rule, now=now, tz=tz, service_day_end=service_day_end),
        reading_ids=(),
        reason=LocalizedText(
            zh_cn=texts.render(rule.reason.zh_cn, {"symptoms": texts.join(matched, "zh-CN")}),
            en=texts.render(rule.reason.en, {"symptoms": texts.join(matched, "en")}),
        ),
    )


def missing_data_due(
    rule: RuleDefinition,
    *,
    last_reading_at: datetime | None,
    now: datetime,
    tz: ZoneInfo,
    service_day_end: time = DEFAULT_SERVICE_DAY_END,
) -> MissingDataAction | None:
    """For the scheduled sweep: a reminder after `reminder_after` without readings, a callback after
    `callback_after`. Pass the enrolment time as last_reading_at for a patient who never sent one."""
    p = rule.params
    if not isinstance(p, MissingDataParams) or last_reading_at is None:
        return None
    gap = now - last_reading_at
    if p.callback_after is not None and gap >= p.callback_after:
        outcome, due = RuleOutcome.callback, due_at(rule, now=now, tz=tz, service_day_end=service_day_end)
    elif p.reminder_after is not None and gap >= p.reminder_after:
        outcome, due = RuleOutcome.reminder, now.astimezone(UTC)
    else:
        return None
    last = last_reading_at.astimezone(tz).date().isoformat()

    def fill(lang: str) -> dict[str, str]:
        return {"subject": texts.subject(rule.kind, [], lang), "days": str(gap.days), "last": last}

    return MissingDataAction(
        rule_code=rule.code,
        outcome=outcome,
        severity=rule.severity,
        due_at=due,
        since=last_reading_at,
        reason=LocalizedText(
            zh_cn=texts.render(rule.reason.zh_cn, fill("zh-CN")), en=texts.render(rule.reason.en, fill("en"))
        ),
    )


def _normalise(text: str) -> str:
    # The grammar may hand over "Chest  Pain"; the lexicon says "chest pain".
    return " ".join(text.casefold().split())
