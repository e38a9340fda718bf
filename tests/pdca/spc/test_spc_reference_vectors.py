"""The test vectors of qi-methods.md §1.4 (qicharts2 on Montgomery's data) and §2.1 (NHS MDC).

Expected numbers are written as the reference prints them; `close` allows half a unit in the last
printed decimal, which is exactly what "to 6 decimals" means.  qicharts2 counts from 1, the engine
from 0: `exclude = c(6, 20)` is `excluded={5, 19}`, "sigma signal at point 39" is index 38.
"""

import statistics

import pytest

from pdca.spc import ChartType, Rule, control_chart, run_chart


def close(actual: float | None, expected: str) -> bool:
    decimals = len(expected.split(".")[1]) if "." in expected else 0
    return actual is not None and abs(actual - float(expected)) <= 0.5 * 10**-decimals * (1 + 1e-9)


def sigma_signals(chart) -> list[int]:
    return [p.index + 1 for p in chart.points if p.signal]


# Montgomery Table 6.7 (weekly cost), as qicharts2's tbl_06.07.
COST = [310, 288, 297, 298, 307, 303, 294, 297, 308, 306, 294, 299, 297, 299, 314, 295, 293, 306, 301, 304,
        305, 282, 305, 296, 314, 295, 287, 301, 298, 311, 310, 292, 305, 299, 304, 310, 304, 305, 333, 328]  # fmt: skip

# Montgomery Table 7.8 (circuit-board nonconformities), 46 samples.
CIRCUIT = [21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16, 19, 10, 17, 13, 22, 18, 39, 30, 24, 16, 19,
           17, 15, 16, 18, 12, 15, 24, 21, 28, 20, 25, 19, 18, 21, 16, 22, 19, 12, 14, 9, 16, 21]  # fmt: skip

# Montgomery Examples 7.1 (Tables 7.1–7.3): orange-juice cans, 94 samples of 50 (qcc orangejuice/2).
ORANGE_JUICE = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11, 20, 18, 24, 15, 9,
                12, 7, 13, 9, 6, 9, 6, 12, 5, 6, 4, 6, 3, 7, 6, 2, 4, 3, 6, 5, 4, 8, 5, 6, 7, 5, 6, 3, 5,
                8, 7, 5, 6, 4, 5, 2, 3, 4, 7, 6, 5, 5, 3, 7, 9, 6, 10, 4, 3, 5, 8, 11, 9, 7, 3, 5, 2, 1, 4,
                5, 3, 7, 6, 4, 4, 6, 8, 5, 6]  # fmt: skip

# Montgomery Table 6.3: piston-ring inside diameters, 25 samples of 5 (sample 21 as printed in the
# 7th/8th editions, which qicharts2 uses: it gives s̄ = 0.009399).
PISTON_RINGS = [
    (74.030, 74.002, 74.019, 73.992, 74.008), (73.995, 73.992, 74.001, 74.011, 74.004),
    (73.988, 74.024, 74.021, 74.005, 74.002), (74.002, 73.996, 73.993, 74.015, 74.009),
    (73.992, 74.007, 74.015, 73.989, 74.014), (74.009, 73.994, 73.997, 73.985, 73.993),
    (73.995, 74.006, 73.994, 74.000, 74.005), (73.985, 74.003, 73.993, 74.015, 73.988),
    (74.008, 73.995, 74.009, 74.005, 74.004), (73.998, 74.000, 73.990, 74.007, 73.995),
    (73.994, 73.998, 73.994, 73.995, 73.990), (74.004, 74.000, 74.007, 74.000, 73.996),
    (73.983, 74.002, 73.998, 73.997, 74.012), (74.006, 73.967, 73.994, 74.000, 73.984),
    (74.012, 74.014, 73.998, 73.999, 74.007), (74.000, 73.984, 74.005, 73.998, 73.996),
    (73.994, 74.012, 73.986, 74.005, 74.007), (74.006, 74.010, 74.018, 74.003, 74.000),
    (73.984, 74.002, 74.003, 74.005, 73.997), (74.000, 74.010, 74.013, 74.020, 74.003),
    (73.982, 74.001, 74.015, 74.005, 73.996), (74.004, 73.999, 73.990, 74.006, 74.009),
    (74.010, 73.989, 73.990, 74.009, 74.014), (74.015, 74.008, 73.993, 74.000, 74.010),
    (73.982, 73.984, 73.995, 74.017, 74.013),
]  # fmt: skip
# Table 6.4 is Table 6.3 with the last observations of some samples missing (1-based sample: kept).
TABLE_6_4_KEPT = {2: 3, 6: 4, 7: 4, 9: 4, 13: 3, 15: 3, 17: 4, 20: 3}


