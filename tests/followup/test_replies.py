"""Patient replies (§6.6, §6.8): exact texts, echo of every value, one segment, no diagnosis words."""

import re
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sms_segments import fits_one_segment, measure
from followup.enums import GlucoseQualifier, MeterFlag, QuestionKind, ReadingKind, ReplyTier
from followup.grammar import parse
from followup.replies import (
    DEFAULT_SIGNATURE_LENGTH,
    LANGUAGES,
    TEMPLATE_DIR,
    ReplyKind,
    compose_reply,
    format_reading,
    reply_for_message,
)
from followup.units import Unit
from followup.validation import Question, ResolvedReading, interpret
from tests.followup.sms_cases import CASES, PROGRAMMES, TABLE_SIGNATURE

FORBIDDEN = re.compile(
    r"高血压|糖尿病|低血糖|高血糖|偏高|偏低|异常|危险|hypertens|diabet|hypoglyc|hyperglyc|abnormal|danger",
    re.IGNORECASE,
)


def reply(body: str, *, tier: ReplyTier | None = ReplyTier.recorded, language: str = "zh-CN",
          unit: str = "mmol/L", programmes=PROGRAMMES, **options) -> str | None:
    parsed = parse(body)
    interpretation = interpret(parsed, glucose_unit=unit, programmes=programmes)
    return reply_for_message(
        parsed=parsed, interpretation=interpretation, tier=tier, language=language,
        emergency_number="911" if language == "en" else "120", glucose_unit=unit, **options,
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_table_message_gets_the_listed_reply(case):
    assert reply(case.message, tier=case.tier, language=case.language, unit=case.glucose_unit) == case.reply


@pytest.mark.parametrize("case", [c for c in CASES if c.reply], ids=lambda c: c.id)
def test_table_reply_has_the_listed_encoding_and_length_and_one_segment(case):
    sent = case.reply + (TABLE_SIGNATURE if case.language == "zh-CN" else "")
    info = measure(sent)
    assert (info.encoding, info.chars, info.segments) == (case.encoding, case.chars, 1)


def test_the_table_signature_is_the_default_chinese_reserve():
    assert DEFAULT_SIGNATURE_LENGTH["zh-CN"] == len(TABLE_SIGNATURE) == 12


def _sample_readings() -> list[ResolvedReading]:
    return [
        ResolvedReading(ReadingKind.blood_pressure, (D(185), D(100)), Unit.mmhg, (D(185), D(100)), group=0),
        ResolvedReading(ReadingKind.heart_rate, (D(72),), Unit.per_min, (D(72),), group=0),
        ResolvedReading(ReadingKind.glucose, (D("3.5"),), Unit.mmol_l, (D("3.5"),),
                        qualifier=GlucoseQualifier.fasting, group=1),
    ]


def _sample_question(kind: QuestionKind) -> Question:
    g = ResolvedReading(ReadingKind.glucose, (D(112),), Unit.mg_dl, (D("6.2"),))
    bp = ResolvedReading(ReadingKind.blood_pressure, (D(150), D(95)), Unit.mmhg, (D(150), D(95)))
    sent = {QuestionKind.bp_order: (D(95), D(150)), QuestionKind.glucose_unit: (D(112),)}.get(kind, (D(130),))
    proposed = {QuestionKind.bp_order: bp, QuestionKind.glucose_unit: g}.get(kind)
    return Question(kind, sent, (proposed,) if proposed else (), proposed)


def _every_reply() -> list[tuple[ReplyKind, str, bool, str]]:
    out = []
    for kind in ReplyKind:
        for language in LANGUAGES:
            for urgent in (False, True):
                question_kind = {ReplyKind.confirm_glucose_unit: QuestionKind.glucose_unit,
                                 ReplyKind.confirm_bp_order: QuestionKind.bp_order,
                                 ReplyKind.ask_weight_unit: QuestionKind.weight_unit,
                                 ReplyKind.ask_label: QuestionKind.bare_ambiguous}.get(kind)
                text = compose_reply(
                    kind=kind, language=language, emergency_number="120", readings=_sample_readings(),
                    question=_sample_question(question_kind) if question_kind else None, urgent=urgent,
                )
                out.append((kind, language, urgent, text))
    return out


@pytest.mark.parametrize(("kind", "language", "urgent", "text"), _every_reply())
def test_no_reply_names_a_diagnosis_or_judges_a_value(kind, language, urgent, text):
    assert not FORBIDDEN.search(text)


@pytest.mark.parametrize(("kind", "language", "urgent", "text"), _every_reply())
def test_every_template_renders_within_one_segment_after_the_signature(kind, language, urgent, text):
    assert text and "{" not in text
    assert fits_one_segment(text, reserve=DEFAULT_SIGNATURE_LENGTH[language])


@pytest.mark.parametrize(("kind", "language", "urgent", "text"), [r for r in _every_reply() if r[1] == "en"])
def test_english_replies_stay_gsm7(kind, language, urgent, text):
    assert measure(text).encoding == "GSM-7"


@pytest.mark.parametrize("kind", list(ReplyKind))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reply_kind_has_a_template_file_per_language(kind, language):
    assert (TEMPLATE_DIR / "sms" / f"reply_{kind}.{language}.txt").is_file()


@pytest.mark.parametrize(
    ("reading", "zh", "en"),
    [(ResolvedReading(ReadingKind.glucose, (D("7.2"),), Unit.mmol_l, (D("7.2"),),
                      qualifier=GlucoseQualifier.pp2h), "血糖7.2(餐后2h)", "glucose 7.2 mmol/L (2h after meal)"),
     (ResolvedReading(ReadingKind.glucose, (D(202),), Unit.mg_dl, (D("11.2"),)), "血糖202mg/dL", "glucose 202 mg/dL"),
     (ResolvedReading(ReadingKind.glucose, (), Unit.mmol_l, (), flag=MeterFlag.hi), "血糖HI", "glucose HI"),
     (ResolvedReading(ReadingKind.glucose, (D("6.8"),), Unit.mmol_l, (D("6.8"),),
                      qualifier=GlucoseQualifier.random), "血糖6.8", "glucose 6.8 mmol/L"),
     (ResolvedReading(ReadingKind.heart_rate, (D(72),), Unit.per_min, (D(72),)), "心率72", "pulse 72"),
     (ResolvedReading(ReadingKind.weight, (D(130),), Unit.jin, (D(65),)), "体重130斤", "weight 130 jin"),
     (ResolvedReading(ReadingKind.weight, (D(143),), Unit.lb, (D("64.9"),)), "体重143磅", "weight 143 lb"),
     (ResolvedReading(ReadingKind.weight, (D(68),), Unit.kg, (D(68),)), "体重68公斤", "weight 68 kg")],
)
def test_each_reading_is_echoed_with_its_unit_and_timing(reading, zh, en):
    assert format_reading(reading, language="zh-CN") == zh
    assert format_reading(reading, language="en") == en


def test_a_long_multi_reading_summary_is_shortened_with_deng():
    body = "血压150/95 心率72 体重68公斤 餐后2小时血糖12.5 空腹血糖6.8 睡前血糖9.1"
    text = reply(body)
    assert text == "已收到：血压150/95，心率72，体重68公斤，血糖12.5(餐后2h)，血糖6.8(空腹)等。谢谢！"
    assert fits_one_segment(text, reserve=12)


def test_a_long_english_summary_is_shortened_with_etc():
    body = "; ".join(f"bp 1{n}0/9{n} sugar {n}.5 fasting" for n in range(1, 6))
    text = reply(body, language="en", tier=ReplyTier.urgent_bp)
    assert text is not None and " etc. Please rest 5 min" in text
    assert text.startswith("Got it: BP 110/91, glucose 1.5 mmol/L (fasting), BP 120/92")
    assert fits_one_segment(text)


def test_a_longer_clinic_signature_shortens_the_echo_rather_than_the_instruction():
    text = reply("血压185/100 心率72 体重68公斤", tier=ReplyTier.urgent_bp, signature_length=20)
    assert text == "已收到：血压185/100等。请休息5分钟后复测并回复结果，医生将尽快致电您。不适请拨打120。"


def test_a_single_long_echo_loses_its_timing_word_before_the_instruction_is_cut():
    text = reply("bg 52 mg/dl 餐后2小时", tier=ReplyTier.urgent_low)
    assert text is not None and text.startswith("已收到")
    assert "请按医生交代的方法处理并复测" in text
    assert fits_one_segment(text, reserve=12)


def test_the_emergency_number_is_a_parameter():
    text = compose_reply(kind=ReplyKind.unparsed, language="en", emergency_number="999")
    assert text == "Sorry, we could not read that. Send like BP 150/95 or glucose 7.2. In an emergency call 999."


def test_format_examples_follow_the_patient_glucose_unit():
    text = compose_reply(kind=ReplyKind.unparsed, language="en", emergency_number="911", glucose_unit="mg/dL")
    assert "glucose 130." in text


def test_an_emergency_number_that_is_not_a_dial_string_is_refused():
    with pytest.raises(ValueError):
        compose_reply(kind=ReplyKind.help, language="en", emergency_number="call the clinic on weekdays")


def test_same_day_low_tells_the_patient_what_to_do_and_that_we_call_today():
    assert reply("bg 65", tier=ReplyTier.same_day_low, language="en", unit="mg/dL") == (
        "Got it: glucose 65 mg/dL. Please follow your care plan for low readings and re-check in 15 min. "
        "We will call you today."
    )


def test_a_heart_rate_recheck_for_a_diabetes_patient_echoes_every_value():
    text = reply("血压150/95 心率108", tier=ReplyTier.recheck)
    assert text == "已收到：血压150/95，心率108。请稍后复测并发送结果，谢谢。"


def test_an_unusual_but_possible_value_gets_a_recheck_reply():
    assert reply("心率35") == "已收到：心率35。请稍后复测并发送结果，谢谢。"


def test_a_dangerous_reversed_blood_pressure_is_asked_about_and_called():
    assert reply("110/190", tier=ReplyTier.urgent_bp) == (
        "您发的血压是110/190，是否应为190/110？医生将尽快致电您核实。不适请拨打120。"
    )


def test_an_unlabelled_number_that_may_be_dangerous_is_asked_about_and_called():
    assert reply("2", tier=ReplyTier.urgent_low) == (
        "请注明项目，如“血糖7.2”或“血压150/95”。医生将尽快致电您核实。不适请拨打120。"
    )


def test_a_glucose_unit_question_for_a_mgdl_patient_shows_the_mgdl_example():
    assert reply("bg 6", language="en", unit="mg/dL") == (
        "Is glucose 6 in mmol/L? Reply OK if yes, otherwise resend like glucose 108 mg/dL."
    )


def test_a_question_beside_accepted_readings_echoes_them_first():
    text = reply("血压150/95 体重130")
    assert text == "已收到：血压150/95。收到体重130，单位是公斤还是斤？请按“体重65公斤”格式重发。"


def test_a_rejected_reading_beside_an_accepted_one_is_reported():
    text = reply("血压150/95 血糖0.5")
    assert text == "已收到：血压150/95。读数超出可识别范围，请复测后按“血压150/95”或“血糖7.2”格式发送。"


def test_a_symptom_gets_the_emergency_reply_whatever_else_the_message_says():
    assert reply("stop sending, chest pain", tier=ReplyTier.symptom, language="en") == (
        "If you have chest pain, trouble breathing or confusion call 911 now. Your care team will call you shortly."
    )


@pytest.mark.parametrize("body", ["STOP", "退订", "TD", "stop", "unsubscribe"])
def test_opt_out_gets_no_reply(body):
    assert reply(body, tier=None) is None
    assert reply(body, tier=None, carrier_answers_keywords=False) is None


@pytest.mark.parametrize("body", ["HELP", "info", "YES", "start"])
def test_keywords_twilio_answers_get_no_second_reply(body):
    assert reply(body, tier=None, language="en") is None


def test_help_in_chinese_is_answered_by_the_app():
    assert reply("帮助", tier=None) == "发送格式：血压150/95 或 血糖7.2（可加空腹/餐后）。紧急情况请拨打120。"


def test_without_carrier_keyword_handling_the_app_answers_help_and_opt_in():
    assert reply("HELP", tier=None, language="en", carrier_answers_keywords=False) == (
        "Send readings like BP 150/95 or glucose 7.2 (you may add fasting or after meal). In an emergency call 911."
    )
    assert reply("START", tier=None, language="en", carrier_answers_keywords=False) == (
        "You will get reading reminders and replies again. Reply STOP to stop."
    )


@pytest.mark.parametrize(
    ("body", "language", "text"),
    [("STOP PLEASE", "en", "To stop texts reply STOP. Your care team may still call you."),
     ("不要再发了", "zh-CN", "如需停止接收短信，请回复“退订”。医生仍可能致电您。")],
)
def test_a_wish_to_stop_in_several_words_gets_the_hint_reply(body, language, text):
    assert reply(body, tier=None, language=language) == text


@pytest.mark.parametrize(
    ("body", "language", "text"),
    [("确认", "zh-CN", "已确认，谢谢。"), ("OK", "en", "Confirmed, thank you."),
     ("不对", "zh-CN", "好的，该读数已作废，请复测后重新发送。"),
     ("N", "en", "OK, that reading was discarded. Please re-measure and send it again.")],
)
def test_confirm_and_reject_words_are_acknowledged(body, language, text):
    assert reply(body, tier=None, language=language) == text


@pytest.mark.parametrize(
    ("language", "text"),
    [("zh-CN", "本号码未登记，请联系您的家庭医生或社区卫生服务中心。"),
     ("en", "This number is not registered with us. Please contact your clinic.")],
)
def test_an_unknown_number_gets_the_not_registered_reply(language, text):
    assert compose_reply(kind=ReplyKind.not_registered, language=language, emergency_number="120") == text


def test_language_codes_are_forgiving():
    assert compose_reply(kind=ReplyKind.confirmed, language="zh", emergency_number="120") == "已确认，谢谢。"
    assert compose_reply(kind=ReplyKind.confirmed, language="en-US", emergency_number="911") == "Confirmed, thank you."


_numbers = st.one_of(
    st.integers(min_value=0, max_value=9999).map(D),
    st.decimals(min_value=0, max_value=9999, places=3, allow_nan=False, allow_infinity=False),
)


@st.composite
def resolved_readings(draw, group: int) -> ResolvedReading:
    kind = draw(st.sampled_from(list(ReadingKind)))
    if kind is ReadingKind.blood_pressure:
        values = (draw(_numbers), draw(_numbers))
        return ResolvedReading(kind, values, Unit.mmhg, values, group=group)
    if kind is ReadingKind.heart_rate:
        value = (draw(_numbers),)
        return ResolvedReading(kind, value, Unit.per_min, value, group=group)
    if kind is ReadingKind.weight:
        value = (draw(_numbers),)
        return ResolvedReading(kind, value, draw(st.sampled_from([Unit.kg, Unit.jin, Unit.lb])), value, group=group)
    flag = draw(st.none() | st.sampled_from(list(MeterFlag)))
    value = () if flag else (draw(_numbers),)
    return ResolvedReading(
        kind, value, draw(st.sampled_from([Unit.mmol_l, Unit.mg_dl])), value,
        qualifier=draw(st.none() | st.sampled_from(list(GlucoseQualifier))), flag=flag, group=group,
    )


@st.composite
def reading_lists(draw) -> list[ResolvedReading]:
    groups = draw(st.lists(st.integers(min_value=1, max_value=2), max_size=8))
    return [draw(resolved_readings(group=g)) for g, size in enumerate(groups) for _ in range(size)]


@settings(max_examples=300)
@given(
    readings=reading_lists(),
    kind=st.sampled_from([ReplyKind(str(t)) for t in ReplyTier]),
    language=st.sampled_from(LANGUAGES),
    number=st.sampled_from(["120", "911", "999", "112", "999/111"]),
)
def test_every_composed_reply_fits_one_segment_for_arbitrary_readings(readings, kind, language, number):
    text = compose_reply(kind=kind, language=language, emergency_number=number, readings=readings)
    assert fits_one_segment(text, reserve=DEFAULT_SIGNATURE_LENGTH[language])
    assert not FORBIDDEN.search(text)


@settings(max_examples=300)
@given(
    body=st.text(max_size=120) | st.lists(st.sampled_from(
        ["血压", "血糖", "bp", "sugar", "心率", "体重", "空腹", "餐后2小时", "mg/dl", "斤", "胸痛", " ", "/", "."]
        + [str(n) for n in (3, 7, 45, 95, 112, 150, 185, 630, 999)]), max_size=20).map("".join),
    tier=st.none() | st.sampled_from(list(ReplyTier)),
    language=st.sampled_from(LANGUAGES),
    unit=st.sampled_from(["mmol/L", "mg/dL"]),
)
def test_every_reply_to_any_message_fits_one_segment(body, tier, language, unit):
    text = reply(body, tier=tier, language=language, unit=unit)
    if text is not None:
        assert fits_one_segment(text, reserve=DEFAULT_SIGNATURE_LENGTH[language])
        assert not FORBIDDEN.search(text)


def test_the_language_layer_imports_no_web_or_database_code():
    code = (
        "import sys; import followup.grammar, followup.validation, followup.replies, followup.units; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('litestar', 'sqlmodel', 'sqlalchemy') "
        "or (m.startswith('core.') and m != 'core.sms_segments')); print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "[]"
