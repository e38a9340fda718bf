"""Rule definitions as plain JSON: round-tripping, and validation errors that name the field at fault."""

import copy
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from followup.enums import ReadingKind, RuleType, Severity
from followup.rules import (
    LocalizedText,
    ReadingFact,
    RuleDefinition,
    RuleInvalid,
    SingleThresholdParams,
    default_rules,
    evaluate,
)
from followup.rules.codec import format_duration, parse_duration


def rule_dict(code: str, profile: str = "cn") -> dict[str, Any]:
    return next(r for r in default_rules(profile) if r.code == code).to_dict()  # type: ignore[arg-type]


def errors_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(RuleInvalid) as caught:
        RuleDefinition.from_dict(data)
    return {e.field: e.message for e in caught.value.errors}


@pytest.mark.parametrize("profile", ["cn", "us"])
def test_every_default_rule_round_trips_through_json(profile: str) -> None:
    for rule in default_rules(profile):  # type: ignore[arg-type]
        data = json.loads(json.dumps(rule.to_dict(), ensure_ascii=False))
        assert RuleDefinition.from_dict(data) == rule


def test_json_stores_glucose_thresholds_in_both_units_as_text() -> None:
    bound = rule_dict("CN-DM-01a")["params"]["condition"]["bounds"][0]
    assert bound == {"op": "ge", "mmol/L": "16.7", "mg/dL": "300"}


def test_durations_are_iso_8601() -> None:
    assert [
        format_duration(d)
        for d in (
            timedelta(minutes=15),
            timedelta(hours=1),
            timedelta(days=14),
            timedelta(days=1, hours=2),
            timedelta(0),
        )
    ] == ["PT15M", "PT1H", "P14D", "P1DT2H", "PT0S"]
    assert parse_duration("P2W") == timedelta(days=14)


