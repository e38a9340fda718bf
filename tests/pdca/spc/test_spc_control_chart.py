"""Control charts: phases, freeze, exclusions, varying denominators and degenerate input."""

import math

import pytest

from pdca.spc import ChartType, ProblemCode, Rule, SpcInputError, control_chart, run_chart

STEADY = [10.0, 12.0, 9.0, 11.0, 10.0, 13.0, 9.0, 10.0, 11.0, 10.0]


def problems(chart) -> list[tuple[str, str, int | None]]:
    return [(p.code.value, p.field, p.index) for p in chart.problems]


def test_each_phase_gets_its_own_centre_and_limits():
    chart = control_chart(chart_type="i", values=STEADY + [v + 20 for v in STEADY], phases=[10])
    one, two = chart.phases
    assert one.centre == pytest.approx(10.5) and two.centre == pytest.approx(30.5)
    assert chart.points[0].ucl == pytest.approx(chart.points[10].ucl - 20)
    assert chart.points[10].lcl > chart.points[9].ucl  # stepped limits, not one band
    assert not chart.has_signal


def test_phase_labels_follow_the_declared_phases():
    chart = control_chart(chart_type="c", values=[3, 4, 5, 6], phases=[2], phase_labels=["基线", "PDSA 1"])
    assert [p.label for p in chart.phases] == ["基线", "PDSA 1"]


def test_freeze_extends_the_baseline_limits_to_later_points():
    chart = control_chart(chart_type="i", values=STEADY + [30.0, 31.0], freeze=10)
    assert chart.points[11].centre == chart.points[0].centre == pytest.approx(10.5)
    assert chart.points[11].ucl == chart.points[0].ucl
    assert [p.baseline for p in chart.points] == [True] * 10 + [False] * 2
    assert chart.flagged(Rule.outside_limits) == (10, 11)


def test_freeze_cuts_only_its_own_phase_and_later_phases_recompute():
    values = STEADY[:6] + [50.0] * 4 + [v + 100 for v in STEADY]
    chart = control_chart(chart_type="i", values=values, freeze=6, phases=[10])
    one, two = chart.phases
    assert (one.n_base, two.n_base) == (6, 10)
    assert one.centre == pytest.approx(sum(STEADY[:6]) / 6) and two.centre == pytest.approx(110.5)


def test_excluded_points_are_drawn_but_left_out_of_the_limits_and_runs():
    with_spike = STEADY[:5] + [100.0] + STEADY[5:]
    chart = control_chart(chart_type="i", values=with_spike, excluded={5})
    plain = control_chart(chart_type="i", values=STEADY)
    assert chart.points[0].centre == pytest.approx(plain.points[0].centre)
    assert chart.points[0].ucl == pytest.approx(plain.points[0].ucl)
    assert chart.phases[0].runs.n_obs == 10 and chart.phases[0].n_base == 10
    assert chart.points[5].excluded and chart.points[5].value == 100 and chart.points[5].signal


def test_moving_ranges_join_across_an_excluded_point():
    # 10, [excluded], 14: the one moving range is 4, so sigma is 4 / 1.128.
    chart = control_chart(chart_type="i", values=[10.0, 99.0, 14.0], excluded={1}, screen_mr=False)
    assert chart.points[0].ucl - chart.points[0].centre == pytest.approx(3 * 4 / 1.128)


def test_a_missing_value_breaks_the_moving_ranges_beside_it():
    # 10, gap, 14, 12: only |12 - 14| is a moving range.
    chart = control_chart(chart_type="i", values=[10.0, None, 14.0, 12.0], screen_mr=False)
    assert chart.points[0].ucl - chart.points[0].centre == pytest.approx(3 * 2 / 1.128)


def test_screening_drops_a_huge_moving_range_before_estimating_sigma():
    values = [10.0, 11.0] * 10 + [40.0]
    screened = control_chart(chart_type="i", values=values, freeze=20)
    unscreened = control_chart(chart_type="i", values=values + [10.0], screen_mr=False)
    assert screened.points[0].ucl - screened.points[0].centre == pytest.approx(3 / 1.128)
    assert unscreened.points[0].ucl > screened.points[0].ucl


def test_p_chart_limits_widen_for_small_samples_and_narrow_for_large():
    chart = control_chart(chart_type="p", values=[10, 10, 100], denominators=[50, 50, 500])
    small, large = chart.points[0], chart.points[2]
    assert small.centre == large.centre == pytest.approx(120 / 600)
    assert small.ucl - small.centre == pytest.approx(3 * math.sqrt(0.2 * 0.8 / 50))
    assert large.ucl - large.centre == pytest.approx(3 * math.sqrt(0.2 * 0.8 / 500))


def test_u_chart_limits_vary_with_exposure_and_stay_non_negative():
    chart = control_chart(chart_type="u", values=[1, 2, 30], denominators=[1, 2, 30])
    assert chart.points[0].lcl == 0 and chart.points[2].lcl == pytest.approx(1 - 3 * math.sqrt(1 / 30))
    assert chart.points[0].ucl == pytest.approx(4)


def test_p_chart_limits_are_clipped_to_zero_and_one():
    chart = control_chart(chart_type="p", values=[9, 10, 9], denominators=[10, 10, 10])
    assert all(p.ucl == 1 for p in chart.points)


def test_multiply_scales_values_centre_and_limits():
    plain = control_chart(chart_type="p", values=[5, 10], denominators=[100, 100])
    percent = control_chart(chart_type="p", values=[5, 10], denominators=[100, 100], multiply=100)
    assert percent.points[1].value == pytest.approx(10)
    assert percent.points[0].ucl == pytest.approx(100 * plain.points[0].ucl)


