"""Adapters from the indicator functions the upstream domains own to the catalogue's call shape.

Each returns None while its module is missing, so the catalogue can list the entry as unavailable.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from clinic.models import Clinic
from core.db import utcnow
from followup.dates import Period
from pdca.metrics.base import Cell, Compute
from pdca.metrics.periods import label

_FOLLOWUP = {
    "callbacks_closed_on_time": "callbacks_closed_on_time",
    "time_to_first_attempt": "median_minutes_to_first_attempt",
    "callbacks_reached": "reached_rate",
    "bp_controlled": "bp_controlled",
    "glucose_controlled": "glucose_controlled",
}


def _load(module: str, attr: str) -> Callable[..., Any] | None:
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise
    return getattr(found, attr, None)


def _clinic(session: Session, clinic_id: int) -> Clinic:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:  # pragma: no cover - callers pass the caller's own clinic
        raise LookupError(f"clinic {clinic_id} does not exist")
    return clinic


def _rate(numerator: float, denominator: float) -> Cell:
    return Cell(float(numerator), float(denominator)) if denominator else Cell(None)


def followup(code: str) -> Compute | None:
    """followup.metrics: Rate rows (numerator, denominator) or Median rows (minutes, shown in hours)."""
    fn = _load("followup.metrics", _FOLLOWUP[code])
    if fn is None:
        return None

    def compute(*, session: Session, clinic_id: int, tz: ZoneInfo, periods: Sequence[Period],
                options: dict[str, Any]) -> list[Cell]:
        if not periods:
            return []
        rows = fn(session=session, clinic=_clinic(session, clinic_id), periods=list(periods))
        if code == "time_to_first_attempt":
            return [Cell(None if r.value is None else r.value / 60.0) for r in rows]
        return [_rate(r.numerator, r.denominator) for r in rows]

    return compute


def surveys(code: str) -> Compute | None:
    """surveys.results: per-period pooled boxes (top box of scored answers) and NPS of one template."""
    compute_results = _load("surveys.results", "compute_results")
    query_type = _load("surveys.results", "ResultsQuery")
    if compute_results is None or query_type is None:
        return None

    def compute(*, session: Session, clinic_id: int, tz: ZoneInfo, periods: Sequence[Period],
                options: dict[str, Any]) -> list[Cell]:
        if not periods:
            return []
        granularity = "month" if (periods[0].end - periods[0].start).days > 7 else "week"
        query = query_type(clinic_id=clinic_id, template_code=str(options.get("template") or "service"),
                           date_from=periods[0].start, date_to=periods[-1].end - timedelta(days=1),
                           granularity=granularity)
        found = {g.key: g for g in compute_results(session=session, query=query).periods}
        cells = []
        for p in periods:
            group = found.get(label(p, granularity))
            if group is None:
                cells.append(Cell(None))
            elif code == "nps":
                cells.append(Cell(group.nps.score))
            else:
                cells.append(_rate(group.box.top, group.box.n))
        return cells

    return compute


def feedback(code: str) -> Compute | None:
    """feedback.metrics: monthly complaint counts, registered patients and on-time resolution, by category."""
    monthly_measures = _load("feedback.metrics", "monthly_measures")
    if monthly_measures is None:
        return None

    def compute(*, session: Session, clinic_id: int, tz: ZoneInfo, periods: Sequence[Period],
                options: dict[str, Any]) -> list[Cell]:
        if not periods:
            return []
        today = utcnow().astimezone(tz).date()
        # The function reports the months up to the current one, so ask for enough to reach our first.
        months = (today.year - periods[0].start.year) * 12 + today.month - periods[0].start.month + 1
        rows = monthly_measures(session=session, clinic=_clinic(session, clinic_id), months=max(1, months))
        category = str(options.get("category") or "") or None
        totals: dict[date, Any] = {r.month: r for r in rows if r.category is None}
        chosen: dict[date, Any] = {r.month: r for r in rows if r.category is not None and r.category == category}
        cells = []
        for p in periods:
            total = totals.get(p.start)
            row = total if category is None else chosen.get(p.start)
            if total is None:
                cells.append(Cell(None))
            elif code == "complaint_rate":
                cells.append(_rate(row.complaints if row is not None else 0, total.patients))
            else:
                cells.append(_rate(row.resolve_on_time, row.resolve_measured) if row is not None else Cell(None))
        return cells

    return compute