def subgroups(table_6_4: bool) -> tuple[list[float], list[float], list[int]]:
    groups = [g[: TABLE_6_4_KEPT.get(k, 5)] if table_6_4 else g for k, g in enumerate(PISTON_RINGS, start=1)]
    return [statistics.mean(g) for g in groups], [statistics.stdev(g) for g in groups], [len(g) for g in groups]


def test_ex_6_5_3_i_chart_with_freeze_20():
    chart = control_chart(chart_type="i", values=COST, freeze=20)
    first, last = chart.points[0], chart.points[-1]
    assert close(first.centre, "300.5") and close(last.centre, "300.5")
    assert close(first.lcl, "279.783315") and close(first.ucl, "321.216685")
    assert (last.lcl, last.ucl) == (first.lcl, first.ucl)  # frozen limits extend to every point
    runs = chart.phases[0].runs
    assert (runs.n_useful, runs.longest_run, runs.longest_run_max) == (40, 6, 8)
    assert (runs.n_crossings, runs.n_crossings_min, runs.signal) == (20, 14, False)
    assert sigma_signals(chart) == [39, 40]


def test_ex_6_5_4_mr_chart_with_freeze_20():
    chart = control_chart(chart_type="mr", values=COST, freeze=20)
    point = chart.points[1]
    assert close(point.centre, "7.789474") and close(point.ucl, "25.448211") and point.lcl == 0
    assert sigma_signals(chart) == [39]
    assert chart.phases[0].runs is None and not chart.phases[0].runs_signal


def test_ex_7_3_3_c_chart_with_exclusions_and_freeze_26():
    chart = control_chart(chart_type="c", values=CIRCUIT, excluded={5, 19}, freeze=26)
    point = chart.points[0]
    assert close(point.centre, "19.666667") and close(point.lcl, "6.362532") and close(point.ucl, "32.970801")
    runs = chart.phases[0].runs
    assert (runs.n_useful, runs.longest_run, runs.longest_run_max) == (44, 8, 8)
    assert (runs.n_crossings, runs.n_crossings_min, runs.signal) == (14, 16, True)
    assert sigma_signals(chart) == [6, 20]
    assert chart.points[5].excluded and chart.points[19].excluded


def test_tbl_7_4_1_p_chart_limits_vary_with_each_sample_size():
    counts = [12, 8, 6, 9, 10, 12, 11, 16, 10, 6, 20, 15, 9, 8, 6, 8, 10, 7, 5, 8, 5, 8, 10, 6, 9]
    sizes = [100, 80, 80, 100, 110, 110, 100, 100, 90, 90, 110, 120, 120, 120, 110, 80, 80, 80, 90, 100, 100,
             100, 100, 90, 90]  # fmt: skip
    chart = control_chart(chart_type="p", values=counts, denominators=sizes)
    assert close(chart.phases[0].centre, "0.095510")
    for row, lcl, ucl in ((1, "0.007335", "0.183686"), (2, "0", "0.194093"), (5, "0.011438", "0.179582"),
                          (12, "0.015017", "0.176003")):  # fmt: skip
        assert close(chart.points[row - 1].lcl, lcl) and close(chart.points[row - 1].ucl, ucl)
    assert sigma_signals(chart) == [11]


def test_ex_7_1_5_p_chart_with_exclusions_and_a_second_phase():
    chart = control_chart(chart_type="p", values=ORANGE_JUICE, denominators=[50] * 94, excluded={14, 22}, phases=[30])
    one, two = chart.phases
    assert (one.start, one.stop, two.start, two.stop) == (0, 30, 30, 94)
    assert close(one.centre, "0.215") and close(chart.points[0].lcl, "0.040703")
    assert close(chart.points[0].ucl, "0.389297") and one.runs.n_useful == 28
    assert [i for i in sigma_signals(chart) if i <= 30] == [15, 21, 23]
    assert close(two.centre, "0.109687") and chart.points[30].lcl == 0 and close(chart.points[30].ucl, "0.242270")
    assert (two.runs.n_useful, two.runs.longest_run, two.runs.longest_run_max) == (64, 7, 9)
    assert (two.runs.n_crossings, two.runs.n_crossings_min) == (30, 25)


def test_ex_7_4_1_u_chart():
    counts = [2, 3, 8, 1, 1, 4, 1, 4, 5, 1, 8, 2, 4, 3, 4, 1, 8, 3, 7, 4]
    chart = control_chart(chart_type="u", values=counts, denominators=[50] * 20)
    point = chart.points[0]
    assert close(point.centre, "0.074") and point.lcl == 0 and close(point.ucl, "0.189412")
    assert (chart.phases[0].runs.n_crossings, chart.phases[0].runs.n_crossings_min) == (15, 6)


