"""The committee's measures: complaint rate per 1,000 patients and on-time shares, per local month and category."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from feedback.enums import Category, FeedbackKind
from feedback.metrics import month_starts, monthly_measures
from tests.factories import make_clinic, make_patient
from tests.feedback.feedback_builders import make_item

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


def _item(session, clinic, received_at, **overrides):
    item = make_item(session, clinic, **overrides)
    shift = received_at - item.received_at
    item.received_at = received_at
    item.ack_due_at += shift
    item.resolve_due_at += shift
    session.flush()
    return item


def test_month_starts_run_back_over_the_year_boundary():
    assert month_starts(today=date(2026, 2, 14), months=3) == [date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]


def test_rate_per_thousand_patients_and_on_time_shares(session):
    clinic = make_clinic(session)
    for _ in range(4):
        patient = make_patient(session, clinic)
        patient.created_at = datetime(2026, 1, 1, tzinfo=UTC)
    on_time = _item(session, clinic, NOW - timedelta(days=10))
    on_time.acknowledged_at = on_time.received_at + timedelta(hours=2)
    on_time.resolved_at = on_time.resolve_due_at + timedelta(hours=1)  # resolved, but late
    _item(session, clinic, NOW - timedelta(days=9), category=Category.billing)  # acknowledgement missed
    _item(session, clinic, NOW - timedelta(minutes=5), kind=FeedbackKind.concern)  # not due yet
    session.flush()
    rows = monthly_measures(session=session, clinic=clinic, months=2, now=NOW)
    november = next(r for r in rows if r.category is None and r.month == date(2026, 11, 1))
    assert (november.items, november.complaints, november.patients) == (3, 2, 4)
    assert november.complaint_rate == 500.0
    assert (november.ack_measured, november.ack_on_time, november.ack_on_time_pct) == (2, 1, 50.0)
    assert (november.resolve_measured, november.resolve_on_time, november.resolve_on_time_pct) == (2, 0, 0.0)
    waiting = next(r for r in rows if r.category == Category.waiting_time and r.month == date(2026, 11, 1))
    assert (waiting.items, waiting.complaints, waiting.ack_on_time_pct) == (2, 1, 100.0)
    october = next(r for r in rows if r.category is None and r.month == date(2026, 10, 1))
    assert october.items == 0 and october.complaint_rate == 0.0 and october.ack_on_time_pct is None


def test_months_follow_the_clinic_time_zone(session):
    clinic = make_clinic(session)  # Asia/Shanghai
    make_patient(session, clinic).created_at = datetime(2026, 1, 1, tzinfo=UTC)
    # 31 October 17:00 UTC is already 1 November 01:00 in Shanghai.
    _item(session, clinic, datetime(2026, 10, 31, 17, 0, tzinfo=UTC))
    rows = monthly_measures(session=session, clinic=clinic, months=2, now=NOW)
    totals = {r.month: r.items for r in rows if r.category is None}
    assert totals == {date(2026, 10, 1): 0, date(2026, 11, 1): 1}
