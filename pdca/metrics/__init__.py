"""Measures for PDCA projects: the catalogue of platform metrics computed in SQL per week or month, and the
series (catalogue or manual) a chart is drawn from."""

from pdca.metrics.base import Cell, MetricDef, Option
from pdca.metrics.catalogue import catalogue, get_metric
from pdca.metrics.periods import chart_periods, label, periods_table, start_of
from pdca.metrics.series import Series, measure_series

__all__ = [
    "Cell",
    "MetricDef",
    "Option",
    "Series",
    "catalogue",
    "chart_periods",
    "get_metric",
    "label",
    "measure_series",
    "periods_table",
    "start_of",
]
