"""Properties over generated input for the pure engines a hostile or careless sender reaches: the SMS grammar
and its reply, the rules engine, and the SPC engine. Each either answers or refuses in its own terms —
never an unexpected exception."""

from __future__ import annotations

import operator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from followup.enums import GlucoseContext, Intent, MeterFlag, ReadingKind
from followup.grammar import parse
from followup.replies import reply_for_message
from followup.rules import ReadingFact, default_rules, evaluate
from followup.rules.definitions import Comparison, RuleType, SingleThresholdParams
from followup.rules.evaluate import applies_to, matches
from followup.validation import interpret
from pdca.spc import ChartType, SpcInputError, control_chart

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROGRAMMES = st.sampled_from([("hypertension",), ("diabetes",), ("hypertension", "diabetes"), ()])
UNITS = st.sampled_from(["mmol/L", "mg/dL"])
# Text a phone may send: any Unicode (emoji, CJK, full-width digits, controls), plus SMS-like fragments.
FRAGMENTS = st.sampled_from(["150/95", "血压", "血糖", "bp", "sugar", "空腹", "mmol", "mg/dl", "hi", "lo", "stop",
                             "退订", "胸痛", "7,2", "１５０／９５", "\x00", "\u202e", "'; DROP TABLE reading;--",
                             "<script>", "9" * 40, "-5", "1e309", "0/0", "NaN"])
SMS_TEXT = st.lists(st.text(max_size=40) | FRAGMENTS, max_size=8).map(" ".join)


def _reply(body: str, *, unit: str, programmes: tuple[str, ...], language: str) -> str | None:
    parsed = parse(body)
    interpretation = interpret(parsed, glucose_unit=unit, programmes=programmes)
    return reply_for_message(parsed=parsed, interpretation=interpretation, tier=None, language=language,
                             emergency_number="120", glucose_unit=unit)


@FAST
@given(body=SMS_TEXT, unit=UNITS, programmes=PROGRAMMES, language=st.sampled_from(["zh-CN", "en"]))
def test_any_sms_text_is_read_or_refused_and_answered_never_raises(body, unit, programmes, language):
    parsed = parse(body)
    assert isinstance(parsed.intent, Intent)
    reply = _reply(body, unit=unit, programmes=programmes, language=language)
    if parsed.intent not in (Intent.opt_out, Intent.opt_in, Intent.help):
        assert reply, "every message but a carrier keyword gets an answer (a reading echo or how to write one)"


@FAST
@given(body=st.binary(max_size=200).map(lambda b: b.decode("utf-8", errors="surrogateescape")))
def test_bytes_that_are_not_utf8_parse_without_raising(body):
    assert isinstance(parse(body).intent, Intent)


@FAST
@given(systolic=st.integers(90, 250), diastolic=st.integers(40, 89), language=st.sampled_from(["zh-CN", "en"]))
def test_a_plausible_blood_pressure_is_read_and_echoed_as_sent(systolic, diastolic, language):
    body = f"{systolic}/{diastolic}"
    parsed = parse(body)
    assert parsed.intent is Intent.readings
    interpretation = interpret(parsed, glucose_unit="mmol/L", programmes=("hypertension",))
    assert [v.values for v in interpretation.accepted] == [(Decimal(systolic), Decimal(diastolic))]
    reply = _reply(body, unit="mmol/L", programmes=("hypertension",), language=language)
    assert f"{systolic}/{diastolic}" in reply


@FAST
@given(tenths=st.integers(25, 300), language=st.sampled_from(["zh-CN", "en"]))
def test_a_labelled_glucose_is_echoed_in_the_unit_it_was_sent_in(tenths, language):
    value = Decimal(tenths) / 10
    body = f"血糖 {value}" if language == "zh-CN" else f"sugar {value}"
    interpretation = interpret(parse(body), glucose_unit="mmol/L", programmes=("diabetes",))
    assert [v.values for v in interpretation.accepted] == [(value,)]
    assert str(value) in _reply(body, unit="mmol/L", programmes=("diabetes",), language=language)


# --- rules -------------------------------------------------------------------------------------------------

RULES = [r for profile in ("cn", "us") for r in default_rules(profile)]  # type: ignore[arg-type]
GLUCOSE_THRESHOLDS = [r for r in RULES if r.type is RuleType.single_threshold and r.kind is ReadingKind.glucose
                      and isinstance(r.params, SingleThresholdParams) and r.params.condition.bounds]
