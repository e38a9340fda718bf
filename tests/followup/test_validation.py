"""Validation and unit inference (§6.4): what is accepted, asked about or rejected, for which patient."""

import dataclasses
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic.enums import Programme
from followup.enums import GlucoseContext, GlucoseQualifier, Intent, MeterFlag, QuestionKind, ReadingKind, VerdictStatus
from followup.grammar import parse
from followup.units import DEFAULT_BOUNDS, Unit
from followup.validation import DIABETES, HYPERTENSION, Interpretation, interpret
from tests.followup.sms_cases import CASES, PROGRAMMES

BOTH = PROGRAMMES
HTN = frozenset({"hypertension"})
DM = frozenset({"diabetes"})
_SHORT = {ReadingKind.glucose: "GLU", ReadingKind.blood_pressure: "BP", ReadingKind.heart_rate: "HR",
          ReadingKind.weight: "WT"}


def read(body: str, *, unit: str = "mmol/L", programmes=BOTH) -> Interpretation:
    return interpret(parse(body), glucose_unit=unit, programmes=programmes)


def describe(interpretation: Interpretation) -> str:
    """The §6.8 "Parsed" column, from what validation made of each reading (as the patient sent it)."""
    items: list[list[str]] = []
    last_group = None
    for v in interpretation.verdicts:
        r = v.reading
        if r.kind is None:  # enrolment could not tell what it is: nothing was understood
            continue
        text = f"{_SHORT[r.kind]} {r.flag.upper() if r.flag else '/'.join(str(x) for x in r.values)}"
        if r.kind is ReadingKind.glucose and r.unit is not None:
            text += f" {r.unit}"
        if r.kind is ReadingKind.weight:
            text += f" {r.unit or '?'}"
        if r.qualifier is not None:
            text += f" [{r.qualifier}]"
        if r.group == last_group:
            items[-1].append(text)
        else:
            items.append([text])
        last_group = r.group
    out = "; ".join(" ".join(item) for item in items)
    if interpretation.symptoms:
        out = (out + " " if out else "") + "{symptom:" + ",".join(interpretation.symptoms) + "}"
    return out or "—"


def _table_status(case) -> VerdictStatus | None:
    if "CONFIRM" in case.rule_hits:
        return VerdictStatus.confirm
    if "REJECT" in case.rule_hits:
        return VerdictStatus.rejected
    return VerdictStatus.accepted if case.intent == "READINGS" else None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_table_message_is_understood_as_listed_for_its_profile(case):
    result = read(case.message, unit=case.glucose_unit, programmes=PROGRAMMES)
    assert result.intent == Intent(case.intent.lower())
    assert describe(result) == case.parsed


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_table_message_is_accepted_asked_or_rejected_as_listed(case):
    result = read(case.message, unit=case.glucose_unit, programmes=PROGRAMMES)
    expected = _table_status(case)
    if case.n == 36:  # "7": asked about ("glucose or BP?") although the table files it as UNPARSED
        expected = VerdictStatus.confirm
    assert {v.status for v in result.verdicts} == ({expected} if expected else set())


def test_glucose_without_timing_word_is_random_context():
    (g,) = read("血糖7.2").accepted
    assert (g.context, g.qualifier) == (GlucoseContext.random, None)


@pytest.mark.parametrize(
    ("body", "context"),
    [("空腹血糖6.8", GlucoseContext.fasting), ("餐前血糖6.8", GlucoseContext.before_meal),
     ("餐后1小时血糖6.8", GlucoseContext.after_meal_1h), ("餐后2小时血糖6.8", GlucoseContext.after_meal_2h),
     ("睡前血糖6.8", GlucoseContext.bedtime), ("餐后血糖6.8", GlucoseContext.random)],
)
def test_timing_words_map_to_glucose_contexts(body, context):
    assert read(body).accepted[0].context is context


def test_a_bare_after_meal_keeps_its_word_for_the_echo():
    assert read("餐后血糖6.8").accepted[0].qualifier is GlucoseQualifier.postprandial


def test_explicit_glucose_unit_wins_over_the_patient_unit():
    (g,) = read("bg 52 mg/dl", unit="mmol/L").accepted
    assert (g.unit, g.values, g.canonical) == (Unit.mg_dl, (D(52),), (D("2.9"),))


def test_a_decimal_point_means_mmol_even_for_a_mgdl_patient():
    (g,) = read("bg 5.6", unit="mg/dL").accepted
    assert (g.unit, g.canonical) == (Unit.mmol_l, (D("5.6"),))


def test_an_integer_in_the_patient_unit_is_accepted():
    (g,) = read("bg 202", unit="mg/dL").accepted
    assert (g.unit, g.canonical, g.canonical_unit) == (Unit.mg_dl, (D("11.2"),), Unit.mmol_l)
    (g,) = read("血糖7", unit="mmol/L").accepted
    assert (g.unit, g.canonical) == (Unit.mmol_l, (D("7"),))


