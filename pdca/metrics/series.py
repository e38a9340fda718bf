"""A measure's data over the periods a chart shows: catalogue metrics read through their SQL function,
manual series from the committee's entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session

from followup.dates import Period
from pdca.enums import Direction, MeasureSource
from pdca.metrics.base import Cell
from pdca.metrics.catalogue import get_metric
from pdca.metrics.periods import chart_periods, label
from pdca.models import ManualValue, ProjectMeasure

# Charts whose values are divided by a denominator (p, u) and those that take none.
RATIO_CHARTS = frozenset({"p", "u"})


def display_multiplier(measure: ProjectMeasure) -> float:
    """Proportions are shown as per cent; catalogue rates in their own unit (per 1,000 patients)."""
    if measure.source == MeasureSource.catalogue:
        metric = get_metric(measure.metric_code)
        return metric.multiply if metric is not None else 1.0
    return 100.0 if measure.chart == "p" else 1.0


@dataclass(frozen=True)
class Series:
    """One value (and denominator) per period, oldest first, with what the chart needs to draw it."""

    periods: tuple[Period, ...]
    labels: tuple[str, ...]
    cells: tuple[Cell, ...]
    chart: str
    multiply: float
    direction: Direction
    available: bool = True  # False when the catalogue metric's owning module is missing

    def __len__(self) -> int:
        return len(self.cells)

    def chart_arguments(self) -> dict[str, Any]:
        """Keyword arguments for pdca.spc.control_chart."""
        args: dict[str, Any] = {"chart_type": self.chart, "values": [c.value for c in self.cells],
                                "multiply": self.multiply}
        if self.chart in RATIO_CHARTS:
            args["denominators"] = [c.denominator for c in self.cells]
        elif self.chart in ("run", "i") and any(c.denominator is not None for c in self.cells):
            # A manual run or I chart with denominators plots the ratio; missing sizes become gaps.
            args["denominators"] = [c.denominator for c in self.cells]
        return args

    def shown(self, i: int) -> float | None:
        """The value as displayed (per cent, per 1,000 …) for period i."""
        cell = self.cells[i]
        if cell.value is None:
            return None
        if cell.denominator is not None and (self.chart in RATIO_CHARTS or self.chart in ("run", "i")):
            return cell.value / cell.denominator * self.multiply if cell.denominator else None
        return cell.value * self.multiply

    @property
    def points(self) -> int:
        return sum(self.shown(i) is not None for i in range(len(self.cells)))


def manual_cells(session: Session, measure_id: int, periods: Sequence[Period]) -> list[Cell]:
    rows = session.scalars(select(ManualValue).where(
        ManualValue.measure_id == measure_id, ManualValue.period_start >= periods[0].start,
        ManualValue.period_start < periods[-1].end)).all() if periods else []
    by_start = {r.period_start: r for r in rows}
    return [Cell(by_start[p.start].value, by_start[p.start].denominator) if p.start in by_start else Cell(None)
            for p in periods]


def latest_manual_period(session: Session, measure_id: int) -> date | None:
    return session.scalar(select(func.max(ManualValue.period_start)).where(ManualValue.measure_id == measure_id))


def earliest_manual_period(session: Session, measure_id: int) -> date | None:
    return session.scalar(select(func.min(ManualValue.period_start)).where(ManualValue.measure_id == measure_id))


def measure_series(*, session: Session, measure: ProjectMeasure, tz: ZoneInfo, today: date, since: date) -> Series:
    """The measure over the completed periods from its baseline (before `since`, usually the project's start)
    to the last period that has ended; a manual series also shows any later period already entered."""
    until = None
    if measure.source == MeasureSource.manual:
        until = latest_manual_period(session, measure.id)  # type: ignore[arg-type]
        first = earliest_manual_period(session, measure.id)  # type: ignore[arg-type]
        if first is not None and first < since:
            since = first
    periods = chart_periods(frequency=measure.frequency, since=since, today=today, until=until)
    if measure.source == MeasureSource.manual and until is not None:
        # Manual history reaches as far back as its first entry, not the catalogue's default baseline.
        periods = [p for p in periods if p.end > since] or periods
    available = True
    if measure.source == MeasureSource.catalogue:
        metric = get_metric(measure.metric_code)
        if metric is None or metric.compute is None:
            cells, available = [Cell(None)] * len(periods), False
        else:
            cells = metric.compute(session=session, clinic_id=measure.clinic_id, tz=tz, periods=periods,
                                   options=dict(measure.options or {}))
    else:
        cells = manual_cells(session, measure.id, periods)  # type: ignore[arg-type]
    return Series(
        periods=tuple(periods), labels=tuple(label(p, measure.frequency) for p in periods), cells=tuple(cells),
        chart=measure.chart, multiply=display_multiplier(measure), direction=Direction(measure.direction),
        available=available,
    )
