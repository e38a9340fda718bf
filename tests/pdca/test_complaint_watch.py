"""A category's monthly complaint rate watched on a u chart: an upward signal offers the committee an RCA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.models import EventRecord
from feedback.enums import Category, SuggestionTrigger
from feedback.models import RcaSuggestion
from feedback.policy import get_policy
from pdca.complaint_watch import rising_months, watch_clinic
from tests.factories import login_staff, make_clinic, make_patient, make_staff
from tests.feedback.feedback_builders import make_item

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
STEADY = [2, 1, 2, 3, 2, 1, 2, 2, 3, 1, 2, 2]


def test_a_month_far_above_the_baseline_is_a_rising_signal():
    counts = [*STEADY, 2, 12]
    assert rising_months(counts=counts, patients=[1000] * len(counts)) == [len(counts) - 1]


def test_the_last_complete_month_is_judged_as_well_as_the_month_so_far():
    counts = [*STEADY, 12, 1]
    assert rising_months(counts=counts, patients=[1000] * len(counts)) == [len(counts) - 2]


def test_steady_or_falling_rates_offer_nothing():
    assert rising_months(counts=[*STEADY, 2, 3], patients=[1000] * 14) == []
    assert rising_months(counts=[*[9] * 12, 0, 0], patients=[1000] * 14) == []


def test_too_little_history_offers_nothing():
    assert rising_months(counts=[1, 2, 1, 12], patients=[1000] * 4) == []
    # months without registered patients are not history
    assert rising_months(counts=[*STEADY, 2, 12], patients=[0] * 8 + [1000] * 6) == []


def test_a_single_item_above_a_zero_baseline_is_not_called_a_rise():
    assert rising_months(counts=[0] * 12 + [0, 1], patients=[1000] * 14) == []


def _populate(session, clinic, spike_category=Category.billing, spike=9):
    for _ in range(30):
        make_patient(session, clinic).created_at = datetime(2024, 1, 1, tzinfo=UTC)
    items = []
    month = datetime(2025, 9, 15, 4, 0, tzinfo=UTC)
    for count in STEADY + [2]:  # Sept 2025 … Sept 2026, then the spike in October
        for k in range(count):
            items.append((month + timedelta(hours=k), spike_category))
        month = (month + timedelta(days=32)).replace(day=15)
    for k in range(spike):
        items.append((datetime(2026, 10, 3 + k, 3, 0, tzinfo=UTC), spike_category))
    made = []
    for received_at, category in items:
        item = make_item(session, clinic, category=category)
        shift = received_at - item.received_at
        item.received_at = received_at
        item.ack_due_at += shift
        item.resolve_due_at += shift
        made.append(item)
    session.flush()
    return made


def test_a_signal_offers_one_suggestion_with_the_months_items(session):
    clinic = make_clinic(session)
    get_policy(session=session, clinic=clinic).rca_threshold = 50  # keep the count rule out of this test
    items = _populate(session, clinic)
    october = [i.id for i in items if i.received_at.month == 10 and i.received_at.year == 2026]

    made = watch_clinic(session=session, clinic=clinic, now=NOW)

    assert len(made) == 1
    suggestion = made[0]
    assert suggestion.trigger == SuggestionTrigger.spc_signal
    assert suggestion.category == Category.billing
    assert sorted(suggestion.item_ids) == sorted(october)
    event = session.scalars(select(EventRecord).where(EventRecord.name == "feedback.rca_suggested")).one()
    assert event.payload["trigger"] == "spc_signal"
    # the daily watch runs again: the same category and month are not offered twice
    assert watch_clinic(session=session, clinic=clinic, now=NOW + timedelta(days=1)) == []
    assert len(session.scalars(select(RcaSuggestion)).all()) == 1


def test_an_open_count_cluster_takes_the_months_items_instead_of_a_second_line(session):
    clinic = make_clinic(session)
    get_policy(session=session, clinic=clinic).rca_threshold = 50
    items = _populate(session, clinic)
    spike = [i for i in items if i.received_at >= datetime(2026, 10, 1, tzinfo=UTC)]
    cluster = RcaSuggestion(clinic_id=clinic.id, category=Category.billing, cluster_key=f"billing:{spike[0].id}",
                            item_ids=[i.id for i in spike[:3]], threshold=3, window_days=30,
                            first_received_at=spike[0].received_at, last_received_at=spike[2].received_at)
    session.add(cluster)
    session.flush()

    assert watch_clinic(session=session, clinic=clinic, now=NOW) == []

    assert session.scalars(select(RcaSuggestion)).all() == [cluster]
    assert sorted(cluster.item_ids) == sorted(i.id for i in spike)


def test_the_inbox_says_why_the_signal_suggestion_was_made(session, client):
    clinic = make_clinic(session)
    make_staff(session, clinic, role="committee", username="qc", language="en")
    get_policy(session=session, clinic=clinic).rca_threshold = 50
    _populate(session, clinic)
    watch_clinic(session=session, clinic=clinic, now=NOW)
    session.commit()

    login_staff(client, "qc")
    page = client.get("/feedback").text
    assert "shows a signal on its control chart" in page
    assert "Open a root-cause analysis" in page
