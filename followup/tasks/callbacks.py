"""Callback sweeps: escalate open callbacks whose due time passed without anyone completing them."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.db import unit_of_work, utcnow
from core.jobs import periodic_actor, runtime
from followup.callbacks import due_for_escalation, escalate_callback

log = logging.getLogger(__name__)


def escalate_overdue_callbacks(*, engine: Engine, now: datetime | None = None, limit: int = 200) -> int:
    """Escalate every overdue callback; returns how many this run escalated.

    Each callback is its own transaction and its own compare-and-set claim, so a failure on one does not
    hold back the others and two sweeps running at once never escalate a callback twice."""
    now = now or utcnow()
    with Session(engine) as session:
        candidates = due_for_escalation(session=session, now=now, limit=limit)
    escalated = 0
    for callback_id in candidates:
        try:
            with unit_of_work(engine) as session:
                if escalate_callback(session=session, callback_id=callback_id, reason="overdue", now=now):
                    escalated += 1
        except Exception:  # one bad row must not stop the sweep; the next run tries it again
            log.exception("could not escalate callback %s", callback_id)
    return escalated


@periodic_actor("followup.escalate_overdue_callbacks", "* * * * *")
def escalate_overdue_callbacks_every_minute() -> None:
    escalate_overdue_callbacks(engine=runtime.engine)
