"""Reporting periods for measures: which weeks or months a chart shows, and those periods as a small SQL
table so one grouped query per metric buckets every row by the clinic's local calendar.

Bounds are computed here (time zones and month lengths are calendar logic) and handed to the database as
UTC instants, so the same SQL runs on SQLite, which has no time zones, and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Integer, cast, literal, select, union_all
from sqlalchemy.sql import Subquery

from core.db import UTCDateTime
from followup.dates import Granularity, Period, local_midnight, months_before, period_start, periods_between
from pdca.enums import Frequency

# How much history a chart shows before the project started: enough points for a baseline (Anhøj rules
# need 10 or more useful points) without drowning the change.
BASELINE_PERIODS = {Frequency.month: 12, Frequency.week: 26}
MAX_PERIODS = {Frequency.month: 60, Frequency.week: 104}


def granularity(frequency: Frequency | str) -> Granularity:
    return Granularity(str(frequency))


def label(period: Period, frequency: Frequency | str) -> str:
    """2026-03 for a month, 2026-W12 for an ISO week (weeks start on Monday)."""
    if str(frequency) == Frequency.month:
        return f"{period.start.year:04d}-{period.start.month:02d}"
    year, week, _ = period.start.isocalendar()
    return f"{year:04d}-W{week:02d}"


def start_of(day: date, frequency: Frequency | str) -> date:
    """The first day of the week (Monday) or month holding `day`."""
    return period_start(day, granularity(frequency))


def chart_periods(*, frequency: Frequency | str, since: date, today: date, until: date | None = None) -> list[Period]:
    """Completed periods from BASELINE_PERIODS before `since` up to the last one that ended before `today`
    (or up to the period holding `until`, when a manual series already has a value there), newest
    MAX_PERIODS kept."""
    freq = Frequency(str(frequency))
    g = granularity(freq)
    current = period_start(today, g)
    first = period_start(since, g)
    back = BASELINE_PERIODS[freq]
    first = months_before(first, back) if freq is Frequency.month else first - timedelta(weeks=back)
    last_day = current - timedelta(days=1)
    if until is not None and until > last_day:
        last_day = until
    periods = periods_between(first, last_day, g) if first <= last_day else []
    return periods[-MAX_PERIODS[freq]:]


def periods_table(periods: Sequence[Period], tz: ZoneInfo, *, postgres: bool, name: str = "periods") -> Subquery:
    """(idx, start_at, end_at) rows, one per period, as a subquery to join facts against."""

    def instant(day: date) -> Any:
        bound = literal(local_midnight(day, tz), UTCDateTime())
        # PostgreSQL must know a bare parameter's type inside a UNION; SQLite would make a CAST a number.
        return cast(bound, DateTime(timezone=True)) if postgres else bound

    def index(i: int) -> Any:
        return cast(literal(i), Integer) if postgres else literal(i, Integer)

    rows = [
        select(index(i).label("idx"), instant(p.start).label("start_at"), instant(p.end).label("end_at"))
        for i, p in enumerate(periods)
    ]
    if len(rows) == 1:
        return rows[0].subquery(name)
    return union_all(*rows).subquery(name)
