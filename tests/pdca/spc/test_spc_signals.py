"""Special-cause rules: NHSRplotthedots' unit-test vectors (qi-methods.md §2.2), IHI/Provost rules, classes."""

import dataclasses

import pytest

from pdca.spc import (
    IHI_CONTROL,
    NHS_MDC,
    Bands,
    PointClass,
    Rule,
    Signal,
    control_chart,
    detect_signals,
    point_classes,
    shift_stretches,
    trend_stretches,
    two_of_three,
)


def detect(values: list[float], rules) -> tuple[Signal, ...]:
    """Apply a rule set to values around a centre of 0 with sigma 1."""
    n = len(values)
    bands = Bands(-3.0, 3.0, -2.0, 2.0, -1.0, 1.0)
    return detect_signals(
        values=values, included=[True] * n, phases=[0] * n, centres={0: 0.0}, bands=[bands] * n, runs={}, rules=rules
    )


def flagged(signals: tuple[Signal, ...], rule: Rule) -> list[int]:
    return sorted({i for s in signals if s.rule is rule for i in s.indexes})


def end_markers(stretches, n: int, length: int) -> list[int]:
    """NHSRplotthedots' helper output: ±1 at each point that ends a window of `length` in a stretch."""
    marks = [0] * n
    for s in stretches:
        for k in range(length - 1, len(s.positions)):
            marks[s.positions[k]] = s.direction
    return marks


def test_mdc_seven_points_one_side_of_the_mean():
    sides = [1] * 8 + [-1]
    stretches = shift_stretches(sides=sides, min_length=7, on_centre="break")
    assert end_markers(stretches, 9, 7) == [0, 0, 0, 0, 0, 0, 1, 1, 0]
    assert stretches[0].positions == tuple(range(8))  # all eight are flagged


def test_mdc_six_points_one_side_is_not_a_shift():
    assert shift_stretches(sides=[1] * 6, min_length=7, on_centre="break") == ()


def test_mdc_seven_point_trend_up_and_down():
    assert end_markers(trend_stretches(values=range(1, 8), min_length=7, ties="break"), 7, 7) == [0] * 6 + [1]
    assert end_markers(trend_stretches(values=range(7, 0, -1), min_length=7, ties="break"), 7, 7) == [0] * 6 + [-1]


def test_mdc_a_tie_breaks_the_trend():
    assert trend_stretches(values=[1, 2, 3, 3, 4, 5, 6], min_length=7, ties="break") == ()


def test_mdc_trend_after_a_higher_first_point_ends_at_position_eight():
    stretches = trend_stretches(values=[2, 1, 2, 3, 4, 5, 6, 7, 3], min_length=7, ties="break")
    assert end_markers(stretches, 9, 7) == [0, 0, 0, 0, 0, 0, 0, 1, 0]


def test_mdc_two_in_three_flags_only_the_close_points():
    # The package marks the window 0 0 1 1 1 0 0, then keeps the close points: 2 and 4.
    (stretch,) = two_of_three(beyond=[0, 0, 1, 0, 1, 0, 0], sides=[1] * 7, all_same_side=True)
    assert stretch.positions == (2, 4) and stretch.direction == 1


def test_mdc_two_in_three_needs_all_three_on_one_side():
    assert two_of_three(beyond=[1, 0, 1], sides=[1, -1, 1], all_same_side=True) == ()


def test_mdc_two_in_three_part_of_expansion_keeps_the_close_points():
    (stretch,) = two_of_three(beyond=[1, 0, 0, 1, 1], sides=[1] * 5, all_same_side=True)
    assert end_markers([stretch], 5, 1) == [0, 0, 0, 1, 1]


def test_ihi_two_of_three_lets_the_third_point_sit_anywhere():
    (stretch,) = two_of_three(beyond=[1, 0, 1], sides=[1, -1, 1], all_same_side=False)
    assert stretch.positions == (0, 2)


def test_mdc_standard_chart_with_opposite_close_points_stays_common_cause():
    values = [1.0, -1.0] * 8
    values[14], values[15] = 5.5, -5.5
    chart = control_chart(chart_type="i", values=values, rules=NHS_MDC)
    assert chart.points[14].value > chart.points[14].ucl_2sigma and chart.points[15].value < chart.points[15].lcl_2sigma
    assert chart.signals == ()
    assert set(point_classes(signals=chart.signals, n_points=16, improvement="increase")) == {PointClass.common_cause}


def test_mdc_two_in_three_counts_points_beyond_three_sigma_unless_told_not_to():
    values = [1.5, -1.5] * 5 + [3.5, 2.5, 0.5]
    newer = detect(values, NHS_MDC)
    assert flagged(newer, Rule.two_of_three) == [10, 11] and flagged(newer, Rule.outside_limits) == [10]
    package = detect(values, dataclasses.replace(NHS_MDC, two_of_three_beyond_3sigma=False))
    assert flagged(package, Rule.two_of_three) == []


