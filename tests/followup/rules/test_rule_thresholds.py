"""Single-reading default rules at and either side of their bounds, in the unit the reading was sent in."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from followup.enums import MeterFlag, ReadingKind, RuleOutcome, Severity
from followup.rules import ReadingFact, RuleDefinition, default_rules, due_at, evaluate

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 6, 9, 0, tzinfo=SHANGHAI)


def rule(profile: str, code: str) -> RuleDefinition:
    return next(r for r in default_rules(profile) if r.code == code)  # type: ignore[arg-type]


def glucose(value: str | None, unit: str = "mmol/L", flag: MeterFlag | None = None) -> ReadingFact:
    return ReadingFact(
        id=1,
        kind=ReadingKind.glucose,
        taken_at=NOW,
        value=None if value is None else Decimal(value),
        unit=None if flag else unit,
        meter_flag=flag,
    )


def bp(systolic: int, diastolic: int) -> ReadingFact:
    return ReadingFact(
        id=1, kind=ReadingKind.blood_pressure, taken_at=NOW, unit="mmHg", systolic=systolic, diastolic=diastolic
    )


def fires(profile: str, code: str, reading: ReadingFact) -> bool:
    return evaluate(rule(profile, code), new_readings=[reading], window=[], tz=SHANGHAI, now=NOW) is not None


HIGH_GLUCOSE = [
    ("16.6", "mmol/L", False),
    ("16.7", "mmol/L", True),
    ("16.8", "mmol/L", True),
    ("299", "mg/dL", False),
    ("300", "mg/dL", True),
    ("301", "mg/dL", True),
]


@pytest.mark.parametrize(("value", "unit", "expected"), HIGH_GLUCOSE)
def test_cn_very_high_glucose_fires_from_16_7_mmol_or_300_mg(value: str, unit: str, expected: bool) -> None:
    assert fires("cn", "CN-DM-01a", glucose(value, unit)) is expected


@pytest.mark.parametrize(("value", "unit", "expected"), HIGH_GLUCOSE)
def test_us_very_high_glucose_fires_from_300_mg_or_16_7_mmol(value: str, unit: str, expected: bool) -> None:
    assert fires("us", "US-GLU-HI", glucose(value, unit)) is expected


@pytest.mark.parametrize("code", ["CN-DM-01a", "US-GLU-HI"])
def test_meter_hi_fires_the_very_high_rule_and_lo_does_not(code: str) -> None:
    profile = code[:2].lower()
    assert fires(profile, code, glucose(None, flag=MeterFlag.hi))
    assert not fires(profile, code, glucose(None, flag=MeterFlag.lo))


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("3.8", "mmol/L", True),
        ("3.9", "mmol/L", True),
        ("4.0", "mmol/L", False),
        ("69", "mg/dL", True),
        ("70", "mg/dL", True),
        ("71", "mg/dL", False),
    ],
)
def test_cn_low_glucose_is_inclusive_at_3_9_mmol_and_70_mg(value: str, unit: str, expected: bool) -> None:
    assert fires("cn", "CN-DM-01b", glucose(value, unit)) is expected


def test_meter_lo_fires_the_cn_low_rule() -> None:
    assert fires("cn", "CN-DM-01b", glucose(None, flag=MeterFlag.lo))
    assert not fires("cn", "CN-DM-01b", glucose(None, flag=MeterFlag.hi))


@pytest.mark.parametrize("profile", ["cn", "us"])
@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("2.9", "mmol/L", True),
        ("3.0", "mmol/L", False),
        ("3.1", "mmol/L", False),
        ("53", "mg/dL", True),
        ("54", "mg/dL", False),
        ("55", "mg/dL", False),
    ],
)
def test_level_2_hypoglycaemia_is_exclusive_below_3_0_mmol_and_54_mg(
    profile: str, value: str, unit: str, expected: bool
) -> None:
    assert fires(profile, "ADA-HYPO-L2", glucose(value, unit)) is expected


@pytest.mark.parametrize("profile", ["cn", "us"])
def test_meter_lo_fires_level_2_hypoglycaemia(profile: str) -> None:
    assert fires(profile, "ADA-HYPO-L2", glucose(None, flag=MeterFlag.lo))


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("2.9", "mmol/L", False),
        ("3.0", "mmol/L", True),
        ("3.1", "mmol/L", True),
        ("3.8", "mmol/L", True),
        ("3.9", "mmol/L", False),
        ("4.0", "mmol/L", False),
        ("53", "mg/dL", False),
        ("54", "mg/dL", True),
        ("55", "mg/dL", True),
        ("69", "mg/dL", True),
        ("70", "mg/dL", False),
        ("71", "mg/dL", False),
    ],
)
def test_us_level_1_hypoglycaemia_covers_54_to_69_mg(value: str, unit: str, expected: bool) -> None:
    assert fires("us", "ADA-HYPO-L1", glucose(value, unit)) is expected


def test_seventy_mg_dl_is_compared_as_sent_not_as_3_885_mmol() -> None:
    # 70 ÷ 18.016 = 3.885 < 3.9: a converted comparison would call it level 1 hypoglycaemia.
    assert not fires("us", "ADA-HYPO-L1", glucose("70", "mg/dL"))
    assert fires("us", "ADA-HYPO-L1", glucose("3.885", "mmol/L"))


def test_3_9_mmol_is_urgent_in_cn_but_not_hypoglycaemia_in_us() -> None:
    assert fires("cn", "CN-DM-01b", glucose("3.9"))
    assert not any(fires("us", code, glucose("3.9")) for code in ("ADA-HYPO-L1", "ADA-HYPO-L2"))


@pytest.mark.parametrize(
    ("systolic", "diastolic", "expected"),
    [
        (179, 100, False),
        (180, 100, True),
        (181, 100, True),
        (170, 109, False),
        (170, 110, True),
        (170, 111, True),
    ],
)
def test_cn_danger_blood_pressure_is_sbp_180_or_dbp_110(systolic: int, diastolic: int, expected: bool) -> None:
    assert fires("cn", "CN-HTN-01", bp(systolic, diastolic)) is expected


@pytest.mark.parametrize(
    ("systolic", "diastolic", "expected"),
    [
        (179, 100, False),
        (180, 100, True),
        (181, 100, True),
        (170, 119, False),
        (170, 120, True),
        (170, 121, True),
    ],
)
def test_us_hypertensive_crisis_is_sbp_180_or_dbp_120(systolic: int, diastolic: int, expected: bool) -> None:
    assert fires("us", "US-HTN-01", bp(systolic, diastolic)) is expected


def test_170_over_112_is_urgent_in_cn_only() -> None:
    assert fires("cn", "CN-HTN-01", bp(170, 112))
    assert not fires("us", "US-HTN-01", bp(170, 112))


def test_urgent_hit_is_due_within_an_hour_and_names_the_reading() -> None:
    hit = evaluate(rule("cn", "CN-DM-01b"), new_readings=[glucose("2.8")], window=[], tz=SHANGHAI, now=NOW)
    assert hit is not None
    assert (hit.severity, hit.outcome, hit.reading_ids) == (Severity.urgent, RuleOutcome.callback, (1,))
    assert hit.due_at == NOW + timedelta(hours=1)
    assert hit.reason.en == "Glucose 2.8 mmol/L at danger level (≤3.9 mmol/L or LO)"
    assert hit.reason.zh_cn == "血糖 2.8 mmol/L，达到危急值（≤3.9 mmol/L或LO）"


def test_reason_speaks_the_unit_the_patient_used() -> None:
    hit = evaluate(rule("us", "ADA-HYPO-L1"), new_readings=[glucose("62", "mg/dL")], window=[], tz=SHANGHAI, now=NOW)
    assert hit is not None
    assert hit.reason.en == "Glucose 62 mg/dL (≥54 and <70 mg/dL)"


def test_same_day_hit_is_due_at_the_end_of_the_local_service_day() -> None:
    hit = evaluate(rule("us", "ADA-HYPO-L1"), new_readings=[glucose("3.5")], window=[], tz=SHANGHAI, now=NOW)
    assert hit is not None
    assert hit.due_at == datetime(2024, 5, 6, 17, 30, tzinfo=SHANGHAI)
    assert hit.due_at.tzinfo is UTC


def test_same_day_hit_after_service_hours_is_due_next_service_day_end() -> None:
    evening = datetime(2024, 5, 6, 21, 0, tzinfo=SHANGHAI)
    assert due_at(rule("us", "ADA-HYPO-L1"), now=evening, tz=SHANGHAI, service_day_end=time(18, 0)) == datetime(
        2024, 5, 7, 18, 0, tzinfo=SHANGHAI
    )


def test_a_reading_of_another_kind_does_not_fire_a_glucose_rule() -> None:
    assert not fires("cn", "CN-DM-01a", bp(200, 120))


def test_rule_without_new_readings_does_not_fire() -> None:
    assert evaluate(rule("cn", "CN-DM-01a"), new_readings=[], window=[glucose("20.0")], tz=SHANGHAI, now=NOW) is None
