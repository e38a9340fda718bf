"""Outbound SMS through the outbox: queue in the caller's transaction, send from a worker, track delivery.

A send that fails for good (invalid number, opted out at the carrier) is never retried and is announced
as the `sms.permanent_failure` event so the patient's record can be marked; a temporary failure retries
with backoff. Identical texts to one number inside the throttle window are suppressed, not sent twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core.db import utcnow
from core.events import record_event
from core.jobs import enqueue, outbox_actor, runtime
from core.models import SmsDirection, SmsMessage, SmsStatus
from core.sms import PermanentSendError, SmsGateway, TemporarySendError

log = logging.getLogger(__name__)

THROTTLE_WINDOW = timedelta(minutes=10)
# Provider clocks differ from ours; well inside the throttle window, so an older identical text never matches.
LOOKUP_MARGIN = timedelta(minutes=2)
_gateway: dict[str, SmsGateway] = {}


def set_gateway(gateway: SmsGateway) -> None:
    _gateway["current"] = gateway


def current_gateway() -> SmsGateway:
    gateway = _gateway.get("current")
    if gateway is None:
        raise RuntimeError("no SMS gateway configured")
    return gateway


def queue_sms(
    *, session: Session, phone: str, body: str, purpose: str, clinic_id: int | None = None,
    patient_id: int | None = None, throttle: bool = True,
) -> SmsMessage:
    """Record an outbound SMS and the job that will send it, both in the caller's transaction."""
    status = SmsStatus.queued
    if throttle:
        recent = session.scalar(
            select(SmsMessage.id).where(
                SmsMessage.direction == SmsDirection.outbound, SmsMessage.phone == phone,
                SmsMessage.body == body, SmsMessage.created_at > utcnow() - THROTTLE_WINDOW,
                SmsMessage.status != SmsStatus.suppressed,
            ).limit(1)
        )
        if recent is not None:
            status = SmsStatus.suppressed
    message = SmsMessage(
        direction=SmsDirection.outbound, provider=current_gateway().name, phone=phone, body=body,
        purpose=purpose, clinic_id=clinic_id, patient_id=patient_id, status=status,
        error_code="throttled" if status == SmsStatus.suppressed else "",
    )
    session.add(message)
    session.flush()
    if status == SmsStatus.queued:
        enqueue(session=session, actor_name="core.send_sms", payload={"message_id": message.id})
    return message


@outbox_actor("core.send_sms")
def send_sms(*, session: Session, message_id: int) -> None:
    message = session.get(SmsMessage, message_id)
    if message is None or message.status not in (SmsStatus.queued, SmsStatus.sending):
        return  # already sent (a redelivered job) or withdrawn
    gateway = current_gateway()
    if message.status == SmsStatus.sending and _record_earlier_send(gateway, message):
        return
    # Committed before the provider is asked: a worker killed mid-send (or a lost answer) leaves the row
    # 'sending', which tells the next attempt to look for the message at the provider before resending.
    message.status = SmsStatus.sending
    message.attempts += 1
    session.commit()
    settings = runtime.settings
    callback = f"{settings.public_url.rstrip('/')}/sms/twilio/status" if settings else None
    try:
        result = gateway.send(
            to=message.phone, body=message.body, status_callback_url=callback,
            idempotency_key=f"careloop-sms-{message.id}",
        )
    except PermanentSendError as exc:
        message.status = SmsStatus.failed
        message.error_code = str(exc.code or "")
        record_event(session=session, name="sms.permanent_failure", clinic_id=message.clinic_id,
                     payload={"message_id": message.id, "patient_id": message.patient_id, "phone": message.phone,
                              "code": str(exc.code or ""), "opted_out": exc.opted_out})
        return
    except TemporarySendError:
        raise  # the row stays 'sending' and the outbox retries with backoff, looking first
    _mark_sent(message, result.provider_message_id)


def _record_earlier_send(gateway: SmsGateway, message: SmsMessage) -> bool:
    """True when an earlier attempt's message is found at the provider (and recorded as sent).

    Gateways that cannot look messages up (the development one derives its id from the idempotency key,
    so resending is harmless) are simply sent to again."""
    find_sent = getattr(gateway, "find_sent", None)
    if find_sent is None:
        return False
    found = find_sent(to=message.phone, body=message.body, since=message.created_at - LOOKUP_MARGIN)
    if found is None:
        return False
    log.info("SMS %s had reached the provider before its worker stopped; not sending it again", message.id)
    _mark_sent(message, found.provider_message_id)
    return True


def _mark_sent(message: SmsMessage, provider_message_id: str) -> None:
    message.provider_message_id = provider_message_id
    message.status = SmsStatus.sent
    message.sent_at = utcnow()


def apply_delivery_status(*, session: Session, provider: str, provider_message_id: str, status: str,
                          error_code: str | None) -> SmsMessage | None:
    message = session.scalar(select(SmsMessage).where(
        SmsMessage.provider == provider, SmsMessage.provider_message_id == provider_message_id))
    if message is None:
        return None
    mapped: dict[str, Any] = {"delivered": SmsStatus.delivered, "undelivered": SmsStatus.undelivered,
                              "failed": SmsStatus.failed, "sent": SmsStatus.sent}
    new_status = mapped.get(status)
    # Callbacks can arrive out of order; never step back from a final state.
    if new_status is not None and message.status not in (SmsStatus.delivered, SmsStatus.failed):
        message.status = new_status
    if error_code:
        message.error_code = error_code
    session.flush()
    return message