START = datetime(2026, 3, 1, tzinfo=UTC)
# Anything a row in the database could hold, including values no sensible meter shows.
ODD_DECIMALS = st.decimals(min_value=-10**6, max_value=10**6, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def any_reading(draw: st.DrawFn, reading_id: int) -> ReadingFact:
    kind = draw(st.sampled_from(list(ReadingKind)))
    taken_at = START + timedelta(minutes=draw(st.integers(-60 * 24 * 40, 60 * 24 * 2)))
    if kind is ReadingKind.blood_pressure:
        return ReadingFact(id=reading_id, kind=kind, taken_at=taken_at, unit="mmHg",
                           systolic=draw(st.integers(-1000, 10**6)), diastolic=draw(st.integers(-1000, 10**6)))
    flag = draw(st.sampled_from([None, None, None, *MeterFlag])) if kind is ReadingKind.glucose else None
    return ReadingFact(id=reading_id, kind=kind, taken_at=taken_at, value=None if flag else draw(ODD_DECIMALS),
                       unit=draw(st.sampled_from(["mmol/L", "mg/dL", "mmHg", "/min", "kg", None])),
                       context=draw(st.sampled_from([None, *GlucoseContext])), meter_flag=flag)


@st.composite
def reading_histories(draw: st.DrawFn) -> tuple[list[ReadingFact], list[ReadingFact]]:
    readings = [draw(any_reading(i)) for i in range(1, draw(st.integers(1, 25)) + 1)]
    cut = draw(st.integers(1, len(readings)))
    return readings[:cut], readings[cut:]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=reading_histories(), zone=st.sampled_from(["Asia/Shanghai", "America/New_York", "UTC"]))
def test_arbitrary_reading_sequences_never_crash_any_rule(history, zone):
    window, new = history
    assume(new)
    now = max(r.taken_at for r in new) + timedelta(minutes=1)
    for rule in RULES:
        hit = evaluate(rule, new_readings=new, window=window, tz=ZoneInfo(zone), now=now)
        if hit is not None:
            assert set(hit.reading_ids) & {r.id for r in new}, "a rule fires only on a new reading"


_COMPARE = {Comparison.ge: operator.ge, Comparison.gt: operator.gt, Comparison.le: operator.le,
            Comparison.lt: operator.lt}


@pytest.mark.parametrize("rule", GLUCOSE_THRESHOLDS, ids=lambda r: r.code)
@settings(max_examples=60, deadline=None)
@given(unit=UNITS, offset=st.integers(-30, 30), context=st.sampled_from([None, *GlucoseContext]))
def test_glucose_thresholds_are_compared_in_the_unit_the_patient_sent(rule, unit, offset, context):
    """Around each bound, in each unit: the reading fires exactly when it meets the bound stated in its own
    unit (70 mg/dL is 3.885 mmol/L, yet must be judged against the mg/dL bound, not a converted 3.9)."""
    condition = rule.params.condition
    step = Decimal("0.1") if unit == "mmol/L" else Decimal(1)
    for bound in condition.bounds:
        value = bound.value_in(unit) + offset * step
        reading = ReadingFact(id=1, kind=ReadingKind.glucose, taken_at=START, value=value, unit=unit,
                              context=context)
        expected = all(_COMPARE[b.op](value, b.value_in(unit)) for b in condition.bounds)
        assert matches(condition, reading) is expected
        hit = evaluate(rule, new_readings=[reading], window=[], tz=ZoneInfo("UTC"), now=START)
        assert (hit is not None) is (expected and applies_to(rule, reading))


# --- SPC ---------------------------------------------------------------------------------------------------

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True) | st.none()


@FAST
@given(kind=st.sampled_from(list(ChartType)), values=st.lists(ANY_FLOAT, max_size=30), data=st.data())
def test_the_spc_engine_draws_a_chart_or_names_the_bad_input(kind, values, data):
    n = len(values)
    kwargs = {"chart_type": kind, "values": values,
              "rules": data.draw(st.sampled_from(["anhoej", "nhs_mdc", "ihi"]))}
    if kind not in (ChartType.c, ChartType.run, ChartType.i, ChartType.mr, ChartType.t):
        kwargs["denominators"] = data.draw(st.lists(ANY_FLOAT, min_size=n, max_size=n))
    if kind is ChartType.xbar:
        kwargs["sds"] = data.draw(st.lists(ANY_FLOAT, min_size=n, max_size=n))
    try:
        chart = control_chart(**kwargs)
    except SpcInputError:
        return  # e.g. a denominator the chart cannot use: refused with the field at fault
    assert len(chart.points) == n


INVALID = st.sampled_from([
    {"chart_type": "pie"},
    {"chart_type": "i", "rules": "astrology"},
    {"chart_type": "p"},  # p needs denominators
    {"chart_type": "c", "denominators": [1.0, 2.0, 3.0]},
    {"chart_type": "xbar", "denominators": [5.0, 5.0, 5.0]},  # xbar needs sds
    {"chart_type": "i", "denominators": [1.0]},  # misaligned
    {"chart_type": "i", "excluded": [3]},
    {"chart_type": "i", "excluded": [-1]},
    {"chart_type": "i", "phases": [2, 1]},
    {"chart_type": "i", "phases": [1], "phase_labels": ["only one"]},
    {"chart_type": "i", "freeze": 0},
    {"chart_type": "i", "multiply": 0.0},
    {"chart_type": "i", "multiply": -100.0},
])


@given(bad=INVALID, values=st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3))
@settings(max_examples=80, deadline=None)
def test_invalid_spc_input_raises_the_engines_validation_error(bad, values):
    with pytest.raises(SpcInputError):
        control_chart(**{"values": values, **bad})