def test_a_large_integer_from_a_mmol_patient_asks_whether_it_is_mgdl():
    (verdict,) = read("血糖112").verdicts
    q = verdict.question
    assert verdict.status is VerdictStatus.confirm
    assert q is not None and q.kind is QuestionKind.glucose_unit
    assert q.proposed is not None
    assert (q.proposed.unit, q.proposed.values, q.proposed.canonical) == (Unit.mg_dl, (D(112),), (D("6.2"),))
    assert q.sent == (D(112),)


def test_glucose_unit_question_carries_the_dangerous_meaning_for_the_urgent_path():
    # 45 mmol/L is impossible; 45 mg/dL = 2.5 mmol/L is dangerous and must reach the rules engine now.
    (q,) = read("血糖45").questions
    assert [(c.unit, c.canonical) for c in q.candidates] == [(Unit.mg_dl, (D("2.5"),))]


def test_a_value_just_above_the_mmol_range_is_asked_about_not_rejected():
    (q,) = read("血糖36").questions
    assert q.kind is QuestionKind.glucose_unit
    assert q.proposed is not None and q.proposed.unit is Unit.mg_dl


def test_a_small_value_from_a_mgdl_patient_asks_whether_it_is_mmol():
    (q,) = read("bg 6", unit="mg/dL").questions
    assert q.proposed is not None
    assert (q.proposed.unit, q.proposed.canonical) == (Unit.mmol_l, (D("6"),))
    assert [c.unit for c in q.candidates] == [Unit.mmol_l]


def test_both_glucose_meanings_are_candidates_when_both_are_plausible():
    # 19 mmol/L (very high) and 19 mg/dL (very low) are both possible, and both dangerous.
    (q,) = read("bg 19", unit="mg/dL").questions
    assert [(c.unit, c.canonical) for c in q.candidates] == [(Unit.mmol_l, (D(19),)), (Unit.mg_dl, (D("1.1"),))]


@pytest.mark.parametrize(("body", "unit"), [("血糖0.5", "mmol/L"), ("血糖36.0", "mmol/L"), ("bg 700", "mg/dL"),
                                            ("bg 10 mg/dl", "mmol/L"), ("血糖1000", "mmol/L")])
def test_glucose_outside_the_hard_bounds_is_rejected(body, unit):
    (verdict,) = read(body, unit=unit).verdicts
    assert (verdict.status, verdict.reason) == (VerdictStatus.rejected, "glucose_range")


@pytest.mark.parametrize(("body", "flag"), [("血糖 HI", MeterFlag.hi), ("glucose LO", MeterFlag.lo)])
def test_meter_flags_are_accepted_without_a_value(body, flag):
    (g,) = read(body).accepted
    assert (g.flag, g.values, g.canonical, g.unit) == (flag, (), (), Unit.mmol_l)


def test_reversed_blood_pressure_asks_did_you_mean_the_other_order():
    (verdict,) = read("95/150").verdicts
    q = verdict.question
    assert q is not None and q.kind is QuestionKind.bp_order
    assert q.sent == (D(95), D(150))
    assert q.proposed is not None and q.proposed.values == (D(150), D(95))


def test_reversed_blood_pressure_is_asked_about_even_when_the_sent_order_breaks_a_range():
    assert read("40/150").questions[0].proposed.values == (D(150), D(40))  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "reason"),
    [("血压15/9", "sbp_range"), ("血压150/150", "dbp_not_below_sbp"), ("血压150.5/95", "not_integer"),
     ("bp 150", "value_count"), ("血压400/300", "sbp_range")],
)
def test_impossible_blood_pressure_is_rejected(body, reason):
    (verdict,) = read(body).verdicts
    assert (verdict.status, verdict.reason) == (VerdictStatus.rejected, reason)


def test_unusual_but_possible_blood_pressure_is_accepted_with_a_recheck():
    (verdict,) = read("血压260/100").verdicts
    assert verdict.status is VerdictStatus.accepted
    assert verdict.recheck
    assert verdict.reason == "sbp_unusual"


def test_blood_pressure_triple_gives_a_separate_heart_rate_reading():
    bp, hr = read("150/95/72").accepted
    assert (bp.kind, bp.values, bp.unit, bp.ucum) == (ReadingKind.blood_pressure, (D(150), D(95)), Unit.mmhg, "mm[Hg]")
    assert (hr.kind, hr.values, hr.unit, hr.ucum) == (ReadingKind.heart_rate, (D(72),), Unit.per_min, "/min")
    assert bp.group == hr.group


def test_heart_rate_outside_soft_bounds_is_accepted_with_a_recheck():
    (verdict,) = read("心率35").verdicts
    assert verdict.status is VerdictStatus.accepted and verdict.recheck


@pytest.mark.parametrize("body", ["心率300", "心率72.5"])
def test_impossible_heart_rate_is_rejected(body):
    assert read(body).verdicts[0].status is VerdictStatus.rejected


