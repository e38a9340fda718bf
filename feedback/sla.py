"""Complaint deadlines in working days, in the clinic's time zone: pure functions over plain values.

A deadline of N working days means the end of the clinic's working day on the Nth working day *after* the
local day of receipt (NHS England: "not later than 3 working days after the day on which it receives the
complaint"); N = 0 means the same working day (首诉负责制 "on the spot or the same day"). Weekends, public
holidays and China's make-up working days (调休, a Saturday or Sunday that is worked) come from the clinic's
calendar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SATURDAY, SUNDAY = 5, 6
# Far enough for any configurable deadline, short enough that a calendar of only holidays cannot loop forever.
_MAX_SCAN_DAYS = 3 * 366


@dataclass(frozen=True)
class WorkingCalendar:
    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()  # weekend days that are worked (调休)
    weekend: frozenset[int] = field(default_factory=lambda: frozenset({SATURDAY, SUNDAY}))

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() not in self.weekend


def add_working_days(day: date, n: int, calendar: WorkingCalendar) -> date:
    """The nth working day after `day`; n = 0 gives `day` itself if it is worked, else the next working day."""
    if n < 0:
        raise ValueError("n must not be negative")
    current = day
    remaining = n
    if remaining == 0:
        for _ in range(_MAX_SCAN_DAYS):
            if calendar.is_working_day(current):
                return current
            current += timedelta(days=1)
        raise ValueError("the calendar has no working day within three years")
    for _ in range(_MAX_SCAN_DAYS):
        current += timedelta(days=1)
        if calendar.is_working_day(current):
            remaining -= 1
            if remaining == 0:
                return current
    raise ValueError("the calendar has too few working days for this deadline")


def deadline(received_at: datetime, working_days: int, *, tz: ZoneInfo, calendar: WorkingCalendar,
             day_ends_at: time = time(17, 30)) -> datetime:
    """When an item received at `received_at` (aware) is due, in UTC.

    Items received after the end of a working day still count that day as the day of receipt: the clock is
    "working days after the day of receipt", not working hours.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    local = received_at.astimezone(tz)
    local_day = local.date()
    if working_days == 0 and local.time() > day_ends_at:
        local_day += timedelta(days=1)  # "the same working day" cannot end before the item arrived
    due_day = add_working_days(local_day, working_days, calendar)
    return datetime.combine(due_day, day_ends_at, tzinfo=tz).astimezone(UTC)


def is_overdue(due_at: datetime | None, now: datetime) -> bool:
    return due_at is not None and now > due_at


def is_due_soon(due_at: datetime | None, now: datetime, *, warn_hours: int) -> bool:
    """Inside the warning window before the deadline (and not yet past it)."""
    return due_at is not None and due_at - timedelta(hours=warn_hours) <= now <= due_at


def parse_clock(text: str) -> time | None:
    """'17:30' → time(17, 30); None when it is not a clock time."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        return None
    h, m = int(hours), int(minutes)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    return time(h, m)
