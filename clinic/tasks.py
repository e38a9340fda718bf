"""Jobs of the clinic domain: keep a patient's SMS state in step with what the carrier reports."""

from __future__ import annotations

from sqlmodel import Session

from clinic.models import Patient
from clinic.service import record_sms_opt_out
from core.events import on_event


@on_event("sms.permanent_failure", actor_name="clinic.mark_phone_after_failure")
def mark_phone_after_failure(*, session: Session, event_id: int, patient_id: int | None, opted_out: bool,
                             **_: object) -> None:
    """Stop texting a number the carrier refused; the callback queue shows the patient needs a phone call."""
    if patient_id is None:
        return
    patient = session.get(Patient, patient_id)
    if patient is None:
        return
    if opted_out:
        record_sms_opt_out(session=session, patient=patient, keyword="carrier-21610", channel="carrier")
    else:
        patient.phone_invalid = True
