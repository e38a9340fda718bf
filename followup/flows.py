"""Multi-step follow-up work: evaluating new readings into callbacks, and answering a patient's SMS.

One inbound SMS is one transaction: the message row (unique per provider id), the readings, the rule
evaluation, callbacks and outbox rows all commit together, and the reply is computed from what was stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic.models import Clinic, Patient
from clinic.service import patient_timezone
from core.db import utcnow
from followup.callbacks import open_callback
from followup.enums import (
    SEVERITY_ORDER,
    GlucoseContext,
    GlucoseQualifier,
    MeterFlag,
    ReadingKind,
    ReplyTier,
    RuleOutcome,
    RuleType,
    Severity,
)
from followup.models import Callback, Reading
from followup.rulebook import ActiveRule, active_rules
from followup.rules import ReadingFact, RuleHit, evaluate, evaluate_symptoms, window_for
from followup.service import as_fact, facts_for_windows
from followup.units import Unit
from followup.validation import ResolvedReading

# Rules that the 规范 applies within one programme only (CN-DM-05: persistent tachycardia in diabetes care).
PROGRAMME_ONLY = {"CN-DM-05": "diabetes"}
_URGENT_TIERS = {ReplyTier.urgent_bp, ReplyTier.urgent_glucose_high, ReplyTier.urgent_low, ReplyTier.symptom}


@dataclass
class Evaluation:
    hits: list[RuleHit] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    opened: list[Callback] = field(default_factory=list)
    tier: ReplyTier | None = None


def evaluate_readings(
    *, session: Session, patient: Patient, clinic: Clinic, readings: Sequence[Reading],
    symptoms: Sequence[str] = (), candidates: Sequence[ResolvedReading] = (), now: datetime | None = None,
) -> Evaluation:
    """Run the clinic's rules over new readings (and unconfirmed candidate meanings), opening callbacks.

    Candidates are meanings of an ambiguous SMS reading that are not stored; only single-reading rules see
    them, so a possibly dangerous value reaches a doctor now while the patient is asked which one they meant."""
    now = now or utcnow()
    tz = patient_timezone(patient=patient, clinic=clinic)
    rules = active_rules(session=session, clinic=clinic)
    new_facts = [as_fact(r) for r in readings]
    candidate_facts = [_candidate_fact(c, -(i + 1), now) for i, c in enumerate(candidates)]
    programmes = {str(p) for p in patient.programmes}
    applicable = [a for a in rules if a.definition.type != RuleType.missing_data
                  and PROGRAMME_ONLY.get(a.definition.code, "") in programmes | {""}]
    # The rules a new reading's kind reaches read their windows together: one query per kind, cut per rule.
    windowed = [a for a in applicable if a.definition.type != RuleType.symptom
                and any(a.definition.kind == f.kind for f in new_facts)]
    windows = dict(zip((a.row_id for a in windowed), facts_for_windows(
        session=session, patient_id=patient.id,
        specs=[window_for(a.definition, now=now, tz=tz) for a in windowed]), strict=True))
    found: list[tuple[ActiveRule, RuleHit]] = []
    for active in applicable:
        rule = active.definition
        hit: RuleHit | None = None
        if rule.type == RuleType.symptom:
            hit = evaluate_symptoms(rule, symptoms=symptoms, now=now, tz=tz) if symptoms else None
        elif active.row_id in windows:
            hit = evaluate(rule, new_readings=new_facts, window=windows[active.row_id], tz=tz, now=now)
        if hit is None and candidate_facts and rule.type == RuleType.single_threshold:
            hit = evaluate(rule, new_readings=candidate_facts, window=[], tz=tz, now=now)
        if hit is not None:
            found.append((active, hit))
    result = Evaluation(hits=[h for _, h in found])
    _open_callbacks(session, patient, found, result)
    by_id = {f.id: f for f in [*new_facts, *candidate_facts]}
    result.tier = reply_tier(result.hits, by_id)
    return result


def _candidate_fact(candidate: ResolvedReading, fake_id: int, now: datetime) -> ReadingFact:
    return ReadingFact(id=fake_id, kind=candidate.kind, taken_at=now,
                       value=candidate.values[0] if candidate.values else None, unit=str(candidate.unit),
                       context=candidate.context, meter_flag=candidate.flag)


def _open_callbacks(session: Session, patient: Patient, found: list[tuple[ActiveRule, RuleHit]],
                    result: Evaluation) -> None:
    """One callback per episode: the most severe hit of this evaluation carries the others' reasons
    (a glucose of 2.8 trips both CN-DM-01b and ADA-HYPO-L2; the doctor needs one call, with both reasons)."""
    calls = [(a, h) for a, h in found if h.outcome == RuleOutcome.callback]
    if not calls:
        return
    calls.sort(key=lambda pair: (SEVERITY_ORDER[pair[1].severity], pair[1].due_at or utcnow()))
    lead_rule, lead = calls[0]
    others = calls[1:]
    reason_zh = "；".join([lead.reason.zh_cn, *(h.reason.zh_cn for _, h in others)])
    reason_en = "; ".join([lead.reason.en, *(h.reason.en for _, h in others)])
    reading_ids = sorted({i for _, h in calls for i in h.reading_ids if i > 0})
    due = min(h.due_at for _, h in calls if h.due_at is not None)
    callback, opened = open_callback(
        session=session, patient=patient, rule_code=lead.rule_code, rule_version=lead_rule.version,
        severity=lead.severity, due_at=due, reason_zh=reason_zh, reason_en=reason_en, reading_ids=reading_ids,
    )
    result.callbacks.append(callback)
    if opened:
        result.opened.append(callback)


def reply_tier(hits: Sequence[RuleHit], facts: dict[int, ReadingFact]) -> ReplyTier | None:
    """What the SMS reply must say, from the most serious hit; no hit means a plain acknowledgement."""
    if not hits:
        return None
    if any(h.severity == Severity.emergency for h in hits):
        return ReplyTier.symptom
    urgent = [h for h in hits if h.outcome == RuleOutcome.callback and h.severity == Severity.urgent]
    for hit in urgent:
        tripped = [facts[i] for i in hit.reading_ids if i in facts]
        if any(f.kind == ReadingKind.blood_pressure for f in tripped):
            return ReplyTier.urgent_bp
        glucose = [f for f in tripped if f.kind == ReadingKind.glucose]
        if glucose:
            return ReplyTier.urgent_low if any(_is_low(f) for f in glucose) else ReplyTier.urgent_glucose_high
    same_day = [h for h in hits if h.outcome == RuleOutcome.callback and h.severity == Severity.same_day]
    for hit in same_day:
        if any(_is_low(facts[i]) for i in hit.reading_ids if i in facts and facts[i].kind == ReadingKind.glucose):
            return ReplyTier.same_day_low
    if any(h.outcome == RuleOutcome.recheck for h in hits) or urgent:
        return ReplyTier.recheck
    return None


def _is_low(fact: ReadingFact) -> bool:
    if fact.meter_flag is not None:
        return fact.meter_flag == MeterFlag.lo
    if fact.value is None:
        return False
    threshold = Decimal("5.0") if fact.unit == Unit.mmol_l else Decimal("90")
    return fact.value < threshold


def recent_urgent_reply(*, session: Session, phone: str, now: datetime, within: timedelta,
                        exclude_message_id: int | None = None) -> bool:
    """Whether this number already had an urgent reply lately (≤1 urgent reply per 10 min, §6.5)."""
    from core.models import SmsDirection, SmsMessage

    return session.scalar(select(SmsMessage.id).where(
        SmsMessage.direction == SmsDirection.inbound, SmsMessage.phone == phone,
        SmsMessage.created_at > now - within, SmsMessage.purpose.in_([str(t) for t in _URGENT_TIERS]),
        SmsMessage.id != (exclude_message_id or 0),
    ).limit(1)) is not None


def serialise(reading: ResolvedReading) -> dict[str, object]:
    return {"kind": str(reading.kind), "values": [str(v) for v in reading.values], "unit": str(reading.unit),
            "canonical": [str(v) for v in reading.canonical], "context": reading.context and str(reading.context),
            "qualifier": reading.qualifier and str(reading.qualifier), "flag": reading.flag and str(reading.flag),
            "group": reading.group}


def deserialise(data: dict) -> ResolvedReading:
    return ResolvedReading(
        kind=ReadingKind(data["kind"]), values=tuple(Decimal(v) for v in data["values"]), unit=Unit(data["unit"]),
        canonical=tuple(Decimal(v) for v in data["canonical"]),
        context=GlucoseContext(data["context"]) if data.get("context") else None,
        qualifier=GlucoseQualifier(data["qualifier"]) if data.get("qualifier") else None,
        flag=MeterFlag(data["flag"]) if data.get("flag") else None, group=int(data.get("group", 0)),
    )


def is_duplicate(exc: IntegrityError) -> bool:
    return "uq_sms_message_provider_id" in str(exc.orig) or "UNIQUE constraint failed: sms_message" in str(exc.orig)
