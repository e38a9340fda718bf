"""Jobs of the feedback domain: the event handlers that open items, and the SLA sweep every five minutes."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session

from core.db import unit_of_work
from core.events import on_event
from core.jobs import periodic_actor, runtime
from feedback.flows import open_from_sms as _open_from_sms
from feedback.flows import open_from_survey as _open_from_survey
from feedback.workflow import sweep_sla

log = logging.getLogger(__name__)


@on_event("sms.complaint_received", actor_name="feedback.open_from_sms")
def open_from_sms(*, session: Session, event_id: int, patient_id: int, clinic_id: int, sms_message_id: int,
                  body: str, **_: Any) -> None:
    _open_from_sms(session=session, patient_id=patient_id, clinic_id=clinic_id, sms_message_id=sms_message_id,
                   body=body)


@on_event("survey.low_score", actor_name="feedback.open_from_survey")
def open_from_survey(*, session: Session, event_id: int, response_id: int, clinic_id: int,
                     patient_id: int | None = None, template_code: str = "", question: str = "", score: Any = None,
                     comment: str | None = "", doctor_id: int | None = None, items: list[dict[str, Any]] | None = None,
                     language: str | None = None, callback_id: int | None = None, **_: Any) -> None:
    _open_from_survey(session=session, response_id=response_id, patient_id=patient_id, clinic_id=clinic_id,
                      template_code=template_code, question=question, score=score, comment=comment,
                      doctor_id=doctor_id, items=items, language=language, callback_id=callback_id)


@periodic_actor("feedback.sweep_sla_timers", "*/5 * * * *")
def sweep_sla_timers() -> None:
    with unit_of_work(runtime.engine) as session:
        counts = sweep_sla(session=session)
    if any(counts.values()):
        log.info("feedback SLA sweep: %s", counts)
