"""The SMS gateway boundary: what followup/ may ask of a provider, the errors and delivery states, and the Twilio
webhook handling both gateways share (core/sms_gateways.py has the gateways themselves)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

SIGNATURE_HEADER = "X-Twilio-Signature"
TWIML_MEDIA_TYPE = "text/xml"
# Public on purpose: local tools sign development webhooks with it; it guards nothing real.
DEVELOPMENT_AUTH_TOKEN = "development-sms-token"  # = core.settings dev_sms_token default
DEVELOPMENT_FROM_NUMBER = "+15005550006"
# Twilio reassembles inbound texts up to 1,600 characters; anything longer did not come from a handset.
MAX_INBOUND_BODY = 1600
OPTED_OUT_CODE = 21610


class DeliveryState(StrEnum):
    """Provider-neutral life of an outbound message; providers map their own words onto these."""

    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"  # Twilio's failed, undelivered and canceled alike: the text did not arrive
    unknown = "unknown"  # a status added by the provider after this code was written


class OptOutType(StrEnum):
    stop = "stop"
    start = "start"
    help = "help"


class ErrorKind(StrEnum):
    permanent = "permanent"
    temporary = "temporary"


class SmsError(Exception):
    """Base of the SMS layer's errors."""


class MalformedWebhook(SmsError):
    def __init__(self, *, field_name: str, problem: str = "missing") -> None:
        super().__init__(f"webhook field {field_name} is {problem}")
        self.field_name = field_name


class SmsSendError(SmsError):
    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class PermanentSendError(SmsSendError):
    """Retrying the same message to the same number cannot succeed (bad number, opted out, blocked)."""

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None,
                 opted_out: bool = False) -> None:
        super().__init__(message, code=code, http_status=http_status)
        self.opted_out = opted_out


class TemporarySendError(SmsSendError):
    """Worth retrying later. `maybe_sent` is True when the provider may already have accepted the
    message (the request went out but the answer was lost), so a retry can deliver it twice."""

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None,
                 maybe_sent: bool = False) -> None:
        super().__init__(message, code=code, http_status=http_status)
        self.maybe_sent = maybe_sent


@dataclass(frozen=True, kw_only=True)
class SendResult:
    provider: str
    provider_message_id: str
    status: DeliveryState
    num_segments: int | None = None


@dataclass(frozen=True, kw_only=True)
class InboundSms:
    provider: str
    provider_message_id: str
    from_e164: str
    to: str
    body: str
    received_at: datetime
    opt_out_type: OptOutType | None = None
    num_media: int = 0
    # Every field as received, for the raw-request record; providers add fields without notice.
    raw: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, kw_only=True)
class DeliveryStatus:
    provider: str
    provider_message_id: str
    status: DeliveryState
    error_code: int | None = None
    raw_status: str = ""

    @property
    def error_kind(self) -> ErrorKind | None:
        if self.status is not DeliveryState.failed:
            return None
        return classify_error_code(self.error_code)