def test_weight_without_unit_asks_for_the_unit_with_every_plausible_meaning():
    (q,) = read("体重130").questions
    assert q.kind is QuestionKind.weight_unit
    assert q.proposed is None  # OK cannot answer "公斤还是斤": the patient must resend
    assert [(c.unit, c.canonical) for c in q.candidates] == [
        (Unit.kg, (D("130.0"),)), (Unit.jin, (D("65.0"),)), (Unit.lb, (D("59.0"),))]


def test_weight_in_jin_is_stored_in_kg_with_the_original_kept():
    (w,) = read("体重130斤").accepted
    assert (w.values, w.unit, w.canonical, w.canonical_unit, w.ucum) == ((D(130),), Unit.jin, (D("65.0"),), Unit.kg,
                                                                         None)


@pytest.mark.parametrize("body", ["体重900公斤", "体重5斤", "体重1000"])
def test_impossible_weight_is_rejected(body):
    assert read(body).verdicts[0].status is VerdictStatus.rejected


def test_bare_decimal_is_glucose_for_any_patient():
    for programmes in (BOTH, HTN, DM, frozenset()):
        (g,) = read("11.2", programmes=programmes).accepted
        assert (g.kind, g.unit) == (ReadingKind.glucose, Unit.mmol_l)


def test_bare_integer_pair_is_blood_pressure_for_a_hypertension_patient():
    (bp,) = read("150 95", programmes=HTN).accepted
    assert (bp.kind, bp.values) == (ReadingKind.blood_pressure, (D(150), D(95)))


def test_bare_integer_triple_is_blood_pressure_and_heart_rate():
    bp, hr = read("150 95 72", programmes=BOTH).accepted
    assert (bp.kind, hr.kind, hr.values) == (ReadingKind.blood_pressure, ReadingKind.heart_rate, (D(72),))


def test_bare_integer_pair_is_asked_about_for_a_diabetes_only_patient():
    result = read("150 95", programmes=DM)
    assert result.intent is Intent.unparsed
    assert result.questions[0].kind is QuestionKind.bare_ambiguous


def test_lone_integer_from_a_patient_in_both_programmes_is_asked_about():
    result = read("7", programmes=BOTH)
    assert result.intent is Intent.unparsed
    (q,) = result.questions
    assert q.kind is QuestionKind.bare_ambiguous
    assert q.proposed is None
    assert [(c.kind, c.unit) for c in q.candidates] == [(ReadingKind.glucose, Unit.mmol_l)]


def test_a_dangerous_lone_integer_reaches_the_urgent_path_as_a_candidate():
    (q,) = read("2", programmes=BOTH).questions
    assert q.candidates[0].canonical == (D(2),)


def test_lone_integer_from_a_diabetes_only_patient_is_glucose():
    (g,) = read("7", programmes=DM).accepted
    assert (g.kind, g.values) == (ReadingKind.glucose, (D(7),))


def test_lone_integer_from_a_hypertension_only_patient_has_no_meaning_to_offer():
    (q,) = read("7", programmes=HTN).questions
    assert q.candidates == ()


def test_a_lone_integer_beside_a_known_reading_keeps_the_message_readable():
    result = read("血压150/95 72")
    assert result.intent is Intent.readings
    assert [v.status for v in result.verdicts] == [VerdictStatus.accepted, VerdictStatus.confirm]


def test_programme_names_match_the_clinic_enum():
    assert {HYPERTENSION, DIABETES} == {p.value for p in Programme}


def test_programmes_may_be_clinic_enums():
    (bp,) = read("150 95", programmes={Programme.hypertension}).accepted
    assert bp.kind is ReadingKind.blood_pressure


def test_control_messages_have_no_verdicts():
    result = read("确认")
    assert (result.intent, result.verdicts) == (Intent.confirm, ())


def test_symptoms_are_carried_through():
    assert read("胸口痛 喘不上气").symptoms == ("胸口痛", "喘不上气")


def test_clinic_bounds_override_the_reference_defaults():
    bounds = dataclasses.replace(DEFAULT_BOUNDS, glucose_mgdl_suspect_min=D(30))
    result = interpret(parse("血糖35"), glucose_unit="mmol/L", programmes=BOTH, bounds=bounds)
    assert result.questions[0].kind is QuestionKind.glucose_unit
    assert read("血糖35").accepted[0].unit is Unit.mmol_l


def test_an_unknown_glucose_unit_is_a_programming_error():
    with pytest.raises(ValueError):
        read("血糖7.2", unit="mmHg")


@settings(max_examples=300)
@given(st.text(max_size=200), st.sampled_from(["mmol/L", "mg/dL"]),
       st.sets(st.sampled_from(["hypertension", "diabetes"])))
def test_interpret_never_raises_and_resolves_every_accepted_reading(body, unit, programmes):
    result = interpret(parse(body), glucose_unit=unit, programmes=programmes)
    for r in result.accepted:
        assert r.kind in ReadingKind
        assert len(r.canonical) == len(r.values)
