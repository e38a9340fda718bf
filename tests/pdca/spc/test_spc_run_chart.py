"""Run charts: the median, Anhøj runs analysis and its critical values, and the IHI runs-count range."""

from datetime import date, timedelta

import pytest

from pdca.spc import (
    Rule,
    SpcInputError,
    crossings_min,
    longest_run_max,
    median,
    run_chart,
    runs_analysis,
    runs_count_limits,
)

# qi-methods.md §1.2, "n: longest_run_max / n_crossings_min" for n = 10..100.
ANHOEJ_TABLE = """
10:6/2 11:6/2 12:7/3 13:7/3 14:7/4 15:7/4 16:7/4 17:7/5 18:7/5 19:7/6
20:7/6 21:7/6 22:7/7 23:8/7 24:8/8 25:8/8 26:8/8 27:8/9 28:8/9 29:8/10
30:8/10 31:8/11 32:8/11 33:8/11 34:8/12 35:8/12 36:8/13 37:8/13 38:8/14 39:8/14
40:8/14 41:8/15 42:8/15 43:8/16 44:8/16 45:8/17 46:9/17 47:9/17 48:9/18 49:9/18
50:9/19 51:9/19 52:9/20 53:9/20 54:9/21 55:9/21 56:9/21 57:9/22 58:9/22 59:9/23
60:9/23 61:9/24 62:9/24 63:9/25 64:9/25 65:9/25 66:9/26 67:9/26 68:9/27 69:9/27
70:9/28 71:9/28 72:9/29 73:9/29 74:9/29 75:9/30 76:9/30 77:9/31 78:9/31 79:9/32
80:9/32 81:9/33 82:9/33 83:9/34 84:9/34 85:9/34 86:9/35 87:9/35 88:9/36 89:9/36
90:9/37 91:10/37 92:10/38 93:10/38 94:10/39 95:10/39 96:10/39 97:10/40 98:10/40 99:10/41 100:10/41
"""


def anhoej_rows() -> list[tuple[int, int, int]]:
    rows = []
    for cell in ANHOEJ_TABLE.split():
        n, limits = cell.split(":")
        longest, crossings = limits.split("/")
        rows.append((int(n), int(longest), int(crossings)))
    return rows


@pytest.mark.parametrize(("n", "longest", "crossings"), anhoej_rows())
def test_anhoej_critical_values_match_the_reference_table(n, longest, crossings):
    assert longest_run_max(n) == longest
    assert crossings_min(n) == crossings


def test_critical_values_are_none_without_useful_points():
    assert longest_run_max(0) is None and crossings_min(0) is None


def test_crossings_limit_stays_exact_for_long_series():
    # Normal approximation: (n - 1)/2 - 1.645·√(n - 1)/2 ≈ 4917.7 for n = 10,000.
    assert crossings_min(10_000) in (4917, 4918)


def test_median_of_even_and_odd_counts_and_of_nothing():
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5
    assert median([]) is None


def test_points_on_the_centre_neither_count_nor_break_a_run():
    analysis = runs_analysis(values=[1, 1, 0, 0, 0, 1, -1], centre=0)
    assert analysis.n_obs == 7 and analysis.n_useful == 4
    assert analysis.longest_run == 3 and analysis.n_crossings == 1


def test_no_useful_points_means_no_runs_signal():
    analysis = runs_analysis(values=[5, 5, 5], centre=5)
    assert analysis.n_useful == 0 and analysis.longest_run is None and not analysis.signal


def alternating_with_run(n: int, run: int) -> list[float]:
    """n points alternating around 0, except a run of `run` points above it at the start."""
    values = [1.0] * run
    while len(values) < n:
        values.append(-1.0 if values[-1] > 0 else 1.0)
    return values


def test_a_run_of_exactly_the_limit_is_not_a_signal():
    # n = 24: longest run limit 8; a run of 8 plus alternation keeps crossings at 16 ≥ 8.
    analysis = runs_analysis(values=alternating_with_run(24, 8), centre=0)
    assert analysis.longest_run == 8 and analysis.longest_run_max == 8
    assert not analysis.long_run and not analysis.signal


def test_a_run_one_longer_than_the_limit_is_a_signal():
    analysis = runs_analysis(values=alternating_with_run(24, 9), centre=0)
    assert analysis.longest_run == 9 and analysis.long_run and analysis.signal


def blocks(sizes: list[int]) -> list[float]:
    """Runs of the given lengths on alternating sides of 0."""
    out: list[float] = []
    for k, size in enumerate(sizes):
        out += [1.0 if k % 2 == 0 else -1.0] * size
    return out


