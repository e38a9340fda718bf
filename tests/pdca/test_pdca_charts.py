"""The Check reading of a measure (pure): the change as a new phase, and the signal state after it."""

import re
import xml.etree.ElementTree as ET
from datetime import date

from followup.dates import Granularity, periods_between
from pdca.charts import phase_index, read_check, sparkline
from pdca.enums import Direction, SignalState
from pdca.metrics.base import Cell
from pdca.metrics.series import Series


def monthly(counts: list[int], sizes: list[int], *, chart: str = "p", direction: Direction = Direction.increase,
            first: date = date(2025, 1, 1)) -> Series:
    periods = periods_between(first, date(2099, 1, 1), Granularity.month)[: len(counts)]
    return Series(periods=tuple(periods), labels=tuple(p.start.isoformat()[:7] for p in periods),
                  cells=tuple(Cell(float(c), float(n)) for c, n in zip(counts, sizes, strict=True)), chart=chart,
                  multiply=100.0 if chart == "p" else 1000.0, direction=direction)


BASELINE = [40, 42, 38, 41, 39, 43, 40, 37, 42, 41, 39, 40]


def test_the_first_whole_period_after_the_change_starts_the_new_phase():
    series = monthly(BASELINE, [100] * 12)
    assert phase_index(series, date(2025, 6, 1)) == 5
    assert phase_index(series, date(2025, 6, 10)) == 6  # June is mixed: it stays with the baseline
    assert phase_index(series, date(2024, 6, 1)) is None  # the change predates the chart
    assert phase_index(series, None) is None


def test_a_sustained_improvement_after_the_change_is_a_signal_of_improvement():
    series = monthly(BASELINE + [60, 62, 61, 63, 60, 64], [100] * 18)
    reading = read_check(series, date(2026, 1, 1))
    assert reading.phase_start == 12
    assert len(reading.chart.phases) == 2
    assert reading.state is SignalState.improvement


def test_a_drop_on_a_higher_is_better_measure_is_a_signal_of_concern():
    series = monthly(BASELINE + [20, 18, 19, 21, 17, 20], [100] * 18)
    assert read_check(series, date(2026, 1, 1)).state is SignalState.concern


def test_a_lower_complaint_rate_is_an_improvement_when_lower_is_better():
    # Eight months below the baseline's centre line: a run longer than Anhøj's limit for 20 points (7).
    series = monthly([8, 9, 7, 8, 10, 9, 8, 7, 9, 8, 9, 8, 4, 3, 4, 5, 3, 4, 3, 4], [1000] * 20, chart="u",
                     direction=Direction.decrease)
    reading = read_check(series, date(2026, 1, 1))
    assert reading.state is SignalState.improvement


def test_common_cause_variation_after_the_change_shows_no_signal():
    series = monthly(BASELINE + [41, 39, 40], [100] * 15)
    assert read_check(series, date(2026, 1, 1)).state is SignalState.no_signal


def test_without_a_whole_period_after_the_change_there_is_not_enough_data():
    series = monthly(BASELINE, [100] * 12)
    assert read_check(series, date(2025, 12, 15)).state is SignalState.not_enough_data
    assert read_check(series, None).state is SignalState.not_enough_data


def _ids(svg: str) -> dict[str, ET.Element]:
    return {e.get("id").split("-", 2)[-1]: e for e in ET.fromstring(svg).iter() if e.get("id")}


def test_the_sparkline_marks_the_change_and_names_the_state_for_screen_readers():
    series = monthly(BASELINE + [60, 62], [100] * 14)
    svg = sparkline(series, phase_start=12, state=SignalState.improvement, label="Calls answered: improvement")
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "Calls answered: improvement"
    parts = _ids(svg)
    divider = parts["divider"].find("{http://www.w3.org/2000/svg}path")
    assert "stroke-dasharray" in divider.get("style")
    x = float(re.search(r"M ([\d.]+)", divider.get("d")).group(1))
    assert 160 * 11 / 13 < x < 160 * 12 / 13  # between the last month before the change and the first after
    last = parts["last"].find(".//{http://www.w3.org/2000/svg}use")
    assert "fill: #00b0f0" in last.get("style") and float(last.get("x")) > 150


def test_sparklines_of_different_cards_share_no_ids():
    one = sparkline(monthly(BASELINE, [100] * 12), phase_start=None, state=SignalState.no_signal, label="A")
    two = sparkline(monthly(BASELINE[::-1], [100] * 12), phase_start=None, state=SignalState.no_signal, label="B")
    ids = [{e.get("id") for e in ET.fromstring(svg).iter() if e.get("id")} for svg in (one, two)]
    assert ids[0] and not ids[0] & ids[1]


def test_an_empty_series_draws_a_placeholder_line():
    series = monthly([0], [0])
    series = Series(periods=series.periods, labels=series.labels, cells=(Cell(None),), chart="p", multiply=100,
                    direction=Direction.increase)
    parts = _ids(sparkline(series, phase_start=None, state=SignalState.not_enough_data, label="x"))
    assert "empty" in parts and "line" not in parts and "last" not in parts
