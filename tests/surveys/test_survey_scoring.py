"""Survey scoring against qi-methods.md §7: top/bottom box, linear 0–100 mean, NPS, composites."""

from __future__ import annotations

from datetime import date

import pytest

from surveys.enums import QuestionType
from surveys.questions import QuestionDef
from surveys.scoring import (
    BoxSummary,
    complaint_words,
    composite,
    nps,
    period_keys,
    response_rate,
    score_answer,
    summarise,
    week_key,
)


def test_nps_of_the_ten_score_vector_is_zero():
    result = nps([10, 9, 8, 7, 6, 0, 10, 3, 9, 5])
    assert (result.promoters, result.detractors, result.passives) == (4, 4, 2)
    assert result.score == 0


def test_nps_of_the_five_score_vector_is_plus_forty():
    assert nps([10, 10, 9, 8, 6]).score == pytest.approx(40)


def test_nps_is_promoter_share_minus_detractor_share():
    # The worked example: 30 % promoters − 20 % detractors = +10.
    result = nps([9, 10, 10, 7, 8, 7, 8, 8, 0, 6])
    assert result.promoter_pct == 30 and result.detractor_pct == 20 and result.score == pytest.approx(10)


def test_nps_of_nothing_is_none_not_zero():
    assert nps([]).score is None and nps([]).standard_error is None


def test_nps_standard_error_is_the_trinomial_formula():
    result = nps([10, 10, 9, 8, 6])
    p, d = 0.6, 0.2
    assert result.standard_error == pytest.approx(((p * (1 - p) + d * (1 - d) + 2 * p * d) / 5) ** 0.5 * 100)


def test_nps_refuses_values_outside_zero_to_ten():
    with pytest.raises(ValueError):
        nps([11])


@pytest.mark.parametrize(("value", "linear"), [(1, 0.0), (2, 100 / 3), (3, 200 / 3), (4, 100.0)])
def test_never_sometimes_usually_always_map_to_0_33_67_100(value, linear):
    assert score_answer(QuestionType.likert, value, points=4).score == pytest.approx(linear)


def test_five_point_scale_maps_linearly_from_0_to_100():
    assert [score_answer(QuestionType.likert, v, points=5).score for v in range(1, 6)] == [0, 25, 50, 75, 100]


def test_yes_is_100_and_no_is_0_unless_no_is_the_favourable_answer():
    assert score_answer(QuestionType.yes_no, 1).score == 100 and score_answer(QuestionType.yes_no, 0).score == 0
    reversed_yes = score_answer(QuestionType.yes_no, 1, favourable_yes=False)
    assert reversed_yes.bottom and reversed_yes.score == 0


def test_a_zero_to_ten_rating_is_times_ten():
    assert score_answer(QuestionType.nps, 7).score == 70


def test_top_box_is_always_and_bottom_box_is_never_or_sometimes():
    boxes = [(score_answer(QuestionType.likert, v, points=4).top, score_answer(QuestionType.likert, v, points=4).bottom)
             for v in (1, 2, 3, 4)]
    assert boxes == [(False, True), (False, True), (False, False), (True, False)]


def test_nps_top_box_is_9_10_and_bottom_box_is_0_to_6():
    assert [score_answer(QuestionType.nps, v).top for v in (8, 9, 10)] == [False, True, True]
    assert [score_answer(QuestionType.nps, v).bottom for v in (6, 7)] == [True, False]


def test_likert_answer_outside_the_scale_is_refused():
    with pytest.raises(ValueError):
        score_answer(QuestionType.likert, 5, points=4)


def test_top_box_percent_counts_only_valid_answers():
    # Always, Always, Usually, Never + one "does not apply" (unscored) → top 2/4, bottom 1/4.
    answers = [score_answer(QuestionType.likert, v, points=4) for v in (4, 4, 3, 1)]
    answers.append(score_answer(QuestionType.likert, None, points=4))
    box = summarise(answers)
    assert (box.n, box.top_pct, box.bottom_pct, box.middle_pct) == (4, 50, 25, 25)
    assert box.mean == pytest.approx((100 + 100 + 200 / 3 + 0) / 4)


def test_an_empty_summary_has_no_percentages():
    box = summarise([])
    assert box.top_pct is None and box.mean is None


def test_a_composite_is_the_mean_of_its_item_percentages():
    items = [BoxSummary(n=10, top=8, bottom=1, score_sum=800.0), BoxSummary(n=2, top=1, bottom=1, score_sum=100.0),
             BoxSummary(n=0, top=0, bottom=0, score_sum=0.0)]
    result = composite(items)
    assert result.items == 2 and result.n == 12
    assert result.top_pct == pytest.approx((80 + 50) / 2) and result.bottom_pct == pytest.approx((10 + 50) / 2)
    assert result.mean == pytest.approx((80 + 50) / 2)


def test_response_rate_is_responses_over_invitations_sent():
    assert response_rate(3, 12) == 25 and response_rate(0, 0) is None


@pytest.mark.parametrize(("text", "found"), [
    ("医生态度差，电话等太久才打来", ["态度差", "等太久"]),
    ("我要投诉", ["投诉"]),
    ("The nurse was RUDE and I waited too long", ["rude", "waited too long"]),
    ("I complained twice", ["complain"]),
    ("没有不满意，谢谢医生", []),
    ("No complaints, very kind", []),
    ("crude oil", []),
    ("非常满意", []),
])
def test_complaint_words_are_found_in_either_language(text, found):
    assert complaint_words(text) == found


def test_week_keys_are_iso_weeks():
    assert week_key(date(2026, 11, 23)) == "2026-W48" and week_key(date(2027, 1, 1)) == "2026-W53"


def test_period_keys_cover_every_month_and_week_in_range():
    assert period_keys(date(2026, 9, 15), date(2026, 11, 2), granularity="month") == ["2026-09", "2026-10", "2026-11"]
    assert period_keys(date(2026, 11, 1), date(2026, 11, 16), granularity="week") == ["2026-W44", "2026-W45",
                                                                                      "2026-W46", "2026-W47"]


def test_a_question_reads_form_values_and_refuses_impossible_ones():
    q = QuestionDef(key="wait", type="likert", scale="frequency4", dimension="waiting", zh="等候？", en="Wait?",
                    allow_na=True)
    assert q.read("4").value == 4 and q.read("na").choice == "na" and q.read("") is None
    assert q.score(q.read("na")).scored is False
    for bad in ("5", "0", "x", "-1", "4.0"):
        with pytest.raises(ValueError):
            q.read(bad)


def test_choices_are_labelled_in_the_patients_language():
    q = QuestionDef(key="x", type="likert", scale="frequency4", dimension="overall", zh="问", en="Q")
    assert [label for _, label in q.choices("zh-CN")] == ["从未", "有时", "经常", "总是"]
    assert [label for _, label in q.choices("en")] == ["Never", "Sometimes", "Usually", "Always"]


def test_a_choice_question_needs_two_distinct_options():
    with pytest.raises(ValueError):
        QuestionDef(key="x", type="choice", dimension="access", zh="问", en="Q",
                    options=[{"value": "a", "zh": "甲", "en": "A"}])
