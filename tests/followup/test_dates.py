"""Pure date logic of reminders, the overdue list and indicator periods: local days, boundaries, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from followup.dates import (
    Granularity,
    Period,
    days_between,
    follow_up_status,
    gap_key,
    in_sending_window,
    local_midnight,
    months_before,
    overdue_cutoff,
    periods_between,
    recent_periods,
    utc_offsets,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHICAGO = ZoneInfo("America/Chicago")


def test_local_midnight_in_shanghai_is_16_00_utc_the_day_before():
    assert local_midnight(date(2026, 5, 1), SHANGHAI) == datetime(2026, 4, 30, 16, tzinfo=UTC)


def test_days_between_counts_local_calendar_days():
    late = datetime(2026, 5, 1, 23, 50, tzinfo=SHANGHAI)
    assert days_between(late, late + timedelta(minutes=20), SHANGHAI) == 1
    assert days_between(late, late + timedelta(hours=23), SHANGHAI) == 1
    assert days_between(late, late, SHANGHAI) == 0


def test_follow_up_is_due_on_day_90_and_overdue_from_day_91():
    tz = SHANGHAI
    last = datetime(2026, 1, 1, 9, tzinfo=tz)
    on_due_day = follow_up_status(last_follow_up=last, enrolled_at=last - timedelta(days=400),
                                  now=datetime(2026, 4, 1, 20, tzinfo=tz), tz=tz)
    assert (on_due_day.days_since, on_due_day.due_on, on_due_day.days_overdue, on_due_day.overdue) == (
        90, date(2026, 4, 1), 0, False)
    next_day = follow_up_status(last_follow_up=last, enrolled_at=last, now=datetime(2026, 4, 2, 0, 5, tzinfo=tz),
                                tz=tz)
    assert (next_day.days_since, next_day.days_overdue, next_day.overdue) == (91, 1, True)


def test_a_patient_never_followed_up_is_counted_from_enrolment():
    enrolled = datetime(2026, 1, 10, tzinfo=SHANGHAI)
    status = follow_up_status(last_follow_up=None, enrolled_at=enrolled, now=datetime(2026, 5, 1, tzinfo=SHANGHAI),
                              tz=SHANGHAI)
    assert status.last_follow_up is None and status.days_since == 111 and status.days_overdue == 21


def test_overdue_cutoff_agrees_with_follow_up_status():
    now = datetime(2026, 4, 2, 10, tzinfo=SHANGHAI)
    cutoff = overdue_cutoff(now, SHANGHAI)
    assert cutoff == local_midnight(date(2026, 1, 2), SHANGHAI)
    for last, overdue in ((cutoff - timedelta(seconds=1), True), (cutoff, False)):
        assert follow_up_status(last_follow_up=last, enrolled_at=last, now=now, tz=SHANGHAI).overdue is overdue


def test_the_sending_window_is_local_daytime():
    assert in_sending_window(datetime(2026, 5, 1, 10, tzinfo=SHANGHAI), SHANGHAI)
    assert in_sending_window(datetime(2026, 5, 1, 16, 59, tzinfo=SHANGHAI), SHANGHAI)
    assert not in_sending_window(datetime(2026, 5, 1, 17, tzinfo=SHANGHAI), SHANGHAI)
    assert not in_sending_window(datetime(2026, 5, 1, 2, tzinfo=UTC), CHICAGO)  # 21:00 the evening before


def test_a_gap_key_is_the_same_for_the_same_silence_whatever_the_zone():
    since = datetime(2026, 5, 1, 8, tzinfo=SHANGHAI)
    assert gap_key(rule_code="DES-MISS-01", patient_id=5, since=since) == gap_key(
        rule_code="DES-MISS-01", patient_id=5, since=since.astimezone(UTC))
    assert gap_key(rule_code="DES-MISS-01", patient_id=5, since=since) != gap_key(
        rule_code="DES-MISS-01", patient_id=5, since=since + timedelta(seconds=1))
    assert len(gap_key(rule_code="X" * 40, patient_id=10**12, since=since)) <= 160


def test_months_before_clamps_to_the_end_of_a_shorter_month():
    assert months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert months_before(date(2024, 5, 31), 3) == date(2024, 2, 29)
    assert months_before(date(2026, 1, 15), 1) == date(2025, 12, 15)
    assert months_before(date(2026, 6, 1), 12) == date(2025, 6, 1)
    assert months_before(date(2026, 12, 1), -1) == date(2027, 1, 1)


def test_periods_cover_whole_months_and_monday_weeks():
    assert periods_between(date(2026, 11, 20), date(2027, 1, 3), Granularity.month) == [
        Period(date(2026, 11, 1), date(2026, 12, 1)), Period(date(2026, 12, 1), date(2027, 1, 1)),
        Period(date(2027, 1, 1), date(2027, 2, 1))]
    weeks = periods_between(date(2026, 5, 6), date(2026, 5, 18), Granularity.week)
    assert [w.start for w in weeks] == [date(2026, 5, 4), date(2026, 5, 11), date(2026, 5, 18)]
    assert all(w.start.weekday() == 0 and (w.end - w.start).days == 7 for w in weeks)


def test_recent_periods_end_with_the_current_one_in_local_time():
    now = datetime(2026, 4, 30, 17, tzinfo=UTC)  # already 1 May in Shanghai
    months = recent_periods(now, SHANGHAI, Granularity.month, 12)
    assert len(months) == 12 and months[-1].start == date(2026, 5, 1) and months[0].start == date(2025, 6, 1)
    weeks = recent_periods(now, SHANGHAI, Granularity.week, 3)
    assert [w.start for w in weeks] == [date(2026, 4, 13), date(2026, 4, 20), date(2026, 4, 27)]


def test_utc_offsets_find_both_daylight_saving_changes_to_the_second():
    offsets = utc_offsets(CHICAGO, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert offsets == [
        (datetime(2026, 1, 1, tzinfo=UTC), -360),
        (datetime(2026, 3, 8, 8, tzinfo=UTC), -300),  # 02:00 CST
        (datetime(2026, 11, 1, 7, tzinfo=UTC), -360),  # 02:00 CDT
    ]
    assert utc_offsets(SHANGHAI, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)) == [
        (datetime(2026, 1, 1, tzinfo=UTC), 480)]
