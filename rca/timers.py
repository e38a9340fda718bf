"""RCA clocks as pure functions over plain values: start within N hours, finish within N days, action due dates.

Both analysis clocks run from `triggered_at`, the moment it became known that a review is needed (RCA²: "start
within 72 hours of recognising that a review is needed"). An action is due at the end of its due date in the
clinic's time zone, so "due 3 May" stays due all of 3 May wherever the server runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rca.enums import ACTIVE_STATUSES, OPEN_ACTION_STATUSES, RcaActionStatus, RcaStatus


def start_due(triggered_at: datetime, hours: int) -> datetime:
    return triggered_at + timedelta(hours=hours)


def finish_due(triggered_at: datetime, days: int) -> datetime:
    return triggered_at + timedelta(days=days)


def action_due_at(due_date: date, tz: ZoneInfo) -> datetime:
    """The first instant after `due_date` ends locally, in UTC."""
    return datetime.combine(due_date + timedelta(days=1), time(0, 0), tzinfo=tz).astimezone(UTC)


def local_today(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


def start_overdue(status: RcaStatus, start_due_at: datetime, now: datetime) -> bool:
    return RcaStatus(status) == RcaStatus.open and now > start_due_at


def finish_overdue(status: RcaStatus, due_at: datetime, now: datetime) -> bool:
    return RcaStatus(status) in ACTIVE_STATUSES and now > due_at


def action_overdue(status: RcaActionStatus, due_at: datetime, now: datetime) -> bool:
    return RcaActionStatus(status) in OPEN_ACTION_STATUSES and now >= due_at


@dataclass(frozen=True)
class Clocks:
    """What the pages show about an analysis's two clocks."""

    start_due_at: datetime
    due_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    start_overdue: bool
    finish_overdue: bool
    started_late: bool  # started, but after the start deadline
    finished_late: bool

    @property
    def any_overdue(self) -> bool:
        return self.start_overdue or self.finish_overdue


def clocks(*, status: RcaStatus, start_due_at: datetime, due_at: datetime, started_at: datetime | None,
           completed_at: datetime | None, now: datetime) -> Clocks:
    return Clocks(
        start_due_at=start_due_at, due_at=due_at, started_at=started_at, completed_at=completed_at,
        start_overdue=start_overdue(status, start_due_at, now), finish_overdue=finish_overdue(status, due_at, now),
        started_late=started_at is not None and started_at > start_due_at,
        finished_late=completed_at is not None and completed_at > due_at,
    )