def test_a_point_on_the_centre_breaks_an_mdc_shift_but_not_an_ihi_one():
    sides = [1, 1, 1, 0, 1, 1, 1, 1]
    assert shift_stretches(sides=sides, min_length=7, on_centre="break") == ()
    (stretch,) = shift_stretches(sides=sides, min_length=7, on_centre="skip")
    assert stretch.positions == (0, 1, 2, 4, 5, 6, 7)


def test_ihi_repeated_values_count_once_in_a_trend_and_do_not_break_it():
    (stretch,) = trend_stretches(values=[1, 2, 2, 3, 4, 5], min_length=5, ties="skip")
    assert stretch.positions == (0, 1, 2, 3, 4, 5) and stretch.direction == 1
    assert trend_stretches(values=[1, 2, 2, 3, 4], min_length=5, ties="skip") == ()


CALM = [1.5, -1.5] * 6  # between 1 and 2 sigma, alternating: no rule fires on its own


def test_calm_series_fires_no_ihi_control_rule():
    assert detect(CALM * 3, IHI_CONTROL) == ()


def test_ihi_control_shift_needs_eight_points():
    after = [-1.5, 1.5] * 6  # starts below, so the block above stands alone
    assert flagged(detect(CALM + [1.5] * 8 + after, IHI_CONTROL), Rule.shift) == list(range(12, 20))
    assert flagged(detect(CALM + [1.5] * 7 + after, IHI_CONTROL), Rule.shift) == []


def test_ihi_control_trend_needs_six_points():
    # CALM ends low and starts high, so neither neighbour extends the falling stretch.
    falling = [1.3, 0.8, 0.3, -0.2, -0.7, -1.2]
    six = detect(CALM + falling + CALM, IHI_CONTROL)
    assert flagged(six, Rule.trend) == list(range(12, 18))
    assert {s.direction for s in six if s.rule is Rule.trend} == {-1}
    assert flagged(detect(CALM + falling[1:] + CALM, IHI_CONTROL), Rule.trend) == []


def test_ihi_fifteen_points_hugging_the_centre_is_a_signal_and_fourteen_is_not():
    quiet = [0.5, -0.5] * 8
    assert flagged(detect(CALM + quiet[:15] + CALM, IHI_CONTROL), Rule.inner_third) == list(range(12, 27))
    assert flagged(detect(CALM + quiet[:14] + CALM, IHI_CONTROL), Rule.inner_third) == []


def test_ihi_control_rules_apply_end_to_end_on_an_i_chart():
    chart = control_chart(chart_type="i", values=CALM + [1.5] * 8, rules="ihi", freeze=12)
    assert chart.rules == IHI_CONTROL
    assert chart.flagged(Rule.shift) == tuple(range(12, 20))


def test_points_exactly_on_a_limit_are_not_outside_it():
    chart = control_chart(chart_type="c", values=[4, 4, 4, 4])
    assert chart.points[0].ucl == 10 and chart.points[0].lcl == 0
    assert control_chart(chart_type="c", values=[4, 4, 4, 4, 10], freeze=4).points[4].signal is False
    assert control_chart(chart_type="c", values=[4, 4, 4, 4, 10.5], freeze=4).points[4].signal is True


def test_point_classes_follow_the_improvement_direction():
    signals = (
        Signal(Rule.outside_limits, 0, (0,), 1),
        Signal(Rule.shift, 0, (1, 2), -1),
        Signal(Rule.inner_third, 0, (3,), 0),
        Signal(Rule.few_crossings, 0, (4,), 0),
    )
    up = point_classes(signals=signals, n_points=5, improvement="increase")
    assert up == (PointClass.improvement, PointClass.concern, PointClass.concern, PointClass.neutral,
                  PointClass.common_cause)  # fmt: skip
    down = point_classes(signals=signals, n_points=5, improvement="decrease")
    assert down[:3] == (PointClass.concern, PointClass.improvement, PointClass.improvement)
    assert point_classes(signals=signals, n_points=5)[:4] == (PointClass.neutral,) * 4


def test_a_point_flagged_both_ways_shows_as_improvement():
    signals = (Signal(Rule.outside_limits, 0, (0,), 1), Signal(Rule.trend, 0, (0,), -1))
    assert point_classes(signals=signals, n_points=1, improvement="decrease") == (PointClass.improvement,)


@pytest.mark.parametrize("rules", ["anhoej", "nhs_mdc", "ihi"])
def test_moving_range_charts_get_only_the_limits_rule(rules):
    chart = control_chart(chart_type="mr", values=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], rules=rules)
    assert {s.rule for s in chart.signals} <= {Rule.outside_limits}
    assert chart.rules.shift_length is None and not chart.rules.anhoej
