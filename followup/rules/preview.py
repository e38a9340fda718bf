"""Replaying a rule over past readings, so a clinic admin sees what a new or edited rule would have fired."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from followup.enums import RuleOutcome, RuleType, Severity
from followup.rules.definitions import LocalizedText, RuleDefinition
from followup.rules.evaluate import (
    DEFAULT_SERVICE_DAY_END,
    ReadingFact,
    RuleHit,
    applies_to,
    evaluate,
    window_for,
)
from followup.rules.signals import missing_data_due


@dataclass(frozen=True)
class PreviewHit:
    """One episode: what would have been one callback (or one reminder) for one patient."""

    patient_id: int
    rule_code: str
    outcome: RuleOutcome
    severity: Severity
    started_at: datetime  # the first hit of the episode
    last_hit_at: datetime
    due_at: datetime | None  # of the first hit
    hits: int  # how many evaluations fired inside the episode
    reading_ids: tuple[int, ...]
    reason: LocalizedText  # of the first hit


def preview(
    rule: RuleDefinition,
    *,
    readings_by_patient: Mapping[int, Sequence[ReadingFact]],
    tz_by_patient: Mapping[int, ZoneInfo],
    start: datetime,
    end: datetime,
    service_day_end: time = DEFAULT_SERVICE_DAY_END,
) -> list[PreviewHit]:
    """Replay reading by reading (as they would have arrived) the readings taken in [start, end); pass the
    readings of the rule's window before `start` too, as history. Hits merge into one episode while its
    callback would still be open (before its due time, assuming it is worked on time) or while they share
    readings (day 4 of a run of high days is the same episode as day 3). Re-check prompts are not callbacks
    and are left out; symptom rules need messages, not readings, and preview nothing."""
    hits: list[PreviewHit] = []
    for patient_id in sorted(readings_by_patient):
        tz = tz_by_patient[patient_id]
        readings = readings_by_patient[patient_id]
        if rule.type is RuleType.missing_data:
            hits.extend(_missing_data(rule, patient_id, readings, tz, start, end, service_day_end))
        elif rule.type is not RuleType.symptom:
            hits.extend(_replay(rule, patient_id, readings, tz, start, end, service_day_end))
    return hits


def _replay(
    rule: RuleDefinition,
    patient_id: int,
    readings: Sequence[ReadingFact],
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
    service_day_end: time,
) -> list[PreviewHit]:
    ordered = sorted((r for r in readings if applies_to(rule, r)), key=lambda r: (r.taken_at, r.id))
    times = [r.taken_at for r in ordered]
    episodes: list[PreviewHit] = []
    for i, reading in enumerate(ordered):
        if not start <= reading.taken_at < end:
            continue
        now = reading.taken_at
        spec = window_for(rule, now=now, tz=tz)
        first = 0 if spec.since is None else bisect.bisect_left(times, spec.since)
        if spec.limit is not None:  # limit 0: the rule reads the new reading alone
            first = max(first, i + 1 - spec.limit)
        hit = evaluate(
            rule,
            new_readings=[reading],
            window=ordered[first : i + 1],
            tz=tz,
            now=now,
            service_day_end=service_day_end,
        )
        if hit is None or hit.outcome is not RuleOutcome.callback:
            continue
        last = episodes[-1] if episodes else None
        if last is not None and _same_episode(last, hit, now):
            episodes[-1] = replace(
                last,
                last_hit_at=now,
                hits=last.hits + 1,
                reading_ids=tuple(sorted({*last.reading_ids, *hit.reading_ids})),
            )
        else:
            episodes.append(_open(patient_id, hit, now))
    return episodes


def _same_episode(episode: PreviewHit, hit: RuleHit, now: datetime) -> bool:
    still_open = episode.due_at is not None and now < episode.due_at
    return still_open or bool(set(episode.reading_ids).intersection(hit.reading_ids))


def _open(patient_id: int, hit: RuleHit, now: datetime) -> PreviewHit:
    return PreviewHit(
        patient_id=patient_id,
        rule_code=hit.rule_code,
        outcome=hit.outcome,
        severity=hit.severity,
        started_at=now,
        last_hit_at=now,
        due_at=hit.due_at,
        hits=1,
        reading_ids=tuple(sorted(hit.reading_ids)),
        reason=hit.reason,
    )


def _missing_data(
    rule: RuleDefinition,
    patient_id: int,
    readings: Sequence[ReadingFact],
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
    service_day_end: time,
) -> list[PreviewHit]:
    """A sweep at each local midnight in [start, end); one episode per gap, at its furthest outcome."""
    times = sorted(r.taken_at for r in readings if rule.kind is None or applies_to(rule, r))
    episodes: dict[datetime, PreviewHit] = {}
    day = start.astimezone(tz).date()
    while (sweep := datetime.combine(day, time(0), tzinfo=tz)) < end:
        day += timedelta(days=1)
        index = bisect.bisect_left(times, sweep)
        if sweep < start or index == 0:
            continue
        action = missing_data_due(
            rule, last_reading_at=times[index - 1], now=sweep, tz=tz, service_day_end=service_day_end
        )
        if action is None:
            continue
        known = episodes.get(action.since)
        if known is None:
            episodes[action.since] = PreviewHit(
                patient_id=patient_id,
                rule_code=rule.code,
                outcome=action.outcome,
                severity=action.severity,
                started_at=sweep,
                last_hit_at=sweep,
                due_at=action.due_at,
                hits=1,
                reading_ids=(),
                reason=action.reason,
            )
        elif known.outcome is not action.outcome:  # the reminder went unanswered: the gap became a callback
            episodes[action.since] = replace(
                known,
                outcome=action.outcome,
                last_hit_at=sweep,
                hits=known.hits + 1,
                due_at=action.due_at,
                reason=action.reason,
            )
        else:
            episodes[action.since] = replace(known, last_hit_at=sweep, hits=known.hits + 1)
    return list(episodes.values())
