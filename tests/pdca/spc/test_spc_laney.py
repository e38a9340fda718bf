"""Laney p′ and u′ charts: p and u limits widened by σ_z, the spread of the points' z-scores (qi-methods.md §1.1)."""

import pytest

from pdca.spc import ProblemCode, Rule, SpcInputError, control_chart
from tests.pdca.spc.test_spc_reference_vectors import close

# p′ worked by hand: p = .10 .10 .15 .15, p̄ = 75/600 = .125, σ_i = √(p̄(1−p̄)/n_i) = .0330719 (n 100) and
# .0233854 (n 200); z = −.755929 −1.069045 .755929 1.069045; moving ranges .313116 1.824974 .313116 (none is
# ≥ 3.267·MR̄, so screening keeps them); σ_z = .817069/1.128 = .724352; limits p̄ ± 3·σ_i·σ_z.
PP_COUNTS, PP_SIZES = [10, 20, 15, 30], [100, 200, 100, 200]
PP_LIMITS = [("0.053133", "0.196867"), ("0.074182", "0.175818")] * 2
# u′ worked by hand: u = 2 3 3 4, ū = 31/10 = 3.1, σ_i = √(ū/n_i) = 1.244990 (n 2) and 1.016530 (n 3);
# z = −.883541 −.098374 −.080322 .885365; MR̄ = (.785167 + .018052 + .965687)/3 = .589636; σ_z = .522726.
UP_COUNTS, UP_SIZES = [4, 9, 6, 12], [2, 3, 2, 3]
UP_LIMITS = [("1.147633", "5.052367"), ("1.505899", "4.694101")] * 2


@pytest.mark.parametrize(("chart_type", "counts", "sizes", "centre", "limits"), [
    ("pp", PP_COUNTS, PP_SIZES, "0.125", PP_LIMITS),
    ("up", UP_COUNTS, UP_SIZES, "3.1", UP_LIMITS),
])
def test_laney_limits_match_the_hand_computed_vector(chart_type, counts, sizes, centre, limits):
    chart = control_chart(chart_type=chart_type, values=counts, denominators=sizes)
    assert not chart.problems
    for point, (lcl, ucl) in zip(chart.points, limits, strict=True):
        assert close(point.centre, centre) and close(point.lcl, lcl) and close(point.ucl, ucl)


def test_laney_p_prime_does_not_flag_ordinary_variation_that_huge_samples_make_a_p_chart_flag():
    # Monthly rates of 9–11 % on 20,000 patients: the p chart's limits are ±0.6 points, so most months
    # "signal"; p′ scales the limits to the month-to-month variation actually seen.
    counts = [2000, 2200, 1900, 2100, 1950, 2150, 2050, 1850, 2250, 2000, 2100, 1900]
    sizes = [20000] * len(counts)
    p = control_chart(chart_type="p", values=counts, denominators=sizes)
    laney = control_chart(chart_type="pp", values=counts, denominators=sizes)
    assert len(p.flagged(Rule.outside_limits)) >= 4
    assert laney.flagged(Rule.outside_limits) == ()
    assert laney.points[0].ucl > p.points[0].ucl and laney.points[0].centre == p.points[0].centre


def test_laney_chart_still_flags_a_real_shift():
    counts = [100, 104, 98, 101, 99, 103, 97, 102, 100, 101, 160]
    chart = control_chart(chart_type="up", values=counts, denominators=[1000] * len(counts), freeze=10)
    assert chart.flagged(Rule.outside_limits) == (10,)


def test_a_spike_in_the_z_scores_is_screened_out_of_sigma_z_unless_screening_is_off():
    counts = [100, 102, 99, 101, 100, 180, 101, 99, 100, 102]
    sizes = [1000] * len(counts)
    screened = control_chart(chart_type="pp", values=counts, denominators=sizes)
    raw = control_chart(chart_type="pp", values=counts, denominators=sizes, screen_mr=False)
    assert screened.points[0].ucl < raw.points[0].ucl
    assert 5 in screened.flagged(Rule.outside_limits)


def test_a_centre_of_zero_puts_the_limits_on_the_centre_as_on_a_p_chart():
    chart = control_chart(chart_type="pp", values=[0, 0, 0, 0], denominators=[50, 60, 50, 40])
    assert all(p.centre == p.lcl == p.ucl == 0 for p in chart.points)


def test_laney_limits_of_a_proportion_stay_within_zero_and_one():
    chart = control_chart(chart_type="pp", values=[1, 9, 0, 10, 2, 8], denominators=[10] * 6)
    assert all(0 <= p.lcl <= p.centre <= p.ucl <= 1 for p in chart.points)


def test_laney_charts_need_denominators_and_counts_within_them():
    with pytest.raises(SpcInputError) as error:
        control_chart(chart_type="up", values=[1, 2, 3])
    assert error.value.field == "denominators"
    chart = control_chart(chart_type="pp", values=[5, 12, 4, 6], denominators=[10, 10, 10, 10])
    assert [(p.code, p.index) for p in chart.problems] == [(ProblemCode.count_above_denominator, 1)]


def test_multiply_scales_laney_limits_like_p_limits():
    chart = control_chart(chart_type="pp", values=PP_COUNTS, denominators=PP_SIZES, multiply=100)
    assert close(chart.points[0].centre, "12.5") and close(chart.points[0].ucl, "19.6867")
