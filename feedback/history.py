"""The item's history rows: every change to a complaint or concern is written here, with who made it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core.security import Principal
from feedback.models import FeedbackEvent, FeedbackItem


def add_history(
    *, session: Session, item: FeedbackItem, kind: str, principal: Principal | None = None,
    actor_kind: str = "system", actor_name: str = "", from_status: str = "", to_status: str = "",
    note: str = "", detail: dict[str, Any] | None = None,
) -> FeedbackEvent:
    row = FeedbackEvent(
        item_id=item.id, kind=kind,
        actor_kind=principal.kind if principal else actor_kind,
        actor_id=principal.user_id if principal else None,
        actor_name=principal.name if principal else actor_name,
        from_status=str(from_status), to_status=str(to_status), note=note, detail=detail or {},
    )
    session.add(row)
    session.flush()
    return row


def history_of(*, session: Session, item_id: int) -> list[FeedbackEvent]:
    return list(session.scalars(select(FeedbackEvent).where(FeedbackEvent.item_id == item_id)
                                .order_by(FeedbackEvent.at, FeedbackEvent.id)))
