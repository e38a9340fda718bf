"""Persistent heart rate, symptom words and missing data: rules that are more than one threshold."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from followup.enums import ReadingKind, RuleOutcome, Severity
from followup.rules import (
    ReadingFact,
    RuleDefinition,
    RuleHit,
    default_rules,
    evaluate,
    evaluate_symptoms,
    missing_data_due,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 5, 6, 9, 0, tzinfo=SHANGHAI)


def rule(profile: str, code: str) -> RuleDefinition:
    return next(r for r in default_rules(profile) if r.code == code)  # type: ignore[arg-type]


HR_RULE = rule("cn", "CN-DM-05")


def hr(reading_id: int, minutes: int, value: int) -> ReadingFact:
    return ReadingFact(
        id=reading_id,
        kind=ReadingKind.heart_rate,
        taken_at=T0 + timedelta(minutes=minutes),
        value=Decimal(value),
        unit="/min",
    )


def check_hr(readings: list[ReadingFact]) -> RuleHit | None:
    return evaluate(HR_RULE, new_readings=readings[-1:], window=readings, tz=SHANGHAI, now=readings[-1].taken_at)


def test_a_first_heart_rate_above_100_asks_for_a_recheck_without_a_callback() -> None:
    hit = check_hr([hr(1, 0, 110)])
    assert hit is not None
    assert (hit.outcome, hit.due_at) == (RuleOutcome.recheck, None)
    assert hit.reason.en == "Heart rate 110/min: ask the patient to rest 30 minutes and re-measure"


def test_heart_rate_of_100_is_not_above_100() -> None:
    assert check_hr([hr(1, 0, 100)]) is None


def test_a_second_heart_rate_above_100_thirty_minutes_later_is_urgent() -> None:
    hit = check_hr([hr(1, 0, 110), hr(2, 30, 101)])
    assert hit is not None
    assert (hit.outcome, hit.severity, hit.reading_ids) == (RuleOutcome.callback, Severity.urgent, (1, 2))
    assert hit.due_at == T0 + timedelta(minutes=90)
    assert hit.reason.zh_cn == "心率多次测量均高于100/min，间隔至少30分钟（110、101）"


def test_a_second_high_heart_rate_too_soon_asks_for_another_recheck() -> None:
    hit = check_hr([hr(1, 0, 110), hr(2, 29, 112)])
    assert hit is not None
    assert hit.outcome is RuleOutcome.recheck


def test_a_normal_heart_rate_between_two_high_ones_ends_the_persistence() -> None:
    hit = check_hr([hr(1, 0, 110), hr(2, 20, 85), hr(3, 60, 110)])
    assert hit is not None
    assert hit.outcome is RuleOutcome.recheck


def test_a_normal_recheck_fires_nothing() -> None:
    assert check_hr([hr(1, 0, 110), hr(2, 35, 90)]) is None


def test_high_heart_rates_more_than_24_hours_apart_are_not_persistent() -> None:
    hit = check_hr([hr(1, 0, 110), hr(2, 25 * 60, 110)])
    assert hit is not None
    assert hit.outcome is RuleOutcome.recheck


CN_SYMPTOMS = rule("cn", "CN-SYM-01")


def test_a_lexicon_symptom_is_an_emergency_due_in_15_minutes() -> None:
    hit = evaluate_symptoms(CN_SYMPTOMS, symptoms=["胸口痛"], now=T0, tz=SHANGHAI)
    assert hit is not None
    assert (hit.severity, hit.reading_ids) == (Severity.emergency, ())
    assert hit.due_at == T0 + timedelta(minutes=15)
    assert hit.reason.zh_cn == "患者报告：胸口痛"


def test_symptoms_outside_the_lexicon_do_not_fire() -> None:
    assert evaluate_symptoms(CN_SYMPTOMS, symptoms=["咳嗽", ""], now=T0, tz=SHANGHAI) is None


def test_no_symptoms_do_not_fire() -> None:
    assert evaluate_symptoms(CN_SYMPTOMS, symptoms=[], now=T0, tz=SHANGHAI) is None


def test_us_symptoms_match_whatever_the_case_and_spacing() -> None:
    hit = evaluate_symptoms(rule("us", "US-SYM-01"), symptoms=["Chest  Pain", "cough"], now=T0, tz=SHANGHAI)
    assert hit is not None
    assert hit.reason.en == "Patient reported: Chest  Pain"


def test_a_symptom_rule_never_fires_on_readings() -> None:
    assert evaluate(CN_SYMPTOMS, new_readings=[hr(1, 0, 150)], window=[], tz=SHANGHAI, now=T0) is None


MISSING = rule("cn", "DES-MISS-01")


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (6.9, None),
        (7, RuleOutcome.reminder),
        (13.9, RuleOutcome.reminder),
        (14, RuleOutcome.callback),
        (30, RuleOutcome.callback),
    ],
)
def test_missing_data_reminds_after_7_days_and_calls_after_14(days: float, expected: RuleOutcome | None) -> None:
    action = missing_data_due(MISSING, last_reading_at=T0, now=T0 + timedelta(days=days), tz=SHANGHAI)
    assert (action.outcome if action else None) is expected


def test_missing_data_callback_is_routine_within_7_days_and_keyed_on_the_last_reading() -> None:
    now = T0 + timedelta(days=15)
    action = missing_data_due(MISSING, last_reading_at=T0, now=now, tz=SHANGHAI)
    assert action is not None
    assert (action.severity, action.since) == (Severity.routine, T0)
    assert action.due_at == now + timedelta(days=7)
    assert action.reason.en == "No reading for 15 days (last on 2024-05-06)"


def test_missing_data_reminder_is_due_now() -> None:
    now = T0 + timedelta(days=8)
    action = missing_data_due(MISSING, last_reading_at=T0, now=now, tz=SHANGHAI)
    assert action is not None
    assert action.due_at == now.astimezone(UTC)


def test_missing_data_without_a_last_reading_does_nothing() -> None:
    assert missing_data_due(MISSING, last_reading_at=None, now=T0, tz=SHANGHAI) is None


def test_a_reading_rule_is_not_a_missing_data_rule() -> None:
    assert missing_data_due(HR_RULE, last_reading_at=T0, now=T0 + timedelta(days=30), tz=SHANGHAI) is None
