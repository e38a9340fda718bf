"""RCA jobs: the sweep that escalates missed deadlines (start, finish, actions), once each."""

from __future__ import annotations

from core.db import unit_of_work
from core.jobs import periodic_actor, runtime
from rca import escalation


@periodic_actor("rca.escalate_overdue", "*/10 * * * *")
def escalate_overdue() -> None:
    with unit_of_work(runtime.engine) as session:
        escalation.escalate_overdue(session=session)
