"""Common-problem detection: enough items of one category inside the window suggest a root-cause analysis.

A suggestion is made once per cluster. Later items of the same category that arrive while the cluster is still
live (within the window of its newest item) join it instead of making another suggestion; the committee sees one
line per problem, not one per complaint.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.db import utcnow
from core.errors import Conflict, NotFound
from core.events import record_event
from feedback.enums import Category, SuggestionStatus, SuggestionTrigger
from feedback.models import FeedbackItem, FeedbackPolicy, RcaSuggestion


def check_cluster(*, session: Session, item: FeedbackItem, policy: FeedbackPolicy,
                  now: datetime | None = None) -> RcaSuggestion | None:
    """Called for every new (or re-categorised) item. Returns a suggestion only when this item completes a new
    cluster: `rca_threshold` items of its category received in the last `rca_window_days`."""
    window = timedelta(days=policy.rca_window_days)
    since = max(now or utcnow(), item.received_at) - window
    if item.received_at < since:
        return None  # an old item re-categorised: it cannot start a cluster today
    live = _live_suggestion(session, item.clinic_id, item.category, since)
    if live is not None:
        _attach(live, item)
        session.flush()
        return None
    # No live cluster, so no item inside the window belongs to an earlier suggestion.
    candidates = list(session.scalars(
        select(FeedbackItem).where(FeedbackItem.clinic_id == item.clinic_id, FeedbackItem.category == item.category,
                                   FeedbackItem.received_at >= since)
        .order_by(FeedbackItem.received_at, FeedbackItem.id)))
    if item not in candidates:
        candidates.append(item)
    if len(candidates) < policy.rca_threshold:
        return None
    suggestion = RcaSuggestion(
        clinic_id=item.clinic_id, category=item.category, cluster_key=f"{item.category}:{candidates[0].id}",
        item_ids=[c.id for c in candidates], threshold=policy.rca_threshold, window_days=policy.rca_window_days,
        first_received_at=candidates[0].received_at, last_received_at=max(c.received_at for c in candidates),
    )
    try:
        with session.begin_nested():
            session.add(suggestion)
            session.flush()
    except IntegrityError:  # a concurrent item completed the same cluster first: join it
        existing = session.scalar(select(RcaSuggestion).where(
            RcaSuggestion.clinic_id == item.clinic_id, RcaSuggestion.cluster_key == suggestion.cluster_key))
        if existing is None:
            raise
        _attach(existing, item)
        session.flush()
        return None
    _announce(session, suggestion)
    return suggestion


def offer_rca_for_signal(*, session: Session, clinic_id: int, category: Category, period: str,
                         since: datetime, until: datetime) -> RcaSuggestion | None:
    """The category's monthly complaint rate shows a signal for `period` ("2026-11", received in [since, until)):
    offer the committee an analysis with that month's items attached, once per category and month.

    When a count cluster of the category is already open and live in that month, the committee already has a line
    for this problem: the month's items join it instead."""
    items = list(session.scalars(
        select(FeedbackItem).where(FeedbackItem.clinic_id == clinic_id, FeedbackItem.category == category,
                                   FeedbackItem.received_at >= since, FeedbackItem.received_at < until)
        .order_by(FeedbackItem.received_at, FeedbackItem.id)))
    if not items:
        return None
    cluster_key = f"{category}:spc:{period}"
    if session.scalar(select(RcaSuggestion.id).where(RcaSuggestion.clinic_id == clinic_id,
                                                     RcaSuggestion.cluster_key == cluster_key)) is not None:
        return None
    live = _live_suggestion(session, clinic_id, category, since)
    if live is not None and live.status == SuggestionStatus.open:
        for item in items:
            _attach(live, item)
        session.flush()
        return None
    suggestion = RcaSuggestion(
        clinic_id=clinic_id, category=category, cluster_key=cluster_key, item_ids=[i.id for i in items],
        threshold=len(items), window_days=max(1, (until - since).days), trigger=SuggestionTrigger.spc_signal,
        first_received_at=items[0].received_at, last_received_at=items[-1].received_at)
    try:
        with session.begin_nested():
            session.add(suggestion)
            session.flush()
    except IntegrityError:  # another run offered it first
        return None
    _announce(session, suggestion)
    return suggestion


def _announce(session: Session, suggestion: RcaSuggestion) -> None:
    record_event(session=session, name="feedback.rca_suggested", clinic_id=suggestion.clinic_id, payload={
        "suggestion_id": suggestion.id, "clinic_id": suggestion.clinic_id, "category": str(suggestion.category),
        "item_ids": list(suggestion.item_ids), "count": len(suggestion.item_ids),
        "window_days": suggestion.window_days, "trigger": str(suggestion.trigger)})


def _live_suggestion(session: Session, clinic_id: int, category: Category, since: datetime) -> RcaSuggestion | None:
    query = (select(RcaSuggestion).where(RcaSuggestion.clinic_id == clinic_id, RcaSuggestion.category == category,
                                         RcaSuggestion.last_received_at >= since)
             .order_by(RcaSuggestion.last_received_at.desc()).limit(1))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # two items joining one cluster must not lose each other
    return session.scalar(query)


def _attach(suggestion: RcaSuggestion, item: FeedbackItem) -> None:
    if item.id not in suggestion.item_ids:
        suggestion.item_ids = [*suggestion.item_ids, item.id]  # a new list, so the JSON column is saved
        suggestion.last_received_at = max(suggestion.last_received_at, item.received_at)


def open_suggestions(*, session: Session, clinic_id: int) -> list[RcaSuggestion]:
    return list(session.scalars(select(RcaSuggestion).where(
        RcaSuggestion.clinic_id == clinic_id, RcaSuggestion.status == SuggestionStatus.open)
        .order_by(RcaSuggestion.created_at.desc())))


def dismiss_suggestion(*, session: Session, clinic_id: int, suggestion_id: int, staff_id: int) -> RcaSuggestion:
    suggestion = session.get(RcaSuggestion, suggestion_id)
    if suggestion is None or suggestion.clinic_id != clinic_id:
        raise NotFound("Suggestion not found.")
    if suggestion.status != SuggestionStatus.open:
        raise Conflict("This suggestion has already been dealt with.")
    suggestion.status = SuggestionStatus.dismissed
    suggestion.decided_at = utcnow()
    suggestion.decided_by = staff_id
    session.flush()
    return suggestion