@runtime_checkable
class SmsGateway(Protocol):
    """All that followup/ knows of a provider, so a domestic Chinese provider can be added beside Twilio."""

    name: str
    # True when the webhook response itself carries the reply (Twilio TwiML); providers that only
    # acknowledge a push (e.g. Aliyun's {"code":0}) need the reply sent with send() instead.
    inline_replies: bool

    def send(self, *, to: str, body: str, status_callback_url: str | None,
             idempotency_key: str) -> SendResult: ...

    def fetch_status(self, *, provider_message_id: str) -> DeliveryStatus: ...

    def verify_inbound(self, *, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool: ...

    def parse_inbound(self, params: Mapping[str, str], *,
                      received_at: datetime | None = None) -> InboundSms: ...

    def parse_status_callback(self, params: Mapping[str, str]) -> DeliveryStatus: ...

    def reply_document(self, text: str | None) -> tuple[str, str]: ...


# Twilio codes where the number, the consent or the content is at fault: resending cannot help.
_PERMANENT_CODES = frozenset({
    21211,  # invalid 'To' number
    21408,  # sending to this region is not enabled
    21606,  # 'From' number cannot send SMS
    21610,  # recipient replied STOP
    21612,  # Twilio cannot route to this number
    21614,  # 'To' is not a mobile number
    21617,  # body longer than 1,600 characters
    30004,  # message blocked
    30005,  # unknown or inactive handset
    30006,  # landline or unreachable carrier
    30007,  # filtered as spam by the carrier
})
# Codes that pass: load, carrier hiccups, handset off. 20003 (bad credentials) is here because a
# misconfigured account must not mark every patient's message as undeliverable for good.
_TEMPORARY_CODES = frozenset({20003, 20429, 20500, 20503, 30001, 30003, 30008, 30009, 30017})


def classify_error_code(code: int | None, *, http_status: int | None = None) -> ErrorKind:
    """Whether a provider error is worth a retry; unknown delivery failures count as permanent so a
    message is never resent blindly, and staff see it instead."""
    if code in _TEMPORARY_CODES:
        return ErrorKind.temporary
    if code in _PERMANENT_CODES:
        return ErrorKind.permanent
    if http_status is not None and (http_status == 429 or http_status >= 500):
        return ErrorKind.temporary
    return ErrorKind.permanent


def send_error(message: str, *, code: int | None, http_status: int | None = None,
               maybe_sent: bool = False) -> SmsSendError:
    """The exception a provider error maps to, for any gateway that has a code and an HTTP status."""
    if classify_error_code(code, http_status=http_status) is ErrorKind.temporary:
        return TemporarySendError(message, code=code, http_status=http_status, maybe_sent=maybe_sent)
    return PermanentSendError(message, code=code, http_status=http_status, opted_out=code == OPTED_OUT_CODE)


TWILIO_STATES = {
    "accepted": DeliveryState.queued, "scheduled": DeliveryState.queued,
    "queued": DeliveryState.queued, "sending": DeliveryState.queued,
    "sent": DeliveryState.sent, "delivered": DeliveryState.delivered, "read": DeliveryState.delivered,
    "failed": DeliveryState.failed, "undelivered": DeliveryState.failed, "canceled": DeliveryState.failed,
}


_OPT_OUT_TYPES = {t.value: t for t in OptOutType}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Framework header maps are case-insensitive, plain dicts from tests and tools are not.
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def _required(params: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = (params.get(name) or "").strip()
        if value:
            return value
    raise MalformedWebhook(field_name=names[0])


def _optional_int(params: Mapping[str, str], name: str) -> int | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise MalformedWebhook(field_name=name, problem="not a number")
    return int(value)


class TwilioWebhooks:
    """Webhook side shared by the Twilio and development gateways: both speak Twilio's forms and TwiML."""

    name: str
    inline_replies = True

    def __init__(self, *, auth_tokens: list[str], account_sid: str | None) -> None:
        self._validators = [RequestValidator(token) for token in auth_tokens if token]
        self._account_sid = account_sid

    def verify_inbound(self, *, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        """`url` must be the public URL Twilio called (CARELOOP_PUBLIC_URL + path + query), never one
        rebuilt from the Host header, which a proxy rewrites."""
        signature = _header(headers, SIGNATURE_HEADER)
        if not signature:
            return False
        sender_account = params.get("AccountSid")
        if self._account_sid and sender_account and sender_account != self._account_sid:
            return False
        return any(validator.validate(url, params, signature) for validator in self._validators)

    def parse_inbound(self, params: Mapping[str, str], *, received_at: datetime | None = None) -> InboundSms:
        body = params.get("Body") or ""
        if len(body) > MAX_INBOUND_BODY:
            raise MalformedWebhook(field_name="Body", problem="too long")
        opt_out = (params.get("OptOutType") or "").strip().lower()
        return InboundSms(
            provider=self.name,
            provider_message_id=_required(params, "MessageSid", "SmsSid"),
            from_e164=_required(params, "From").replace(" ", ""),
            to=(params.get("To") or "").strip(),
            body=body,
            # Twilio's webhook carries no timestamp; arrival time is the best there is.
            received_at=received_at or datetime.now(UTC),
            opt_out_type=_OPT_OUT_TYPES.get(opt_out),
            num_media=_optional_int(params, "NumMedia") or 0,
            raw=dict(params),
        )

    def parse_status_callback(self, params: Mapping[str, str]) -> DeliveryStatus:
        raw_status = _required(params, "MessageStatus", "SmsStatus").lower()
        return DeliveryStatus(
            provider=self.name,
            provider_message_id=_required(params, "MessageSid", "SmsSid"),
            status=TWILIO_STATES.get(raw_status, DeliveryState.unknown),
            error_code=_optional_int(params, "ErrorCode"),
            raw_status=raw_status,
        )

    def reply_document(self, text: str | None) -> tuple[str, str]:
        # An empty <Message> is Twilio error 14103, so no text means an empty <Response/>.
        response = MessagingResponse()
        if text:
            response.message(text)
        return str(response), TWIML_MEDIA_TYPE