def test_an_edited_threshold_changes_what_fires() -> None:
    data = rule_dict("CN-DM-01a")
    data["params"]["condition"]["bounds"][0].update({"mmol/L": "15.0", "mg/dL": "270"})
    rule = RuleDefinition.from_dict(data)
    now = datetime(2024, 5, 6, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    reading = ReadingFact(id=1, kind=ReadingKind.glucose, taken_at=now, value=Decimal("15.5"), unit="mmol/L")
    assert evaluate(rule, new_readings=[reading], window=[], tz=now.tzinfo, now=now) is not None  # type: ignore[arg-type]


def test_an_unknown_severity_names_the_field_and_the_choices() -> None:
    data = rule_dict("CN-DM-01a") | {"severity": "critical"}
    assert errors_of(data) == {"severity": "'critical' is not one of emergency, urgent, same_day, follow_up, routine"}


def test_a_glucose_threshold_without_mg_dl_is_rejected() -> None:
    data = rule_dict("CN-DM-01a")
    del data["params"]["condition"]["bounds"][0]["mg/dL"]
    message = errors_of(data)["params.condition.bounds[0].mg/dL"]
    assert message.startswith("is required: glucose thresholds are stated in mmol/L and mg/dL")


def test_a_misspelt_unit_is_rejected_by_its_path() -> None:
    data = rule_dict("CN-DM-01a")
    bound = data["params"]["condition"]["bounds"][0]
    bound["mmol/l"] = bound.pop("mmol/L")
    found = errors_of(data)
    assert found["params.condition.bounds[0].mmol/l"] == "unknown or repeated unit; expected mmol/L, mg/dL"
    assert "params.condition.bounds[0].mmol/L" in found


def test_glucose_values_that_disagree_between_units_are_rejected() -> None:
    data = rule_dict("CN-DM-01a")
    data["params"]["condition"]["bounds"][0]["mg/dL"] = "30"
    assert errors_of(data) == {"params.condition.bounds[0].mg/dL": "30 does not match 16.7 mmol/L (≈ 301 mg/dL)"}


def test_a_threshold_that_is_not_a_number_is_rejected() -> None:
    data = rule_dict("CN-DM-01a")
    data["params"]["condition"]["bounds"][0]["mmol/L"] = "16,7"
    assert errors_of(data) == {"params.condition.bounds[0].mmol/L": "expected a number such as 16.7 (got '16,7')"}


def test_a_due_time_in_words_is_rejected_with_an_example() -> None:
    data = rule_dict("CN-DM-01a") | {"due": "1 hour"}
    assert errors_of(data) == {"due": "expected an ISO 8601 duration such as PT15M, PT1H or P14D (got '1 hour')"}


def test_every_bad_field_is_reported_at_once() -> None:
    data = rule_dict("DES-GLU-3D") | {"severity": "soon", "due": "tomorrow"}
    data["params"]["days"] = "three"
    assert set(errors_of(data)) == {"severity", "due", "params.days"}


def test_a_missing_field_is_reported_as_required() -> None:
    data = rule_dict("DES-GLU-3D")
    del data["params"]["days"]
    assert errors_of(data) == {"params.days": "is required"}


def test_an_unknown_field_is_reported() -> None:
    data = rule_dict("DES-GLU-3D")
    data["params"]["dayz"] = 3
    assert "params.dayz" in errors_of(data)


def test_an_unknown_placeholder_names_the_allowed_ones() -> None:
    data = rule_dict("CN-DM-01a")
    data["reason"]["en"] = "Glucose {value}"
    message = errors_of(data)["reason.en"]
    assert message.startswith("unknown placeholder {value}; allowed: {condition}, {readings}, {subject}")


def test_attribute_access_in_a_text_is_rejected() -> None:
    data = rule_dict("CN-DM-01a")
    data["reason"]["zh-CN"] = "{subject.__class__}"
    assert "reason.zh-CN" in errors_of(data)


def test_a_format_spec_in_a_text_is_rejected() -> None:
    data = rule_dict("CN-DM-01a")
    data["reason"]["en"] = "{values:>999999}"
    assert errors_of(data) == {"reason.en": "write placeholders bare, such as {values}, without ':' or '!'"}


def test_a_title_takes_no_placeholders() -> None:
    data = rule_dict("CN-DM-01a")
    data["title"]["en"] = "High {subject}"
    assert errors_of(data)["title.en"].startswith("unknown placeholder {subject}; none allowed")


def test_unpaired_braces_are_rejected() -> None:
    data = rule_dict("CN-DM-01a")
    data["reason"]["en"] = "Glucose {subject"
    assert errors_of(data)["reason.en"].startswith("braces do not pair up")


def test_consecutive_days_needs_at_least_two_days() -> None:
    data = rule_dict("DES-GLU-3D")
    data["params"]["days"] = 1
    assert errors_of(data) == {"params.days": "must be a whole number from 2 to 31"}


def test_k_of_n_without_n_or_window_is_rejected_because_it_would_read_all_history() -> None:
    data = rule_dict("CN-DM-03r")
    data["params"]["within"] = None
    assert "params.within" in errors_of(data)


def test_k_larger_than_n_is_rejected() -> None:
    data = rule_dict("CN-DM-03")
    data["params"]["k"] = 4
    assert errors_of(data) == {"params.n": "must be a whole number from k (4) to 100, or empty"}


def test_blood_pressure_rules_cannot_be_limited_to_glucose_contexts() -> None:
    data = rule_dict("CN-HTN-01") | {"contexts": ["fasting"]}
    assert errors_of(data) == {"contexts": "only glucose rules can be limited to glucose contexts"}


def test_an_empty_context_list_means_any_context() -> None:
    data = rule_dict("CN-DM-03") | {"contexts": []}
    assert RuleDefinition.from_dict(data).contexts is None


def test_missing_data_reminder_must_come_before_the_callback() -> None:
    data = rule_dict("DES-MISS-01")
    data["params"]["reminder_after"] = "P21D"
    assert errors_of(data) == {"params.reminder_after": "must come before callback_after"}


def test_a_symptom_rule_cannot_have_a_reading_kind() -> None:
    data = rule_dict("CN-SYM-01") | {"kind": "glucose"}
    assert "kind" in errors_of(data)


def test_params_of_another_type_are_rejected_by_the_type() -> None:
    data = copy.deepcopy(rule_dict("CN-DM-01a")) | {"type": "window_mean"}
    found = errors_of(data)
    assert {"params.within", "params.min_readings", "params.min_days"} <= set(found)


def test_a_rule_built_in_code_is_checked_too() -> None:
    with pytest.raises(RuleInvalid) as caught:
        RuleDefinition(
            code="bad code!",
            kind=None,
            type=RuleType.single_threshold,
            params=SingleThresholdParams(condition=default_rules("cn")[0].params.condition),  # type: ignore[union-attr]
            severity=Severity.urgent,
            due=timedelta(hours=1),
            title=LocalizedText("t", "t"),
            reason=LocalizedText("r", "r"),
        )
    assert {e.field for e in caught.value.errors} == {"code", "kind"}


def test_rule_invalid_is_a_value_error_with_a_readable_message() -> None:
    with pytest.raises(ValueError, match=r"^severity: 'x' is not one of"):
        RuleDefinition.from_dict(rule_dict("CN-DM-01a") | {"severity": "x"})


def test_a_non_object_is_rejected() -> None:
    with pytest.raises(RuleInvalid, match="rule: expected an object"):
        RuleDefinition.from_dict([])  # type: ignore[arg-type]