def test_mr_chart_starts_each_phase_without_a_moving_range():
    chart = control_chart(chart_type="mr", values=[1, 3, 6, 50, 52, 51], phases=[3])
    assert [p.value for p in chart.points] == [None, 2, 3, None, 2, 1]
    assert chart.phases[1].centre == pytest.approx(1.5)


def test_empty_series_returns_a_chart_that_says_so():
    chart = control_chart(chart_type="i", values=[])
    assert chart.points == () and chart.phases == () and not chart.has_signal
    assert problems(chart) == [("no_data", "values", None)]


@pytest.mark.parametrize("chart_type", ["run", "i", "t", "c"])
def test_a_single_point_gets_a_centre_line(chart_type):
    chart = control_chart(chart_type=chart_type, values=[7])
    assert chart.points[0].centre == pytest.approx(7)
    assert chart.phases[0].runs.n_useful == 0 and not chart.has_signal


def test_a_single_individual_has_too_few_points_for_limits():
    chart = control_chart(chart_type="i", values=[7])
    assert chart.points[0].ucl is None
    assert [(p.code, p.phase) for p in chart.problems] == [(ProblemCode.too_few_points, 0)]


@pytest.mark.parametrize("rules", ["anhoej", "nhs_mdc", "ihi"])
@pytest.mark.parametrize("chart_type", ["run", "i", "c", "t"])
def test_all_equal_values_sit_on_the_centre_line_without_runs_signals(chart_type, rules):
    chart = control_chart(chart_type=chart_type, values=[0.1] * 30, rules=rules)
    assert all(p.value == p.centre for p in chart.points)
    assert chart.phases[0].runs.n_useful == 0
    assert {s.rule for s in chart.signals} <= {Rule.inner_third}


def test_counts_that_never_vary_hug_the_centre_of_a_c_chart():
    # Poisson counts always at 0.1 are suspicious: IHI's fifteen-in-the-inner-third rule says so.
    chart = control_chart(chart_type="c", values=[0.1] * 30, rules="ihi")
    assert chart.flagged(Rule.inner_third) == tuple(range(30))


def test_individuals_that_never_vary_have_zero_spread_and_no_inner_third_signal():
    chart = control_chart(chart_type="i", values=[4.0] * 30, rules="ihi")
    assert chart.points[0].ucl == chart.points[0].lcl == 4.0 and chart.signals == ()


def test_zero_denominators_become_gaps_and_are_reported():
    chart = control_chart(chart_type="p", values=[1, 2, 0, 3], denominators=[10, 20, 0, 30])
    assert chart.points[2].value is None and chart.points[2].ucl is None
    assert problems(chart) == [("zero_denominator", "denominators", 2)]
    assert chart.phases[0].centre == pytest.approx(6 / 60)


def test_all_zero_denominators_leave_no_centre_line():
    chart = control_chart(chart_type="u", values=[1, 2], denominators=[0, 0])
    assert all(p.centre is None for p in chart.points)
    assert ("too_few_points", "values", None) in problems(chart)


@pytest.mark.parametrize(
    ("chart_type", "values", "denominators", "expected"),
    [
        ("p", [11], [10], ("count_above_denominator", "values", 0)),
        ("c", [-1], None, ("negative_value", "values", 0)),
        ("t", [0], None, ("non_positive_value", "values", 0)),
        ("i", [math.nan], None, ("non_finite_value", "values", 0)),
        ("s", [0.2], [1], ("subgroup_too_small", "denominators", 0)),
    ],
)
def test_unusable_points_are_reported_with_their_field(chart_type, values, denominators, expected):
    chart = control_chart(chart_type=chart_type, values=values, denominators=denominators)
    assert expected in problems(chart) and chart.points[0].value is None


def test_missing_values_are_gaps_that_runs_skip():
    chart = control_chart(chart_type="i", values=[10.0, None, 12.0, 11.0])
    assert chart.points[1].value is None and chart.phases[0].n_obs == 3
    assert chart.problems == ()


def test_xbar_chart_needs_the_subgroup_sds():
    with pytest.raises(SpcInputError) as caught:
        control_chart(chart_type="xbar", values=[1.0, 2.0], denominators=[5, 5])
    assert caught.value.field == "sds"


def test_xbar_reports_a_negative_sd():
    chart = control_chart(chart_type="xbar", values=[1.0, 2.0], sds=[0.1, -1.0], denominators=[5, 5])
    assert ("negative_value", "sds", 1) in problems(chart)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"chart_type": "ip", "values": [1]}, "chart_type"),  # qicharts2 has ip; it is left out here
        ({"chart_type": "p", "values": [1]}, "denominators"),
        ({"chart_type": "u", "values": [1, 2], "denominators": [1]}, "denominators"),
        ({"chart_type": "i", "values": [1], "multiply": 0}, "multiply"),
        ({"chart_type": "c", "values": [1], "denominators": [10]}, "denominators"),
    ],
)
def test_malformed_calls_raise_with_the_field(kwargs, field):
    with pytest.raises(SpcInputError) as caught:
        control_chart(**kwargs)
    assert caught.value.field == field


def test_chart_type_accepts_names_in_any_case():
    assert control_chart(chart_type=" XBAR ", values=[1.0], sds=[0.1], denominators=[4]).chart_type is ChartType.xbar


def test_run_chart_is_a_chart_without_limits():
    chart = run_chart(values=STEADY)
    assert chart.chart_type is ChartType.run and chart.phases[0].centre == 10
    assert all(p.ucl is None for p in chart.points) and chart.problems == ()
