"""Properties of the SPC engine over generated input: it never raises on finite data, and its limits
keep their shape."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from pdca.spc import ChartType, control_chart, runs_analysis

finite = st.floats(allow_nan=False, allow_infinity=False)
moderate = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@st.composite
def chart_inputs(draw, values=finite):
    n = draw(st.integers(min_value=0, max_value=40))
    kind = draw(st.sampled_from(list(ChartType)))
    kwargs = {
        "chart_type": kind,
        "values": draw(st.lists(st.one_of(st.none(), values), min_size=n, max_size=n)),
        "rules": draw(st.sampled_from(["anhoej", "nhs_mdc", "ihi"])),
        "screen_mr": draw(st.booleans()),
        "multiply": draw(st.sampled_from([1.0, 100.0, 1000.0])),
    }
    # Every kind but c may take denominators (c plots plain counts); p, pp, u, up, xbar and s need them.
    if kind in (ChartType.p, ChartType.pp, ChartType.u, ChartType.up, ChartType.xbar, ChartType.s) or (
        kind is not ChartType.c and draw(st.booleans())
    ):
        kwargs["denominators"] = draw(st.lists(st.one_of(st.none(), finite), min_size=n, max_size=n))
    if kind is ChartType.xbar:
        kwargs["sds"] = draw(st.lists(st.one_of(st.none(), finite), min_size=n, max_size=n))
    if n:
        kwargs["phases"] = sorted(draw(st.lists(st.integers(min_value=0, max_value=n), max_size=3)))
        kwargs["excluded"] = draw(st.sets(st.integers(min_value=0, max_value=n - 1), max_size=5))
        kwargs["freeze"] = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=n + 2)))
    return kwargs


def is_number_or_none(v) -> bool:
    return v is None or math.isfinite(v)


@settings(max_examples=250, deadline=None)
@given(chart_inputs())
def test_the_engine_never_raises_on_finite_input(kwargs):
    chart = control_chart(**kwargs)
    assert len(chart.points) == len(kwargs["values"])
    for p in chart.points:
        numbers = (p.value, p.centre, p.lcl, p.ucl, p.lcl_2sigma, p.ucl_2sigma, p.lcl_1sigma, p.ucl_1sigma)
        assert all(is_number_or_none(v) for v in numbers)
    for signal in chart.signals:
        assert all(0 <= i < len(chart.points) for i in signal.indexes)


@settings(max_examples=200, deadline=None)
@given(chart_inputs(values=moderate))
def test_limits_bracket_the_centre_line(kwargs):
    for p in control_chart(**kwargs).points:
        if None not in (p.centre, p.lcl, p.ucl):
            slack = 1e-9 * (1 + abs(p.centre))
            assert p.lcl - slack <= p.centre <= p.ucl + slack


@settings(max_examples=300, deadline=None)
@given(
    st.lists(moderate, min_size=2, max_size=40),
    st.one_of(st.none(), st.integers(min_value=2, max_value=40)),
    st.booleans(),
)
def test_individuals_limits_are_symmetric_around_the_centre(values, freeze, screen_mr):
    chart = control_chart(chart_type="i", values=values, freeze=freeze, screen_mr=screen_mr)
    for p in chart.points:
        scale = 1e-9 * (1 + abs(p.centre) + (p.ucl - p.centre))
        assert math.isclose(p.ucl - p.centre, p.centre - p.lcl, rel_tol=1e-9, abs_tol=scale)
        assert math.isclose(p.ucl_2sigma - p.centre, (p.ucl - p.centre) * 2 / 3, rel_tol=1e-9, abs_tol=scale)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=-3, max_value=3), max_size=60), st.integers(min_value=-3, max_value=3))
def test_runs_analysis_counts_are_consistent(values, centre):
    analysis = runs_analysis(values=values, centre=centre)
    assert analysis.n_useful == sum(v != centre for v in values)
    if analysis.n_useful:
        assert 1 <= analysis.longest_run <= analysis.n_useful
        assert analysis.n_crossings <= analysis.n_useful - 1
        assert analysis.n_crossings_min <= analysis.n_useful - 1
