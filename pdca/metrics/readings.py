"""Reading adherence: the share of the active panel that sent at least one home reading in the period.

Two grouped queries per chart (numerator and denominator), each joining the facts to the period table;
no patient is ever loaded into Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, distinct, func, or_, select
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import Session

from clinic.models import Patient
from followup.dates import Period
from followup.models import Reading
from pdca.metrics.base import Cell
from pdca.metrics.periods import periods_table


def counts_by_period(session: Session, query: Select[Any], n: int) -> list[int]:
    """Run a query returning (idx, count) rows; periods without a row count 0."""
    found = {int(idx): int(count) for idx, count in session.execute(query)}
    return [found.get(i, 0) for i in range(n)]


def _in_panel(p: Any) -> ColumnElement[bool]:
    # Active patients in a programme who were registered before the period ended.  Patients have no
    # deactivation date, so a patient who left is missing from the history too (said in the definition).
    return and_(
        Patient.active.is_(True),
        or_(Patient.has_hypertension.is_(True), Patient.has_diabetes.is_(True)),
        Patient.created_at < p.c.end_at,
    )


def reading_adherence(
    *, session: Session, clinic_id: int, tz: ZoneInfo, periods: Sequence[Period], options: dict[str, Any]
) -> list[Cell]:
    if not periods:
        return []
    p = periods_table(periods, tz, postgres=session.get_bind().dialect.name == "postgresql")
    readers = (
        select(p.c.idx, func.count(distinct(Reading.patient_id)))
        .select_from(p)
        .join(Reading, and_(Reading.clinic_id == clinic_id, Reading.voided_at.is_(None),
                            Reading.taken_at >= p.c.start_at, Reading.taken_at < p.c.end_at))
        .join(Patient, and_(Patient.id == Reading.patient_id, _in_panel(p)))
        .group_by(p.c.idx)
    )
    panel = (
        select(p.c.idx, func.count(Patient.id))
        .select_from(p)
        .join(Patient, and_(Patient.clinic_id == clinic_id, _in_panel(p)))
        .group_by(p.c.idx)
    )
    numerators = counts_by_period(session, readers, len(periods))
    denominators = counts_by_period(session, panel, len(periods))
    return [Cell(float(k), float(n)) if n else Cell(None) for k, n in zip(numerators, denominators, strict=True)]
