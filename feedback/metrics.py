"""Complaint measures for the quality committee, computed in SQL: per local month and category, the complaint
rate per 1,000 registered patients and the share of items acknowledged and resolved by their deadline.

An item counts toward an on-time share once its deadline has passed or the step is done, so a month still in
progress is not flattered by items that are simply not due yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, or_, select
from sqlmodel import Session

from clinic.models import Clinic, Patient
from core.db import utcnow
from feedback.enums import Category, FeedbackKind
from feedback.models import FeedbackItem
from followup.dates import Granularity, local_midnight, next_period_start


@dataclass(frozen=True)
class MonthMeasure:
    month: date  # first day of the local month
    category: Category | None  # None: all categories
    items: int
    complaints: int
    patients: int
    ack_measured: int
    ack_on_time: int
    resolve_measured: int
    resolve_on_time: int

    @property
    def complaint_rate(self) -> float | None:
        """Complaints per 1,000 registered patients in the month."""
        return round(self.complaints * 1000 / self.patients, 2) if self.patients else None

    @property
    def ack_on_time_pct(self) -> float | None:
        return round(100 * self.ack_on_time / self.ack_measured, 1) if self.ack_measured else None

    @property
    def resolve_on_time_pct(self) -> float | None:
        return round(100 * self.resolve_on_time / self.resolve_measured, 1) if self.resolve_measured else None


def month_starts(*, today: date, months: int) -> list[date]:
    """The first days of the last `months` months, oldest first, ending with `today`'s month."""
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return starts[::-1]


def monthly_measures(*, session: Session, clinic: Clinic, months: int = 12,
                     now: datetime | None = None) -> list[MonthMeasure]:
    """Rows per (month, category) that had items, plus one all-categories row for every month."""
    now = now or utcnow()
    tz = ZoneInfo(clinic.timezone)
    starts = month_starts(today=now.astimezone(tz).date(), months=months)
    bounds = [(start, local_midnight(start, tz), local_midnight(next_period_start(start, Granularity.month), tz))
              for start in starts]
    month_label = case(*[(and_(FeedbackItem.received_at >= lo, FeedbackItem.received_at < hi),
                           literal(start.isoformat())) for start, lo, hi in bounds], else_=literal(""))
    ack_done = FeedbackItem.acknowledged_at.is_not(None)
    resolved = FeedbackItem.resolved_at.is_not(None)
    # One row per item with 0/1 flags, then grouped outside: PostgreSQL would not accept grouping by the
    # month CASE itself, whose parameters are bound twice.
    flags = select(
        month_label.label("month"), FeedbackItem.category.label("category"),
        case((FeedbackItem.kind == FeedbackKind.complaint, 1), else_=0).label("complaint"),
        case((or_(ack_done, FeedbackItem.ack_due_at < now), 1), else_=0).label("ack_measured"),
        case((and_(ack_done, FeedbackItem.acknowledged_at <= FeedbackItem.ack_due_at), 1), else_=0)
        .label("ack_on_time"),
        case((or_(resolved, FeedbackItem.resolve_due_at < now), 1), else_=0).label("resolve_measured"),
        case((and_(resolved, FeedbackItem.resolved_at <= FeedbackItem.resolve_due_at), 1), else_=0)
        .label("resolve_on_time"),
    ).where(FeedbackItem.clinic_id == clinic.id, FeedbackItem.received_at >= bounds[0][1],
            FeedbackItem.received_at < bounds[-1][2]).subquery()
    rows = session.execute(
        select(flags.c.month, flags.c.category, func.count(), func.sum(flags.c.complaint),
               func.sum(flags.c.ack_measured), func.sum(flags.c.ack_on_time), func.sum(flags.c.resolve_measured),
               func.sum(flags.c.resolve_on_time))
        .group_by(flags.c.month, flags.c.category)
    ).all()
    patients = _patients_by_month(session, clinic.id, bounds)
    by_month: dict[str, list[MonthMeasure]] = {start.isoformat(): [] for start in starts}
    for label, category, *numbers in rows:
        if label not in by_month:
            continue
        counts = [int(n or 0) for n in numbers]
        by_month[label].append(MonthMeasure(date.fromisoformat(label), Category(category), counts[0], counts[1],
                                            patients[label], *counts[2:]))
    result: list[MonthMeasure] = []
    for label, measures in by_month.items():
        total = [sum(getattr(m, f) for m in measures) for f in ("items", "complaints", "ack_measured",
                                                                "ack_on_time", "resolve_measured", "resolve_on_time")]
        result.append(MonthMeasure(date.fromisoformat(label), None, total[0], total[1], patients[label], *total[2:]))
        result.extend(sorted(measures, key=lambda m: list(Category).index(m.category)))  # type: ignore[arg-type]
    return result


def _patients_by_month(session: Session, clinic_id: int,
                       bounds: list[tuple[date, datetime, datetime]]) -> dict[str, int]:
    """Registered active patients at the end of each month: the denominator of the complaint rate."""
    columns = [func.sum(case((Patient.created_at < hi, 1), else_=0)) for _, _, hi in bounds]
    values = session.execute(select(*columns).where(Patient.clinic_id == clinic_id,
                                                    Patient.active.is_(True))).one()
    return {start.isoformat(): int(v or 0) for (start, _, _), v in zip(bounds, values, strict=True)}
