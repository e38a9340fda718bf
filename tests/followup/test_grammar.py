"""The SMS grammar: normalisation (§6.2), control words, readings and symptoms (§6.3), the §6.8 messages."""

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.enums import GlucoseQualifier, Intent, MeterFlag, ReadingKind
from followup.grammar import MAX_BODY_CHARS, SYMPTOM_LEXICON, ParsedMessage, normalise, parse
from followup.units import Unit
from tests.followup.sms_cases import CASES

_SHORT = {
    ReadingKind.glucose: "GLU",
    ReadingKind.blood_pressure: "BP",
    ReadingKind.heart_rate: "HR",
    ReadingKind.weight: "WT",
    None: "?",
}


def describe(message: ParsedMessage) -> str:
    """The notation of the §6.8 "Parsed" column; a bare reading (kind unknown before enrolment) is "?"."""
    items: list[list[str]] = []
    last_group = None
    for r in message.readings:
        values = " ".join(str(v) for v in r.values) if r.kind is None else "/".join(str(v) for v in r.values)
        text = f"{_SHORT[r.kind]} {r.flag.upper() if r.flag else values}"
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
    if message.symptoms:
        out = (out + " " if out else "") + "{symptom:" + ",".join(message.symptoms) + "}"
    return out or "—"


# Bare numbers stay bare in the parser; enrolment turns them into glucose or BP (see test_validation).
_BARE_ROWS = {34: "? 11.2", 35: "? 150 95", 36: "? 7"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_table_message_parses_to_the_listed_readings(case):
    assert describe(parse(case.message)) == _BARE_ROWS.get(case.n, case.parsed)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_table_message_has_the_listed_intent(case):
    # #36 "7" is a bare reading to the parser; it only becomes UNPARSED once enrolment cannot resolve it.
    expected = "READINGS" if case.n == 36 else case.intent
    assert parse(case.message).intent == Intent(expected.lower())


def test_full_width_digits_parse_as_glucose():
    (r,) = parse("血糖１１．２").readings
    assert (r.kind, r.values) == (ReadingKind.glucose, (D("11.2"),))


def test_ideographic_full_stop_between_digits_is_a_decimal_point():
    assert parse("血糖11。2").readings[0].values == (D("11.2"),)
    assert normalise("血糖7.2。") == "血糖7.2"


def test_reading_values_are_decimals_that_keep_11_2_exact():
    (r,) = parse("血糖11.2").readings
    assert isinstance(r.values[0], D)
    assert str(r.values[0]) == "11.2"


@pytest.mark.parametrize(
    ("body", "values"),
    [("血压一百五十/九十五", (D(150), D(95))), ("血压一百五/九十", (D(150), D(90))),
     ("血压一百零五/七十", (D(105), D(70))), ("血压两百/一百一十", (D(200), D(110)))],
)
def test_chinese_numerals_with_hundreds_and_tens_become_digits(body, values):
    assert parse(body).readings[0].values == values


def test_chinese_numerals_with_a_spoken_point_become_a_decimal():
    assert parse("血糖十一点二").readings[0].values == (D("11.2"),)
    assert parse("血糖三点五").readings[0].values == (D("3.5"),)


def test_digit_by_digit_chinese_numerals_are_not_read():
    assert parse("一五零/九五").intent is Intent.unparsed


def test_spoken_decimal_with_arabic_digits_after_a_glucose_keyword():
    assert parse("血糖11点2").readings[0].values == (D("11.2"),)
    assert parse("xt: 6点5").readings[0].values == (D("6.5"),)


@pytest.mark.parametrize(
    "body", ["早上7点血糖6.5", "7:30 血糖6.5", "血糖6.5 7点半", "昨天血糖6.5", "血糖6.5 at 8am",
             "早上七点二十分血糖六点五", "下午3点15分 血糖6.5"],
)
def test_clock_times_and_day_words_are_dropped(body):
    (r,) = parse(body).readings
    assert (r.kind, r.values) == (ReadingKind.glucose, (D("6.5"),))


def test_a_number_after_a_slash_is_never_taken_for_a_clock_time():
    assert parse("bp 150/95 pm").readings[0].values == (D(150), D(95))


def test_n_over_m_is_blood_pressure():
    assert parse("BP 150 over 95").readings[0].values == (D(150), D(95))
    assert parse("150 OVER 95").readings[0].kind is ReadingKind.blood_pressure


@pytest.mark.parametrize(
    "body", ["血压150/95", "bp150/95", "BP: 150/95", "b/p 150/95", "blood pressure 150/95", "xy 150/95",
             "血压150-95", "血压150\\95", "150|95", "150-95", "高压150低压95", "收缩压150 舒张压95",
             "sys 150 dia 95", "低压95高压150", "bp 150 95", "bp 150,95", "血压是150/95", "150/95mmHg"],
)
def test_blood_pressure_forms(body):
    (r,) = parse(body).readings
    assert (r.kind, r.values, r.unit) == (ReadingKind.blood_pressure, (D(150), D(95)), Unit.mmhg)


@pytest.mark.parametrize("body", ["150/95/72", "bp 150 95 72", "血压150/95/72"])
def test_a_third_number_is_a_separate_heart_rate_in_the_same_item(body):
    bp, hr = parse(body).readings
    assert (bp.kind, bp.values) == (ReadingKind.blood_pressure, (D(150), D(95)))
    assert (hr.kind, hr.values) == (ReadingKind.heart_rate, (D(72),))
    assert bp.group == hr.group


def test_a_weight_after_bp_numbers_is_not_a_heart_rate():
    bp, wt = parse("bp 150 95 65kg").readings
    assert bp.values == (D(150), D(95))
    assert (wt.kind, wt.unit) == (ReadingKind.weight, Unit.kg)


@pytest.mark.parametrize("body", ["5-1去医院", "2024/5/1", "2024-05-01"])
def test_dates_are_not_blood_pressure(body):
    assert parse(body).readings == ()


@pytest.mark.parametrize(
    ("body", "qualifier"),
    [("空腹血糖6.8", GlucoseQualifier.fasting), ("血糖6.8 空腹", GlucoseQualifier.fasting),
     ("血糖空腹6.8", GlucoseQualifier.fasting), ("sugar 6.8 fasting", GlucoseQualifier.fasting),
     ("fasting sugar 6.8", GlucoseQualifier.fasting), ("fbg 6.8", GlucoseQualifier.fasting),
     ("早餐前血糖6.8", GlucoseQualifier.fasting), ("餐后2小时血糖6.8", GlucoseQualifier.pp2h),
     ("饭后两小时血糖6.8", GlucoseQualifier.pp2h), ("2hpp 6.8", GlucoseQualifier.pp2h),
     ("餐后一小时血糖6.8", GlucoseQualifier.pp1h), ("饭后血糖6.8", GlucoseQualifier.postprandial),
     ("bg 6.8 after meal", GlucoseQualifier.postprandial), ("餐前血糖6.8", GlucoseQualifier.premeal),
     ("睡前血糖6.8", GlucoseQualifier.bedtime), ("随机血糖6.8", GlucoseQualifier.random),
     ("11.2 空腹", GlucoseQualifier.fasting), ("空腹6.8", GlucoseQualifier.fasting)],
)
def test_glucose_timing_words_before_or_after_the_value(body, qualifier):
    (r,) = parse(body).readings
    assert r.qualifier is qualifier
    assert r.values[0] in (D("6.8"), D("11.2"))


def test_glucose_without_timing_word_has_no_qualifier():
    assert parse("血糖7.2").readings[0].qualifier is None


@pytest.mark.parametrize(
    "body", ["血糖7.2", "xt 7.2", "bg 7.2", "bs 7.2", "glu 7.2", "gluc 7.2", "glucose 7.2", "sugar 7.2",
             "Sugar: 7.2", "血糖值是7.2", "sugar is 7.2", "blood sugar 7.2"],
)
def test_glucose_keywords(body):
    (r,) = parse(body).readings
    assert (r.kind, r.values) == (ReadingKind.glucose, (D("7.2"),))


def test_english_keywords_need_a_word_boundary():
    # "xt" inside "next" is not a glucose keyword; the 7 stays a bare number.
    assert parse("next 7").readings[0].kind is None


@pytest.mark.parametrize(
    ("body", "unit"),
    [("血糖7.2mmol/l", Unit.mmol_l), ("血糖 7.2 mmol", Unit.mmol_l), ("血糖7.2毫摩尔", Unit.mmol_l),
     ("bg 130 mg/dl", Unit.mg_dl), ("bg 130mgdl", Unit.mg_dl), ("bg 130 mg", Unit.mg_dl),
     ("7.2 mmol/L", Unit.mmol_l), ("130 mg/dL", Unit.mg_dl)],
)
def test_glucose_units(body, unit):
    (r,) = parse(body).readings
    assert (r.kind, r.unit) == (ReadingKind.glucose, unit)


def test_decimal_comma_is_read_only_after_a_glucose_keyword():
    assert parse("sugar 11,2").readings[0].values == (D("11.2"),)
    assert parse("11,2").readings[0].values == (D(11), D(2))


def test_a_tablet_dose_in_mg_is_not_a_glucose():
    assert parse("吃了二甲双胍500mg").readings == ()


def test_a_number_inside_a_sentence_is_not_a_bare_reading():
    assert parse("我吃了2片药").readings == ()


@pytest.mark.parametrize(
    ("body", "flag"),
    [("血糖 HI", MeterFlag.hi), ("glucose LO", MeterFlag.lo), ("sugar high", MeterFlag.hi),
     ("bg low", MeterFlag.lo), ("血糖hi", MeterFlag.hi)],
)
def test_glucose_meter_flags(body, flag):
    (r,) = parse(body).readings
    assert (r.kind, r.flag, r.values) == (ReadingKind.glucose, flag, ())


def test_low_followed_by_a_number_is_a_value_not_a_flag():
    (r,) = parse("sugar low 3.2").readings
    assert r.flag is None
    assert r.values == (D("3.2"),)


@pytest.mark.parametrize(
    "body", ["心率72", "脉搏72", "心跳72", "hr 72", "pulse 72", "pul 72", "heart rate 72", "心率72次/分",
             "72bpm", "72 次/分钟"],
)
def test_pulse_forms(body):
    (r,) = parse(body).readings
    assert (r.kind, r.values, r.unit) == (ReadingKind.heart_rate, (D(72),), Unit.per_min)


@pytest.mark.parametrize(
    ("body", "unit"),
    [("体重65公斤", Unit.kg), ("体重65kg", Unit.kg), ("weight 65 kg", Unit.kg), ("wt 65千克", Unit.kg),
     ("体重130斤", Unit.jin), ("weight 143 lb", Unit.lb), ("wt 143lbs", Unit.lb), ("体重143磅", Unit.lb),
     ("65kg", Unit.kg), ("体重130", None)],
)
def test_weight_units(body, unit):
    (r,) = parse(body).readings
    assert (r.kind, r.unit) == (ReadingKind.weight, unit)


@pytest.mark.parametrize(
    "body", ["血压150/95、心率72；体重68公斤\n血糖7.2", "血压150/95,心率72,体重68公斤,血糖7.2",
             "血压150/95 心率72 体重68公斤 血糖7.2", "BP 150/95; HR 72; weight 68 kg; sugar 7.2"],
)
def test_several_readings_in_one_message_keep_their_order(body):
    kinds = [r.kind for r in parse(body).readings]
    assert kinds == [ReadingKind.blood_pressure, ReadingKind.heart_rate, ReadingKind.weight, ReadingKind.glucose]
    assert [r.group for r in parse(body).readings] == [0, 1, 2, 3]


def test_a_bare_decimal_and_bare_integers_stay_bare_for_enrolment_to_resolve():
    assert [(r.kind, r.values) for r in parse("150 95 7.2").readings] == [
        (None, (D(150), D(95))),
        (None, (D("7.2"),)),
    ]


@pytest.mark.parametrize(
    ("body", "intent"),
    [("STOP", Intent.opt_out), ("stop", Intent.opt_out), ("StopAll", Intent.opt_out),
     ("unsubscribe", Intent.opt_out), ("cancel", Intent.opt_out), ("end", Intent.opt_out),
     ("quit", Intent.opt_out), ("revoke", Intent.opt_out), ("optout", Intent.opt_out),
     ("退订", Intent.opt_out), ("TD", Intent.opt_out), ("T", Intent.opt_out), ("R", Intent.opt_out),
     ("START", Intent.opt_in), ("yes", Intent.opt_in), ("unstop", Intent.opt_in),
     ("HELP", Intent.help), ("info", Intent.help), ("帮助", Intent.help), ("?", Intent.help),
     ("？", Intent.help), ("OK", Intent.confirm), ("ok.", Intent.confirm), ("Y", Intent.confirm),
     ("确认", Intent.confirm), ("对", Intent.confirm), ("是", Intent.confirm), ("是的", Intent.confirm),
     ("N", Intent.reject), ("no", Intent.reject), ("不对", Intent.reject), ("错了", Intent.reject),
     ("不是", Intent.reject), ("重测", Intent.reject), (" 确认。", Intent.confirm)],
)
def test_control_words_as_the_whole_message(body, intent):
    message = parse(body)
    assert message.intent is intent
    assert message.readings == ()


def test_control_words_inside_a_reading_message_are_not_commands():
    assert parse("ok 150/95").intent is Intent.readings


@pytest.mark.parametrize("body", ["STOP", "yes", "HELP", "info", "Cancel"])
def test_twilio_keywords_are_marked_as_answered_by_the_carrier(body):
    assert parse(body).carrier_keyword


@pytest.mark.parametrize("body", ["退订", "帮助", "TD", "确认", "OK"])
def test_local_keywords_are_not_answered_by_the_carrier(body):
    assert not parse(body).carrier_keyword


@pytest.mark.parametrize(
    "body", ["STOP PLEASE", "stop sending me these", "Please stop", "unsubscribe me", "no more texts",
             "don't text me", "不要再发了", "请不要再发短信", "别发了", "退订谢谢"],
)
def test_a_wish_to_stop_in_several_words_is_opt_out_like_not_an_opt_out(body):
    message = parse(body)
    assert message.intent is Intent.opt_out_like
    assert message.keyword is None
    assert not message.carrier_keyword


def test_stopped_medication_is_not_a_wish_to_stop_texts():
    assert parse("I stopped my pills").intent is Intent.unparsed


def test_a_symptom_outranks_a_wish_to_stop_texts():
    message = parse("stop sending, chest pain")
    assert message.intent is Intent.unparsed
    assert message.symptoms == ("chest pain",)


@pytest.mark.parametrize("term", SYMPTOM_LEXICON)
def test_every_lexicon_term_is_detected_without_readings(term):
    body = f"i have {term} now" if term.isascii() else f"我{term}了"
    assert term in parse(body).symptoms


def test_symptoms_are_detected_next_to_readings():
    message = parse("血压185/100 头痛")
    assert message.intent is Intent.readings
    assert message.symptoms == ("头痛",)


def test_the_longest_symptom_wins():
    assert parse("剧烈头痛").symptoms == ("剧烈头痛",)


def test_symptoms_are_listed_in_message_order_once():
    assert parse("胸口痛 喘不上气 胸口痛").symptoms == ("胸口痛", "喘不上气")


def test_english_symptoms_match_whole_words_only():
    assert parse("fainthearted").symptoms == ()
    assert parse("I feel FAINT").symptoms == ("faint",)


def test_a_negated_symptom_still_counts():
    assert parse("没有胸痛").symptoms == ("胸痛",)


def test_symptom_lexicon_is_a_plain_tuple_of_strings_to_extend():
    assert isinstance(SYMPTOM_LEXICON, tuple)
    assert {"胸痛", "胸口痛", "胸闷", "气短", "喘不上气", "意识不清", "说话不清", "肢体无力", "视力模糊", "剧烈头痛",
            "头痛", "呕吐", "抽搐", "chest pain", "short of breath", "trouble breathing", "confused", "faint",
            "seizure"} <= set(SYMPTOM_LEXICON)


@pytest.mark.parametrize(
    ("body", "hint"), [("血糖7.2", "zh-CN"), ("sugar 7.2", "en"), ("11.2", None), ("血糖 HI", "zh-CN")]
)
def test_language_hint_follows_the_script(body, hint):
    assert parse(body).language_hint == hint


def test_body_is_cut_at_the_sms_maximum():
    message = parse("血糖7.2 " + "x" * 5000 + " 血压150/95")
    assert len(message.normalised) <= MAX_BODY_CHARS
    assert [r.kind for r in message.readings] == [ReadingKind.glucose]


def test_empty_and_non_text_bodies_are_unparsed():
    assert parse("").intent is Intent.unparsed
    assert parse("   ").intent is Intent.unparsed
    assert parse(None).intent is Intent.unparsed  # type: ignore[arg-type]


@settings(max_examples=500)
@given(st.text(max_size=300))
def test_parse_never_raises_on_arbitrary_text(body):
    message = parse(body)
    assert isinstance(message.intent, Intent)
    assert all(isinstance(v, D) for r in message.readings for v in r.values)


_ALPHABET = st.sampled_from(
    list("0123456789./\\|-, :：。、；\n血糖压高低心率体重空腹餐后点十百一二五九斤公kgmolbpxtHILOstopk?")
    + ["over", "血糖", "血压", "mg/dl", "mmol", "胸痛", "早上", "7点", "一百五十", "确认"]
)


@settings(max_examples=500)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_parse_never_raises_on_reading_like_text(body):
    parse(body)
