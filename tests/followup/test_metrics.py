"""Follow-up indicators computed in SQL, against hand-counted fixtures, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from followup.dates import Granularity, Period, periods_between
from followup.enums import MeterFlag, ReadingKind
from followup.metrics import (
    bp_controlled,
    callbacks_closed_on_time,
    glucose_controlled,
    indicator_table,
    median_minutes_to_first_attempt,
    reached_rate,
    return_to_care,
)
from tests.factories import make_clinic, make_patient, make_staff
from tests.followup.quality_builders import add_attempt, add_callback, add_reading

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=SHANGHAI)
MARCH, APRIL, MAY = (Period(date(2026, m, 1), date(2026, m + 1, 1)) for m in (3, 4, 5))
SPRING = periods_between(date(2026, 3, 1), date(2026, 5, 1), Granularity.month)


def local(y: int, m: int, d: int, h: int = 9, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=SHANGHAI)


def pairs(points):
    return [(p.numerator, p.denominator) for p in points]


@pytest.fixture
def clinic(session):
    return make_clinic(session, timezone="Asia/Shanghai")


def registered(session, clinic, when, **overrides):
    patient = make_patient(session, clinic, **overrides)
    patient.created_at = when
    session.flush()
    return patient


def test_spring_periods_are_the_three_calendar_months():
    assert SPRING == [MARCH, APRIL, MAY]


def test_closed_on_time_counts_callbacks_due_in_the_period_whose_due_time_passed(session, clinic):
    patient = make_patient(session, clinic)
    add_callback(session, patient, opened_at=local(2026, 5, 4), due_at=local(2026, 5, 5),
                 closed_at=local(2026, 5, 4), outcome="reached")
    add_callback(session, patient, opened_at=local(2026, 5, 5), due_at=local(2026, 5, 6),
                 closed_at=local(2026, 5, 7), outcome="not_reached")
    add_callback(session, patient, opened_at=local(2026, 5, 6), due_at=local(2026, 5, 7), rule_code="CN-HTN-01")
    add_callback(session, patient, opened_at=local(2026, 5, 19), due_at=local(2026, 5, 25), rule_code="CN-DM-03")
    add_callback(session, patient, opened_at=local(2026, 4, 8), due_at=local(2026, 4, 10),
                 closed_at=local(2026, 4, 9), outcome="reached")
    # 00:30 on 1 May in Shanghai is still 30 April in UTC: the local month decides.
    add_callback(session, patient, opened_at=local(2026, 4, 30, 20), due_at=local(2026, 5, 1, 0, 30),
                 closed_at=local(2026, 4, 30, 22), outcome="reached")
    add_callback(session, patient, opened_at=local(2026, 4, 30, 20), due_at=local(2026, 4, 30, 23, 30),
                 closed_at=local(2026, 5, 2), outcome="reached")
    add_callback(session, make_patient(session, make_clinic(session)), opened_at=local(2026, 5, 4),
                 due_at=local(2026, 5, 5))
    session.commit()
    points = callbacks_closed_on_time(session=session, clinic=clinic, periods=SPRING, now=NOW)
    assert pairs(points) == [(0, 0), (1, 2), (2, 4)]
    assert points[1].value == 0.5 and points[0].value is None


def test_reached_rate_counts_callbacks_closed_in_the_period(session, clinic):
    patient = make_patient(session, clinic)
    for day, outcome in ((3, "reached"), (4, "not_reached"), (5, "reached"), (6, "reached")):
        add_callback(session, patient, opened_at=local(2026, 5, day - 1), due_at=local(2026, 5, day + 1),
                     closed_at=local(2026, 5, day), outcome=outcome)
    add_callback(session, patient, opened_at=local(2026, 4, 2), due_at=local(2026, 4, 3),
                 closed_at=local(2026, 4, 2), outcome="not_reached")
    add_callback(session, patient, opened_at=local(2026, 5, 10), due_at=local(2026, 5, 11))  # open: not counted
    session.commit()
    assert pairs(reached_rate(session=session, clinic=clinic, periods=SPRING, now=NOW)) == [(0, 0), (0, 1), (3, 4)]


def test_median_minutes_to_first_attempt_uses_each_callbacks_first_attempt(session, clinic):
    patient = make_patient(session, clinic)
    for day, minutes in ((2, 10), (3, 70), (4, 30), (5, 50)):
        opened = local(2026, 5, day)
        callback = add_callback(session, patient, opened_at=opened, due_at=opened + timedelta(days=1),
                                rule_code=f"R{day}")
        add_attempt(session, callback, opened + timedelta(minutes=minutes), outcome="no_answer")
        add_attempt(session, callback, opened + timedelta(minutes=minutes + 600))  # a later attempt is ignored
    april = add_callback(session, patient, opened_at=local(2026, 4, 9), due_at=local(2026, 4, 10))
    add_attempt(session, april, local(2026, 4, 9) + timedelta(minutes=20), outcome="busy")
    add_callback(session, patient, opened_at=local(2026, 5, 9), due_at=local(2026, 5, 10), rule_code="X")  # no attempt
    session.commit()
    points = median_minutes_to_first_attempt(session=session, clinic=clinic, periods=SPRING, now=NOW)
    assert [(p.count, p.value) for p in points] == [(0, None), (1, pytest.approx(20)), (4, pytest.approx(40))]


def test_median_of_an_odd_number_of_callbacks_is_the_middle_one(session, clinic):
    patient = make_patient(session, clinic)
    for day, minutes in ((2, 5), (3, 90), (4, 15)):
        callback = add_callback(session, patient, opened_at=local(2026, 5, day), due_at=local(2026, 5, day + 1),
                                rule_code=f"R{day}")
        add_attempt(session, callback, local(2026, 5, day) + timedelta(minutes=minutes))
    session.commit()
    points = median_minutes_to_first_attempt(session=session, clinic=clinic, periods=[MAY], now=NOW)
    assert (points[0].count, points[0].value) == (3, pytest.approx(15))


def test_return_to_care_counts_readings_within_15_days_after_a_reached_call(session, clinic):
    patient = make_patient(session, clinic)
    other = make_patient(session, clinic)
    callback = add_callback(session, patient, opened_at=local(2026, 3, 30), due_at=local(2026, 4, 1))
    add_attempt(session, callback, local(2026, 4, 1))
    add_reading(session, patient, local(2026, 4, 10), value="6.0")  # 9 days later: returned
    second = add_callback(session, other, opened_at=local(2026, 4, 4), due_at=local(2026, 4, 6))
    add_attempt(session, second, local(2026, 4, 5))
    add_attempt(session, second, local(2026, 4, 4), outcome="no_answer")  # not a reached call
    add_reading(session, other, local(2026, 4, 21), value="6.0")  # 16 days later: too late
    add_reading(session, other, local(2026, 4, 3), value="6.0")  # before the call: does not count
    third = add_callback(session, other, opened_at=local(2026, 4, 30), due_at=local(2026, 5, 2), rule_code="X")
    add_attempt(session, third, local(2026, 5, 1))
    add_reading(session, other, local(2026, 5, 3), kind=ReadingKind.blood_pressure, bp=(130, 80))
    fourth = add_callback(session, patient, opened_at=local(2026, 5, 9), due_at=local(2026, 5, 11), rule_code="Y")
    add_attempt(session, fourth, local(2026, 5, 10))  # its 15 days have not passed on 20 May: left out
    session.commit()
    points = return_to_care(session=session, clinic=clinic, periods=SPRING, now=NOW)
    assert pairs(points) == [(0, 0), (1, 2), (1, 1)]


def test_callback_indicators_for_one_doctor_follow_the_assignee_then_the_family_doctor(session, clinic):
    wang = make_staff(session, clinic, role="doctor")
    li = make_staff(session, clinic, role="doctor")
    wangs_patient = make_patient(session, clinic, family_doctor_id=wang.id)
    add_callback(session, wangs_patient, opened_at=local(2026, 5, 2), due_at=local(2026, 5, 3),
                 closed_at=local(2026, 5, 2), outcome="reached")
    add_callback(session, wangs_patient, opened_at=local(2026, 5, 3), due_at=local(2026, 5, 4),
                 closed_at=local(2026, 5, 5), outcome="reached", assigned_to=li.id, rule_code="X")
    session.commit()
    for doctor, expected in ((wang.id, [(1, 1)]), (li.id, [(0, 1)]), (None, [(1, 2)])):
        points = callbacks_closed_on_time(session=session, clinic=clinic, periods=[MAY], doctor_id=doctor, now=NOW)
        assert pairs(points) == expected


def test_bp_controlled_follows_simples_definition(session, clinic):
    dec = local(2025, 12, 1)
    controlled = registered(session, clinic, dec, programmes=["hypertension"])
    add_reading(session, controlled, local(2026, 4, 1), bp=(150, 95))
    add_reading(session, controlled, local(2026, 5, 10), bp=(130, 80))
    at_140 = registered(session, clinic, dec, programmes=["hypertension"])
    add_reading(session, at_140, local(2026, 4, 2), bp=(120, 70))
    add_reading(session, at_140, local(2026, 5, 12), bp=(140, 85))
    no_recent_bp = registered(session, clinic, dec, programmes=["hypertension"])
    add_reading(session, no_recent_bp, local(2026, 2, 1), bp=(120, 70))
    too_new = registered(session, clinic, local(2026, 3, 15), programmes=["hypertension"])
    add_reading(session, too_new, local(2026, 5, 1), bp=(120, 70))
    lost = registered(session, clinic, local(2024, 1, 1), programmes=["hypertension"])
    add_reading(session, lost, local(2025, 1, 1), bp=(120, 70))
    old_but_seen = registered(session, clinic, local(2024, 1, 1), programmes=["hypertension"])
    add_reading(session, old_but_seen, local(2026, 4, 20), bp=(135, 85))
    diabetes_only = registered(session, clinic, dec, programmes=["diabetes"])
    add_reading(session, diabetes_only, local(2026, 5, 1), bp=(120, 70))
    inactive = registered(session, clinic, dec, programmes=["hypertension"])
    inactive.active = False
    add_reading(session, inactive, local(2026, 5, 1), bp=(120, 70))
    session.commit()
    points = bp_controlled(session=session, clinic=clinic, periods=[APRIL, MAY], now=NOW)
    # April: window Feb–Apr (at_140 120/70, no_recent_bp 120/70, old_but_seen 135/85 controlled; controlled's
    # 150/95 not); May: window Mar–May (controlled 130/80 and old_but_seen; at_140 and no_recent_bp not).
    assert pairs(points) == [(3, 4), (2, 4)]


def test_a_reached_call_keeps_a_patient_without_readings_out_of_lost_to_follow_up(session, clinic):
    patient = registered(session, clinic, local(2024, 1, 1), programmes=["hypertension"])
    add_callback(session, patient, opened_at=local(2026, 1, 5), due_at=local(2026, 1, 6),
                 closed_at=local(2026, 1, 5), outcome="reached")
    session.commit()
    assert pairs(bp_controlled(session=session, clinic=clinic, periods=[MAY], now=NOW)) == [(0, 1)]


def test_glucose_controlled_reads_the_latest_fasting_value_in_the_unit_sent(session, clinic):
    dec = local(2025, 12, 1)
    cases = [("6.9", "mmol/L", None), ("7.0", "mmol/L", None), ("125", "mg/dL", None), ("126", "mg/dL", None),
             (None, "mmol/L", MeterFlag.hi)]
    for value, unit, flag in cases:
        patient = registered(session, clinic, dec, programmes=["diabetes"])
        add_reading(session, patient, local(2026, 4, 1), value="5.0")  # older and lower: not the latest
        add_reading(session, patient, local(2026, 5, 2), value=value, unit=unit, flag=flag)
    random_after = registered(session, clinic, dec, programmes=["diabetes"])
    add_reading(session, random_after, local(2026, 5, 1), value="8.0")
    add_reading(session, random_after, local(2026, 5, 3), value="5.0", context=None)  # not fasting: ignored
    session.commit()
    assert pairs(glucose_controlled(session=session, clinic=clinic, periods=[MAY], now=NOW)) == [(2, 6)]


def test_control_indicators_for_one_doctor_count_only_their_panel(session, clinic):
    doctor = make_staff(session, clinic, role="doctor")
    mine = registered(session, clinic, local(2025, 12, 1), programmes=["diabetes"], family_doctor_id=doctor.id)
    add_reading(session, mine, local(2026, 5, 2), value="6.0")
    theirs = registered(session, clinic, local(2025, 12, 1), programmes=["diabetes"])
    add_reading(session, theirs, local(2026, 5, 2), value="9.0")
    session.commit()
    assert pairs(glucose_controlled(session=session, clinic=clinic, periods=[MAY], doctor_id=doctor.id,
                                    now=NOW)) == [(1, 1)]


def test_weekly_buckets_start_on_monday_in_local_time(session, clinic):
    patient = make_patient(session, clinic)
    # Monday 11 May 2026 00:30 in Shanghai is Sunday 10 May in UTC.
    add_callback(session, patient, opened_at=local(2026, 5, 10), due_at=local(2026, 5, 11, 0, 30),
                 closed_at=local(2026, 5, 10, 23), outcome="reached")
    session.commit()
    weeks = periods_between(date(2026, 5, 4), date(2026, 5, 11), Granularity.week)
    assert [w.start for w in weeks] == [date(2026, 5, 4), date(2026, 5, 11)]
    assert pairs(callbacks_closed_on_time(session=session, clinic=clinic, periods=weeks, now=NOW)) == [(0, 0), (1, 1)]


def test_buckets_follow_daylight_saving_time_in_the_clinics_zone(session):
    chicago = ZoneInfo("America/Chicago")
    clinic = make_clinic(session, timezone="America/Chicago", profile="us", language="en")
    patient = make_patient(session, clinic, phone="+13125550177", language="en")
    # 31 March 2026 23:30 CDT (UTC-5) is 1 April 04:30 UTC: still March locally.
    due = datetime(2026, 3, 31, 23, 30, tzinfo=chicago)
    add_callback(session, patient, opened_at=due - timedelta(hours=2), due_at=due, closed_at=due - timedelta(hours=1),
                 outcome="reached")
    session.commit()
    now = datetime(2026, 5, 20, 12, tzinfo=UTC)
    assert pairs(callbacks_closed_on_time(session=session, clinic=clinic, periods=SPRING, now=now)) == [
        (1, 1), (0, 0), (0, 0)]


def test_indicator_table_lists_every_month_newest_first(session, clinic):
    rows = indicator_table(session=session, clinic=clinic, count=12, now=NOW)
    assert len(rows) == 12
    assert rows[0].period == MAY and rows[-1].period.start == date(2025, 6, 1)
    assert rows[0].bp_controlled.denominator == 0 and rows[0].first_attempt.value is None


def test_indicators_page_shows_a_row_per_month_with_counts(client, session, clinic):
    from tests.factories import login_staff

    make_staff(session, clinic, role="doctor", username="dr-indicators")
    patient = make_patient(session, clinic)
    opened = datetime.now(UTC) - timedelta(days=3)
    add_callback(session, patient, opened_at=opened, due_at=opened + timedelta(hours=1),
                 closed_at=opened + timedelta(minutes=30), outcome="reached")
    session.commit()
    login_staff(client, "dr-indicators")
    response = client.get("/followups/indicators")
    assert response.status_code == 200
    assert response.text.count('<td data-label="Period"') == 12
    assert "100%" in response.text and "1/1" in response.text
    weekly = client.get("/followups/indicators?granularity=week").text
    assert weekly.count('<td data-label="Period"') == 13 and "Week of" in weekly
