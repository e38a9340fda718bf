"""The seed rule: glucose above 10 mmol/L (180 mg/dL) on three consecutive local days."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from followup.enums import DayValue, GlucoseContext, MeterFlag, ReadingKind, Severity
from followup.rules import ConsecutiveDaysParams, ReadingFact, RuleDefinition, RuleHit, default_rules, evaluate

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY1 = datetime(2024, 5, 1, 7, 30, tzinfo=SHANGHAI)
RULE = next(r for r in default_rules("cn") if r.code == "DES-GLU-3D")


def glucose(reading_id: int, taken_at: datetime, value: str, unit: str = "mmol/L") -> ReadingFact:
    return ReadingFact(
        id=reading_id,
        kind=ReadingKind.glucose,
        taken_at=taken_at,
        value=Decimal(value),
        unit=unit,
        context=GlucoseContext.fasting,
    )


def days(*values: str, start: datetime = DAY1, unit: str = "mmol/L") -> list[ReadingFact]:
    return [glucose(i + 1, start + timedelta(days=i), v, unit) for i, v in enumerate(values)]


def run(
    readings: Sequence[ReadingFact],
    new: Sequence[ReadingFact] | None = None,
    rule: RuleDefinition = RULE,
    tz: ZoneInfo = SHANGHAI,
) -> RuleHit | None:
    new = list(new if new is not None else readings[-1:])
    now = max(r.taken_at for r in [*readings, *new]) + timedelta(minutes=1)
    return evaluate(rule, new_readings=new, window=readings, tz=tz, now=now)


def test_three_high_fasting_days_fire_with_a_reason_naming_the_values() -> None:
    hit = run(days("11.0", "11.2", "10.6"))
    assert hit is not None
    assert hit.reading_ids == (1, 2, 3)
    assert hit.reason.zh_cn == "空腹血糖连续3天高于10.0 mmol/L（11.0、11.2、10.6）"
    assert hit.reason.en == "Fasting glucose above 10.0 mmol/L on 3 consecutive days (11.0, 11.2, 10.6)"


def test_three_high_days_are_due_within_24_hours_as_same_day_work() -> None:
    readings = days("11.0", "11.2", "10.6")
    hit = run(readings)
    assert hit is not None
    assert hit.severity is Severity.same_day
    assert hit.due_at == readings[-1].taken_at + timedelta(minutes=1) + timedelta(hours=24)


def test_three_high_fasting_days_fire_once() -> None:
    readings = days("11.0", "11.2", "10.6")
    assert run(readings, new=readings[-1:]) is not None
    assert run(readings, new=[]) is None  # re-evaluating the same data later does not fire again


def test_two_high_days_do_not_fire() -> None:
    assert run(days("11.0", "11.2")) is None


def test_one_normal_day_in_three_does_not_fire() -> None:
    assert run(days("11.0", "9.8", "10.6")) is None


def test_threshold_is_exclusive_in_both_units() -> None:
    assert run(days("10.1", "10.1", "10.0")) is None
    assert run(days("10.1", "10.1", "10.1")) is not None
    assert run(days("181", "181", "180", unit="mg/dL")) is None
    assert run(days("181", "181", "181", unit="mg/dL")) is not None


def test_several_high_readings_in_one_day_count_as_one_day() -> None:
    readings = [glucose(i + 1, DAY1 + timedelta(hours=2 * i), "12.0") for i in range(5)]
    assert run(readings) is None


def test_two_high_days_and_several_readings_on_the_third_fire() -> None:
    readings = days("11.0", "11.2") + [
        glucose(3, DAY1 + timedelta(days=2), "12.5"),
        glucose(4, DAY1 + timedelta(days=2, hours=4), "10.8"),
    ]
    hit = run(readings, new=readings[-2:])
    assert hit is not None
    assert hit.reading_ids == (1, 2, 3)  # the day's highest stands for the day


def test_a_day_without_readings_breaks_the_run() -> None:
    readings = [
        glucose(1, DAY1, "11.0"),
        glucose(2, DAY1 + timedelta(days=1), "11.0"),
        glucose(3, DAY1 + timedelta(days=3), "11.0"),
        glucose(4, DAY1 + timedelta(days=4), "11.0"),
    ]
    assert run(readings) is None


def test_a_run_after_a_gap_fires_on_its_third_day() -> None:
    readings = days("11.0") + days("11.0", "11.1", "11.2", start=DAY1 + timedelta(days=2))
    readings = [replace(r, id=i + 1) for i, r in enumerate(readings)]
    hit = run(readings)
    assert hit is not None
    assert hit.reading_ids == (2, 3, 4)


def test_readings_twenty_minutes_apart_across_local_midnight_are_two_days() -> None:
    # 23:50 and 00:10 in Shanghai are 15:50 and 16:10 UTC: one UTC day, but two local days.
    day1 = glucose(1, datetime(2024, 5, 1, 23, 50, tzinfo=SHANGHAI), "11.0")
    day2 = glucose(2, datetime(2024, 5, 2, 0, 10, tzinfo=SHANGHAI), "11.5")
    day3 = glucose(3, datetime(2024, 5, 3, 8, 0, tzinfo=SHANGHAI), "11.2")
    hit = run([day1, day2, day3])
    assert hit is not None
    assert hit.reading_ids == (1, 2, 3)


def test_local_days_not_utc_days_decide_the_run() -> None:
    # 07:00 and 09:00 Shanghai on one local day straddle 00:00 UTC; grouped by UTC they would be two days.
    readings = [
        glucose(1, datetime(2024, 5, 1, 7, 0, tzinfo=SHANGHAI), "11.0"),
        glucose(2, datetime(2024, 5, 1, 9, 0, tzinfo=SHANGHAI), "11.0"),
        glucose(3, datetime(2024, 5, 2, 9, 0, tzinfo=SHANGHAI), "11.0"),
    ]
    assert run(readings) is None


def test_a_late_reading_for_yesterday_can_complete_a_run() -> None:
    readings = days("11.0", "11.2", "10.6")
    now = readings[-1].taken_at + timedelta(days=1)
    assert evaluate(RULE, new_readings=readings[-1:], window=readings, tz=SHANGHAI, now=now) is not None


def test_a_reading_outside_the_window_does_not_contribute() -> None:
    # A backfilled run that ended five days ago lies outside the window of today and the three days before.
    readings = days("11.0", "11.2", "10.6")
    now = readings[-1].taken_at + timedelta(days=5)
    assert evaluate(RULE, new_readings=readings[-1:], window=readings, tz=SHANGHAI, now=now) is None


def test_history_beyond_the_window_changes_nothing() -> None:
    old = [glucose(100 + i, DAY1 - timedelta(days=30 - i), "15.0") for i in range(20)]
    readings = days("11.0", "11.2", "10.6")
    assert run(old + readings) == run(readings)


def test_a_new_normal_reading_on_a_high_day_does_not_fire_again() -> None:
    readings = days("11.0", "11.2", "10.6")
    normal = glucose(4, readings[-1].taken_at + timedelta(hours=3), "7.0")
    assert run([*readings, normal], new=[normal]) is None


def test_meter_hi_counts_as_a_high_day() -> None:
    readings = days("11.0", "11.2")
    hi = ReadingFact(id=3, kind=ReadingKind.glucose, taken_at=DAY1 + timedelta(days=2), meter_flag=MeterFlag.hi)
    hit = run([*readings, hi])
    assert hit is not None
    assert hit.reason.en.endswith("(11.0, 11.2, HI)")


def test_mixed_units_are_each_compared_as_sent() -> None:
    readings = [
        glucose(1, DAY1, "11.0"),
        glucose(2, DAY1 + timedelta(days=1), "200", "mg/dL"),
        glucose(3, DAY1 + timedelta(days=2), "10.6"),
    ]
    hit = run(readings)
    assert hit is not None
    assert hit.reason.en.endswith("(11.0, 200 mg/dL, 10.6)")


def with_day_value(day_value: DayValue) -> RuleDefinition:
    assert isinstance(RULE.params, ConsecutiveDaysParams)
    return replace(RULE, params=replace(RULE.params, day_value=day_value))


def high_and_low_days() -> list[ReadingFact]:
    readings = []
    for day in range(3):
        taken = DAY1 + timedelta(days=day)
        readings += [glucose(2 * day + 1, taken, "12.0"), glucose(2 * day + 2, taken + timedelta(hours=3), "9.0")]
    return readings


def test_day_value_max_fires_when_each_day_has_one_high_reading() -> None:
    readings = high_and_low_days()
    assert run(readings, new=readings[-2:], rule=with_day_value(DayValue.max)) is not None


def test_a_lower_reading_on_a_day_already_counted_high_does_not_fire_again() -> None:
    readings = high_and_low_days()  # day 3: 12.0 (already fired the rule), then 9.0
    assert run(readings, new=readings[-1:], rule=with_day_value(DayValue.max)) is None


def test_day_value_every_needs_every_reading_of_each_day_high() -> None:
    readings = high_and_low_days()
    assert run(readings, new=readings[-2:], rule=with_day_value(DayValue.every)) is None


def test_day_value_min_needs_the_lowest_reading_of_each_day_high() -> None:
    readings = high_and_low_days()
    assert run(readings, new=readings[-2:], rule=with_day_value(DayValue.min)) is None


def test_day_value_mean_compares_each_days_mean() -> None:
    readings = high_and_low_days()  # each day's mean is 10.5
    hit = run(readings, rule=with_day_value(DayValue.mean))
    assert hit is not None
    assert hit.reason.en.endswith("(10.5, 10.5, 10.5)")
    assert hit.reading_ids == tuple(range(1, 7))
