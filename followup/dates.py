"""Pure date arithmetic of follow-up sweeps, the overdue list and indicator periods (no database, no clock).

Every "day" here is the patient's or clinic's local calendar day; every instant handed back is UTC, ready to
compare with the database's UTC columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

# clinical-rules.md §1.1/§1.2 (≥4 follow-ups a year) and §3 OD-01: a patient with no follow-up in 90 days is
# overdue. [DESIGN] like every reference value, callers may pass another interval.
FOLLOW_UP_INTERVAL_DAYS = 90
# Simple's default overdue view hides patients more than a year overdue (anchor-systems.md §1.1, §C.1).
OVERDUE_LIST_HORIZON_DAYS = 365
# [DESIGN] Reminder SMS go out only in local daytime (Simple sends between 14:00 and 16:00, §1.5); a wider
# window lets an hourly sweep catch up after a missed hour without texting elderly patients at night.
REMINDER_WINDOW = (time(10, 0), time(17, 0))


class Granularity(StrEnum):
    week = "week"
    month = "month"


@dataclass(frozen=True)
class Period:
    """A reporting period in the clinic's local calendar: [start, end), weeks starting on Monday."""

    start: date
    end: date


@dataclass(frozen=True)
class FollowUpStatus:
    """Where a patient stands against the follow-up interval, in local calendar days."""

    last_follow_up: datetime | None  # None: never followed up (counted from enrolment)
    days_since: int
    due_on: date
    days_overdue: int  # 0 until the day after due_on

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the local `day` begins."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def days_between(earlier: datetime, later: datetime, tz: ZoneInfo) -> int:
    """Local calendar days from `earlier` to `later` (23:50 → 00:10 the next day is one day)."""
    return (local_day(later, tz) - local_day(earlier, tz)).days


def in_sending_window(now: datetime, tz: ZoneInfo, window: tuple[time, time] = REMINDER_WINDOW) -> bool:
    """Whether a patient-facing reminder may be sent now: local time inside [window start, window end)."""
    local = now.astimezone(tz).time()
    return window[0] <= local < window[1]


def gap_key(*, rule_code: str, patient_id: int, since: datetime) -> str:
    """One key per silence: a reminder is sent once per (rule, patient, last reading before the gap)."""
    stamp = since.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%f")
    return f"followup.reminder:{rule_code}:{patient_id}:{stamp}"


def follow_up_status(
    *, last_follow_up: datetime | None, enrolled_at: datetime, now: datetime, tz: ZoneInfo,
    interval_days: int = FOLLOW_UP_INTERVAL_DAYS,
) -> FollowUpStatus:
    """Days since the last follow-up (or enrolment) and days overdue: due on the interval's last day,
    overdue from the day after."""
    anchor = last_follow_up or enrolled_at
    due_on = local_day(anchor, tz) + timedelta(days=interval_days)
    today = local_day(now, tz)
    return FollowUpStatus(
        last_follow_up=last_follow_up, days_since=max(0, (today - local_day(anchor, tz)).days), due_on=due_on,
        days_overdue=max(0, (today - due_on).days),
    )


def overdue_cutoff(now: datetime, tz: ZoneInfo, interval_days: int = FOLLOW_UP_INTERVAL_DAYS) -> datetime:
    """A patient whose last follow-up (or enrolment) is before this UTC instant is overdue today."""
    return local_midnight(local_day(now, tz) - timedelta(days=interval_days), tz)


def months_before(day: date, months: int) -> date:
    """The same day of the month `months` earlier, clamped to the month's end (31 May − 3 → 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def period_start(day: date, granularity: Granularity) -> date:
    if granularity is Granularity.month:
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def next_period_start(start: date, granularity: Granularity) -> date:
    if granularity is Granularity.month:
        return months_before(start, -1)
    return start + timedelta(days=7)


def periods_between(first: date, last: date, granularity: Granularity) -> list[Period]:
    """Every period from the one holding `first` to the one holding `last`, oldest first."""
    periods: list[Period] = []
    start = period_start(first, granularity)
    while start <= last:
        end = next_period_start(start, granularity)
        periods.append(Period(start, end))
        start = end
    return periods


def recent_periods(now: datetime, tz: ZoneInfo, granularity: Granularity, count: int) -> list[Period]:
    """The last `count` periods up to and including the current (incomplete) one."""
    current = period_start(local_day(now, tz), granularity)
    first = current
    for _ in range(max(0, count - 1)):
        first = months_before(first, 1) if granularity is Granularity.month else first - timedelta(days=7)
    return periods_between(first, current, granularity)


def utc_offsets(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offset (minutes) over [start, end): the first pair holds from `start`, each next one
    from the UTC instant it takes over. Lets a database without time zones (SQLite) bucket by local day."""
    def offset(moment: datetime) -> int:
        delta = moment.astimezone(tz).utcoffset() or timedelta(0)
        return int(delta.total_seconds() // 60)

    start, end = start.astimezone(UTC), end.astimezone(UTC)
    changes = [(start, offset(start))]
    step = timedelta(hours=12)  # zones change their offset at most a few times a year, never twice a day
    cursor = start
    while cursor < end:
        following = min(cursor + step, end)
        if offset(following) != changes[-1][1]:
            low, high = cursor, following  # the change lies in (low, high]: narrow it to the second
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if offset(middle) == changes[-1][1]:
                    low = middle
                else:
                    high = middle
            changes.append((high.replace(microsecond=0), offset(high)))
        cursor = following
    return changes
