"""Jobs of the surveys domain: the `callback.completed` subscriber, the dispatch sweep (send, remind,
expire) and the monthly panel sample. Actors open their own session and are idempotent."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from core.db import unit_of_work, utcnow
from core.events import on_event
from core.jobs import periodic_actor, runtime
from surveys.flows import dispatch_invitations, invite_after_callback, sample_all_panels
from surveys.invitations import send_invitation


@on_event("callback.completed", actor_name="surveys.invite_after_callback")
def invite_after_callback_job(*, session: Session, event_id: int, callback_id: int, patient_id: int,
                              clinic_id: int, outcome: str = "", closed_by: int | None = None,
                              **_: Any) -> None:
    invitation = invite_after_callback(session=session, callback_id=callback_id, patient_id=patient_id,
                                       clinic_id=clinic_id, outcome=outcome, closed_by=closed_by)
    # A clinic sending with no delay (inside its hours, so send_after is already now) should not make the patient
    # wait for the next five-minute sweep.
    if invitation is not None and invitation.send_after <= utcnow() and runtime.settings is not None:
        send_invitation(session=session, invitation=invitation, public_url=runtime.settings.public_url)


@periodic_actor("surveys.dispatch_invitations", "*/5 * * * *")
def dispatch_invitations_job() -> None:
    settings = runtime.settings
    assert settings is not None
    with unit_of_work(runtime.engine) as session:
        dispatch_invitations(session=session, public_url=settings.public_url)


@periodic_actor("surveys.sample_panels", "15 * * * *")
def sample_panels_job() -> None:
    # Hourly and idempotent (one sample run per clinic and month), so a missed hour or a restart is harmless.
    with unit_of_work(runtime.engine) as session:
        sample_all_panels(session=session)