def test_ex_7_5_1_u_chart_multiplied_by_50():
    counts = [14, 12, 20, 11, 7, 10, 21, 16, 19, 23]
    meters = [500, 400, 650, 500, 475, 500, 600, 525, 600, 625]
    chart = control_chart(chart_type="u", values=counts, denominators=meters, multiply=50)
    assert close(chart.phases[0].centre, "1.423256")
    for row, lcl, ucl in ((1, "0.291474", "2.555038"), (2, "0.157885", "2.688626"), (3, "0.430617", "2.415894")):
        assert close(chart.points[row - 1].lcl, lcl) and close(chart.points[row - 1].ucl, ucl)


def test_ex_7_6_1_t_chart():
    hours = [286, 948, 536, 124, 816, 729, 4, 143, 431, 8, 2837, 596, 81, 227, 603, 492, 1199, 1214, 2831, 96]
    point = control_chart(chart_type="t", values=hours).points[0]
    assert close(point.centre, "430.040952") and point.lcl == 0 and close(point.ucl, "6937.933488")


def test_ex_6_3_xbar_and_s_charts_with_equal_subgroups():
    means, sds, sizes = subgroups(table_6_4=False)
    xbar = control_chart(chart_type="xbar", values=means, sds=sds, denominators=sizes).points[0]
    assert close(xbar.centre, "74.001176") and close(xbar.lcl, "73.98776") and close(xbar.ucl, "74.014592")
    s = control_chart(chart_type=ChartType.s, values=sds, denominators=sizes).points[0]
    assert close(s.centre, "0.009399") and s.lcl == 0 and close(s.ucl, "0.019636")


def test_ex_6_4_xbar_and_s_charts_with_variable_subgroups_pool_the_sd():
    means, sds, sizes = subgroups(table_6_4=True)
    assert sizes == [5, 3, 5, 5, 5, 4, 4, 5, 4, 5, 5, 5, 3, 5, 3, 5, 4, 5, 5, 3, 5, 5, 5, 5, 5]
    xbar = control_chart(chart_type="xbar", values=means, sds=sds, denominators=sizes)
    n5, n3 = xbar.points[0], xbar.points[1]
    assert close(n5.centre, "74.000752")
    assert close(n5.lcl, "73.986064") and close(n5.ucl, "74.015441")
    assert close(n3.lcl, "73.980639") and close(n3.ucl, "74.020865")
    s = control_chart(chart_type="s", values=sds, denominators=sizes)
    assert close(s.phases[0].centre, "0.010291")
    assert close(s.points[0].ucl, "0.021498") and close(s.points[1].ucl, "0.026429")


CDI = [17, 12, 27, 20, 20, 18, 22, 19, 19, 24, 17, 16, 24, 19, 19, 22, 25, 19, 17, 6, 25, 17, 11, 14,
       9, 11, 7, 13, 5, 5, 3, 5, 9, 4, 5, 9]  # fmt: skip


def test_cdi_run_chart_frozen_at_24_finds_the_long_run_below_the_median():
    chart = run_chart(values=CDI, freeze=24)
    runs = chart.phases[0].runs
    assert chart.phases[0].centre == 19
    assert (runs.n_useful, runs.longest_run, runs.longest_run_max) == (31, 15, 8)
    assert (runs.n_crossings, runs.n_crossings_min, runs.signal) == (8, 11, True)
    (long_run,) = [s for s in chart.signals if s.rule is Rule.long_run]
    assert len(long_run.indexes) == 15 and long_run.direction == -1


def test_cdi_c_chart_with_a_phase_at_24_drops_from_19_to_7():
    chart = control_chart(chart_type="c", values=CDI, phases=[24])
    one, two = chart.phases
    assert close(one.centre, "18.708") and close(chart.points[0].ucl, "31.684")
    assert close(chart.points[0].lcl, "5.732")
    assert close(two.centre, "7.083") and close(chart.points[24].ucl, "15.068") and chart.points[24].lcl == 0


MDC_DEVIATIONS = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]


def test_mdc_deviations_vignette_screened_moving_ranges():
    point = control_chart(chart_type="i", values=MDC_DEVIATIONS, rules="nhs_mdc").points[0]
    assert close(point.centre, "1.94") and close(point.ucl, "4.60") and close(point.lcl, "-0.72")


def test_mdc_deviations_vignette_unscreened_like_the_excel_tool():
    point = control_chart(chart_type="i", values=MDC_DEVIATIONS, rules="nhs_mdc", screen_mr=False).points[0]
    assert close(point.ucl, "6.95") and close(point.lcl, "-3.06")


@pytest.mark.parametrize("chart_type", ["p", "u"])
def test_proportion_charts_use_the_pooled_ratio_not_the_mean_of_ratios(chart_type):
    chart = control_chart(chart_type=chart_type, values=[1, 30], denominators=[10, 100])
    assert chart.phases[0].centre == pytest.approx(31 / 110)
