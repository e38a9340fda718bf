"""K-of-N and window-mean rules, and the windows every rule asks the caller to read."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from followup.enums import GlucoseContext, ReadingKind, Severity
from followup.rules import ReadingFact, RuleDefinition, RuleHit, default_rules, evaluate, window_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 15, 8, 0, tzinfo=SHANGHAI)


def rule(profile: str, code: str) -> RuleDefinition:
    return next(r for r in default_rules(profile) if r.code == code)  # type: ignore[arg-type]


def fasting(
    reading_id: int,
    days_ago: float,
    value: str,
    unit: str = "mmol/L",
    context: GlucoseContext | None = GlucoseContext.fasting,
) -> ReadingFact:
    return ReadingFact(
        id=reading_id,
        kind=ReadingKind.glucose,
        taken_at=NOW - timedelta(days=days_ago),
        value=Decimal(value),
        unit=unit,
        context=context,
    )


def bp(reading_id: int, days_ago: float, systolic: int, diastolic: int) -> ReadingFact:
    return ReadingFact(
        id=reading_id,
        kind=ReadingKind.blood_pressure,
        taken_at=NOW - timedelta(days=days_ago),
        unit="mmHg",
        systolic=systolic,
        diastolic=diastolic,
    )


def check(r: RuleDefinition, readings: list[ReadingFact], new: list[ReadingFact] | None = None) -> RuleHit | None:
    return evaluate(r, new_readings=new if new is not None else readings[-1:], window=readings, tz=SHANGHAI, now=NOW)


CN_DM_03 = rule("cn", "CN-DM-03")


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("6.9", "mmol/L", False),
        ("7.0", "mmol/L", True),
        ("7.1", "mmol/L", True),
        ("125", "mg/dL", False),
        ("126", "mg/dL", True),
        ("127", "mg/dL", True),
    ],
)
def test_fasting_above_target_counts_from_7_0_mmol_or_126_mg(value: str, unit: str, expected: bool) -> None:
    readings = [fasting(1, 5, "7.5"), fasting(2, 2, "6.0"), fasting(3, 0, value, unit)]
    assert (check(CN_DM_03, readings) is not None) is expected


def test_two_of_the_last_three_fasting_readings_above_target_fire_a_14_day_follow_up() -> None:
    hit = check(CN_DM_03, [fasting(1, 5, "7.5"), fasting(2, 2, "6.0"), fasting(3, 0, "7.2")])
    assert hit is not None
    assert hit.reading_ids == (1, 3)
    assert hit.severity is Severity.follow_up
    assert hit.due_at == NOW + timedelta(days=14)
    assert hit.reason.en == (
        "Fasting glucose ≥7.0 mmol/L in at least 2 of the last 3 readings within 14 days (7.5, 7.2)"
    )


def test_only_the_last_three_fasting_readings_count() -> None:
    readings = [fasting(1, 6, "8.0"), fasting(2, 4, "6.0"), fasting(3, 2, "6.1"), fasting(4, 0, "7.2")]
    assert check(CN_DM_03, readings) is None


def test_a_fasting_reading_older_than_14_days_does_not_count() -> None:
    assert check(CN_DM_03, [fasting(1, 14.1, "8.0"), fasting(2, 0, "7.2")]) is None
    assert check(CN_DM_03, [fasting(1, 13.9, "8.0"), fasting(2, 0, "7.2")]) is not None


def test_non_fasting_readings_do_not_count_for_the_fasting_rule() -> None:
    after_meal = fasting(1, 1, "9.0", context=GlucoseContext.after_meal_2h)
    assert check(CN_DM_03, [after_meal, fasting(2, 0, "7.2")]) is None
    assert check(CN_DM_03, [fasting(1, 1, "7.2")], new=[after_meal]) is None


def test_a_normal_new_reading_does_not_refire_an_old_k_of_n_result() -> None:
    readings = [fasting(1, 5, "7.5"), fasting(2, 2, "7.6"), fasting(3, 0, "6.2")]
    assert check(CN_DM_03, readings) is None


def test_the_window_asks_for_the_last_n_fasting_readings_within_14_days() -> None:
    spec = window_for(CN_DM_03, now=NOW, tz=SHANGHAI)
    assert (spec.kind, spec.contexts, spec.limit) == (ReadingKind.glucose, (GlucoseContext.fasting,), 3)
    assert spec.since == NOW - timedelta(days=14)


CN_DM_03R = rule("cn", "CN-DM-03r")


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("13.8", "mmol/L", False),
        ("13.9", "mmol/L", True),
        ("16.6", "mmol/L", True),
        ("16.7", "mmol/L", False),
        ("249", "mg/dL", False),
        ("250", "mg/dL", True),
        ("299", "mg/dL", True),
        ("300", "mg/dL", False),
    ],
)
def test_repeated_high_glucose_band_is_13_9_to_16_6_mmol_or_250_to_299_mg(
    value: str, unit: str, expected: bool
) -> None:
    readings = [fasting(1, 1, "15.0", context=None), fasting(2, 0, value, unit, context=None)]
    assert (check(CN_DM_03R, readings) is not None) is expected


def test_repeated_high_glucose_needs_both_readings_within_72_hours() -> None:
    assert check(CN_DM_03R, [fasting(1, 3.1, "15.0"), fasting(2, 0, "15.0")]) is None
    hit = check(CN_DM_03R, [fasting(1, 2.9, "15.0"), fasting(2, 0, "15.0")])
    assert hit is not None
    assert hit.severity is Severity.same_day
    assert hit.due_at == datetime(2024, 5, 15, 17, 30, tzinfo=SHANGHAI)


HTN_03 = rule("cn", "CN-HTN-03")


def test_home_bp_mean_at_135_over_85_fires_a_follow_up() -> None:
    readings = [bp(1, 3, 140, 80), bp(2, 2, 138, 88), bp(3, 0, 127, 84)]  # mean 135/84
    hit = check(HTN_03, readings)
    assert hit is not None
    assert hit.reading_ids == (1, 2, 3)
    assert hit.reason.en == (
        "Home blood pressure mean 135/84 mmHg over 14 days (3 readings on 3 days), SBP ≥135 or DBP ≥85 mmHg"
    )


def test_home_bp_mean_fires_on_the_diastolic_mean_alone() -> None:
    assert check(HTN_03, [bp(1, 3, 120, 85), bp(2, 2, 122, 86), bp(3, 0, 118, 84)]) is not None


def test_home_bp_mean_just_below_both_thresholds_does_not_fire() -> None:
    readings = [bp(1, 3, 135, 85), bp(2, 2, 134, 84), bp(3, 0, 134, 85)]  # mean 134.3/84.7
    assert check(HTN_03, readings) is None


def test_home_bp_mean_needs_three_readings() -> None:
    assert check(HTN_03, [bp(1, 2, 150, 95), bp(2, 0, 150, 95)]) is None


def test_home_bp_mean_needs_readings_on_two_local_days() -> None:
    same_day = [bp(i, i / 100, 150, 95) for i in range(1, 6)]
    assert check(HTN_03, same_day) is None


def test_home_bp_mean_ignores_readings_older_than_14_days() -> None:
    readings = [bp(1, 20, 180, 100), bp(2, 19, 180, 100), bp(3, 2, 130, 80), bp(4, 0, 131, 80)]
    assert check(HTN_03, readings) is None


def test_us_home_bp_mean_mirrors_the_cn_rule() -> None:
    readings = [bp(1, 3, 140, 80), bp(2, 2, 138, 88), bp(3, 0, 127, 84)]
    assert check(rule("us", "US-HTN-03"), readings) is not None


def test_single_reading_rules_need_no_history() -> None:
    spec = window_for(rule("cn", "CN-HTN-01"), now=NOW, tz=SHANGHAI)
    assert (spec.since, spec.limit) == (None, 0)


def test_consecutive_days_window_starts_at_local_midnight_n_days_back() -> None:
    spec = window_for(rule("cn", "DES-GLU-3D"), now=NOW, tz=SHANGHAI)
    assert spec.since == datetime(2024, 5, 12, 0, 0, tzinfo=SHANGHAI)
    assert spec.since.tzinfo is UTC
    assert spec.limit is None


def test_window_mean_window_is_its_span() -> None:
    assert window_for(HTN_03, now=NOW, tz=SHANGHAI).since == NOW - timedelta(days=14)
