"""Domain events: how an upstream domain causes work downstream without importing it.

`record_event` writes the event and one outbox job per subscriber in the caller's transaction; the
subscribers run as actors after commit. Subscriptions are made by the downstream `tasks.py` modules,
which `core/app.py` and `core/worker.py` import on purpose.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from core.jobs import enqueue, outbox_actor
from core.models import EventRecord

_subscribers: dict[str, list[str]] = defaultdict(list)


def on_event(event_name: str, *, actor_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run `fn(*, session, event_id, **payload)` as actor `actor_name` whenever `event_name` is recorded."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        outbox_actor(actor_name)(fn)
        if actor_name not in _subscribers[event_name]:
            _subscribers[event_name].append(actor_name)
        return fn

    return decorate


def subscribers(event_name: str) -> list[str]:
    return list(_subscribers.get(event_name, ()))


def record_event(
    *, session: Session, name: str, payload: dict[str, Any], clinic_id: int | None = None
) -> EventRecord:
    record = EventRecord(name=name, payload=payload, clinic_id=clinic_id)
    session.add(record)
    session.flush()
    for actor_name in _subscribers.get(name, ()):
        enqueue(session=session, actor_name=actor_name, payload={"event_id": record.id, **payload},
                dedupe_key=f"event:{record.id}:{actor_name}")
    return record