def test_crossings_exactly_at_the_minimum_are_not_a_signal():
    # n = 24 needs at least 8 crossings: 9 runs of lengths ≤ 8.
    analysis = runs_analysis(values=blocks([3, 3, 3, 3, 3, 3, 2, 2, 2]), centre=0)
    assert analysis.n_useful == 24 and analysis.n_crossings == 8 == analysis.n_crossings_min
    assert not analysis.signal


def test_one_crossing_fewer_than_the_minimum_is_a_signal():
    analysis = runs_analysis(values=blocks([3, 3, 3, 3, 3, 3, 3, 3]), centre=0)
    assert analysis.n_crossings == 7 and analysis.few_crossings and analysis.signal


@pytest.mark.parametrize(("n", "low", "high"), [(10, 3, 9), (15, 5, 12), (20, 7, 15), (24, 8, 18), (30, 11, 21)])
def test_ihi_runs_count_range_reproduces_the_reference(n, low, high):
    assert runs_count_limits(n) == (low, high)


def test_run_chart_flags_the_long_run_and_marks_its_points():
    values = [6, 4, 6, 4, 6, 4, 6, 4, 6, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 6]
    chart = run_chart(values=values)
    # The median is 4; the 4s sit on it and are skipped, leaving 15 useful points (limit 7).
    assert chart.phases[0].centre == 4 and chart.phases[0].runs.longest_run_max == 7
    assert chart.flagged(Rule.long_run) == tuple(range(10, 19))
    assert all(p.ucl is None and p.lcl is None for p in chart.points)


def test_run_chart_with_ihi_rules_finds_a_six_point_shift_not_a_five_point_one():
    values = [5, 6, 4, 6, 4, 8, 8, 8, 8, 8, 8, 4, 6, 4, 2, 2, 2, 2, 6, 4]
    chart = run_chart(values=values, rules="ihi")
    assert chart.rules.name == "ihi" and chart.rules.runs_count
    assert chart.phases[0].centre == 5.5
    # Six above (indexes 5–10) is a shift; the five below (13–17) is not.
    assert chart.flagged(Rule.shift) == tuple(range(5, 11))
    assert chart.flagged() == tuple(range(5, 11))


def test_run_chart_of_ratios_divides_by_the_denominators():
    chart = run_chart(values=[1, 2, 3], denominators=[10, 10, 10])
    assert [p.value for p in chart.points] == [0.1, 0.2, 0.3]


def test_freeze_by_date_takes_points_on_or_before_it():
    days = [date(2024, 1, 1) + timedelta(weeks=k) for k in range(6)]
    chart = run_chart(values=[1, 2, 3, 10, 20, 30], dates=days, freeze=days[2])
    assert chart.phases[0].centre == 2 and chart.phases[0].n_base == 3
    assert [p.baseline for p in chart.points] == [True] * 3 + [False] * 3


def test_phase_by_date_starts_at_the_first_point_on_or_after_it():
    days = [date(2024, 1, 1) + timedelta(weeks=k) for k in range(6)]
    chart = run_chart(values=[1, 2, 3, 10, 20, 30], dates=days, phases=[date(2024, 1, 16)], phase_labels=["a", "b"])
    assert [(p.start, p.stop, p.label) for p in chart.phases] == [(0, 3, "a"), (3, 6, "b")]
    assert [p.centre for p in chart.phases] == [2, 20]


def test_a_change_date_after_the_last_point_adds_no_phase():
    days = [date(2024, 1, 1) + timedelta(days=k) for k in range(3)]
    chart = run_chart(values=[1, 2, 3], dates=days, phases=[date(2025, 1, 1)])
    assert len(chart.phases) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"values": [1, 2], "dates": [date(2024, 1, 1)]}, "dates"),
        ({"values": [1, 2], "phases": [date(2024, 1, 1)]}, "phases"),
        ({"values": [1, 2, 3], "phases": [2, 1]}, "phases"),
        ({"values": [1, 2, 3], "phases": [1], "phase_labels": ["only one"]}, "phase_labels"),
        ({"values": [1, 2], "freeze": 0}, "freeze"),
        ({"values": [1, 2], "freeze": date(2024, 1, 1)}, "freeze"),
        ({"values": [1, 2], "excluded": {2}}, "excluded"),
        ({"values": [1, 2], "rules": "western"}, "rules"),
    ],
)
def test_malformed_calls_name_the_field_at_fault(kwargs, field):
    with pytest.raises(SpcInputError) as caught:
        run_chart(**kwargs)
    assert caught.value.field == field
