"""Deadline arithmetic in working days: weekends, holidays, make-up working days and the clinic's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from feedback.sla import WorkingCalendar, add_working_days, deadline, is_due_soon, is_overdue, parse_clock

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHICAGO = ZoneInfo("America/Chicago")
WEEK = WorkingCalendar()


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)


def test_one_working_day_after_a_monday_is_tuesday():
    assert add_working_days(date(2026, 11, 23), 1, WEEK) == date(2026, 11, 24)


def test_working_days_skip_the_weekend():
    # Friday + 1 → Monday; Thursday + 3 → Tuesday.
    assert add_working_days(date(2026, 11, 27), 1, WEEK) == date(2026, 11, 30)
    assert add_working_days(date(2026, 11, 26), 3, WEEK) == date(2026, 12, 1)


def test_an_item_received_on_saturday_counts_from_monday():
    assert add_working_days(date(2026, 11, 28), 1, WEEK) == date(2026, 11, 30)
    assert add_working_days(date(2026, 11, 28), 0, WEEK) == date(2026, 11, 30)


def test_holidays_are_skipped_and_make_up_weekend_days_count():
    calendar = WorkingCalendar(holidays=frozenset({date(2026, 10, d) for d in range(1, 8)}),
                               extra_workdays=frozenset({date(2026, 10, 10)}))  # a Saturday worked (调休)
    assert add_working_days(date(2026, 9, 30), 1, calendar) == date(2026, 10, 8)
    assert add_working_days(date(2026, 10, 9), 1, calendar) == date(2026, 10, 10)


def test_zero_days_means_the_same_working_day():
    assert add_working_days(date(2026, 11, 23), 0, WEEK) == date(2026, 11, 23)


def test_negative_days_are_refused():
    with pytest.raises(ValueError):
        add_working_days(date(2026, 11, 23), -1, WEEK)


def test_deadline_falls_at_the_end_of_the_local_working_day_in_utc():
    due = deadline(local(SHANGHAI, 2026, 11, 23, 10, 0), 1, tz=SHANGHAI, calendar=WEEK, day_ends_at=time(17, 30))
    assert due == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # 17:30 in Shanghai is 09:30 UTC


def test_day_of_receipt_is_the_local_day_not_the_utc_day():
    # Sunday 20:00 UTC is already Monday 04:00 in Shanghai: the clock starts from Monday, not from Sunday.
    received = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    due = deadline(received, 1, tz=SHANGHAI, calendar=WEEK, day_ends_at=time(17, 30))
    assert due.astimezone(SHANGHAI).date() == date(2026, 11, 24)
    # The same instant in Chicago is Sunday afternoon: Monday is the first working day after it.
    assert deadline(received, 1, tz=CHICAGO, calendar=WEEK).astimezone(CHICAGO).date() == date(2026, 11, 23)


def test_nhs_three_working_days_after_a_thursday_end_on_tuesday():
    due = deadline(local(CHICAGO, 2026, 11, 19, 15, 0), 3, tz=CHICAGO, calendar=WEEK, day_ends_at=time(17, 0))
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 11, 24, 17, 0)


def test_deadline_across_a_daylight_saving_change_keeps_the_local_time():
    # Chicago leaves daylight saving on 2026-11-01; a Friday item due Monday still falls at 17:30 local.
    due = deadline(local(CHICAGO, 2026, 10, 30, 9, 0), 1, tz=CHICAGO, calendar=WEEK, day_ends_at=time(17, 30))
    assert due.astimezone(CHICAGO) == local(CHICAGO, 2026, 11, 2, 17, 30)
    assert due == datetime(2026, 11, 2, 23, 30, tzinfo=UTC)


def test_same_day_deadline_after_closing_time_moves_to_the_next_working_day():
    due = deadline(local(SHANGHAI, 2026, 11, 27, 19, 0), 0, tz=SHANGHAI, calendar=WEEK, day_ends_at=time(17, 30))
    assert due.astimezone(SHANGHAI) == local(SHANGHAI, 2026, 11, 30, 17, 30)


def test_naive_receipt_times_are_refused():
    with pytest.raises(ValueError):
        deadline(datetime(2026, 11, 23, 10, 0), 1, tz=SHANGHAI, calendar=WEEK)


def test_overdue_and_due_soon():
    due = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert not is_overdue(due, due) and is_overdue(due, datetime(2026, 11, 24, 9, 31, tzinfo=UTC))
    assert is_due_soon(due, datetime(2026, 11, 24, 6, 0, tzinfo=UTC), warn_hours=4)
    assert not is_due_soon(due, datetime(2026, 11, 24, 5, 0, tzinfo=UTC), warn_hours=4)
    assert not is_overdue(None, due) and not is_due_soon(None, due, warn_hours=4)


@pytest.mark.parametrize(("text", "expected"), [("17:30", time(17, 30)), ("9:05", time(9, 5)), ("24:00", None),
                                                ("17", None), ("abc", None), ("17:5", None)])
def test_clock_times_parse_strictly(text, expected):
    assert parse_clock(text) == expected
