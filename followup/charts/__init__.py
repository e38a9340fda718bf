"""SVG charts of a patient's readings: a generic time-series renderer and one builder per reading kind."""

from followup.charts.readings import (
    GLUCOSE_TARGETS,
    HOME_BP_TARGET,
    blood_pressure_chart,
    glucose_chart,
    glucose_targets,
    glucose_value,
    single_value_chart,
    weight_unit,
    weight_value,
)
from followup.charts.svg import Band, ChartPoint, ChartTexts, RefLine, Series, TimeWindow, render_chart

__all__ = [
    "GLUCOSE_TARGETS", "HOME_BP_TARGET", "Band", "ChartPoint", "ChartTexts", "RefLine", "Series", "TimeWindow",
    "blood_pressure_chart", "glucose_chart", "glucose_targets", "glucose_value", "render_chart",
    "single_value_chart", "weight_unit", "weight_value",
]
