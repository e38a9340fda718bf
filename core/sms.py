"""The SMS gateway boundary: what followup/ may ask of a provider, and the Twilio and development gateways."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from urllib3.exceptions import NewConnectionError

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


_TWILIO_STATES = {
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


class _TwilioWebhooks:
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
            status=_TWILIO_STATES.get(raw_status, DeliveryState.unknown),
            error_code=_optional_int(params, "ErrorCode"),
            raw_status=raw_status,
        )

    def reply_document(self, text: str | None) -> tuple[str, str]:
        # An empty <Message> is Twilio error 14103, so no text means an empty <Response/>.
        response = MessagingResponse()
        if text:
            response.message(text)
        return str(response), TWIML_MEDIA_TYPE


class _RedirectingHttpClient(TwilioHttpClient):
    """Sends the library's requests to `base_url` (a local stand-in) instead of *.twilio.com; the
    library's auth, form encoding, parsing and exceptions all still run."""

    def __init__(self, *, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._base = urlsplit(base_url)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        # Any host, not just api.twilio.com: TWILIO_REGION/TWILIO_EDGE in the environment rename it.
        if parts.hostname == "twilio.com" or (parts.hostname or "").endswith(".twilio.com"):
            path = self._base.path.rstrip("/") + parts.path
            url = urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


def _never_connected(exc: requests.RequestException) -> bool:
    """True when no connection was made, so the provider cannot have accepted the message."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _twilio_code(code: Any, status: int) -> int | None:
    # With no code in the body the library puts the HTTP status there; Twilio codes have five digits.
    return code if isinstance(code, int) and code >= 10000 and code != status else None


@contextmanager
def _twilio_errors(action: str) -> Iterator[None]:
    """Turns the library's and the network's exceptions into the two SmsSendError kinds."""
    try:
        yield
    except (TwilioRestException, TwilioServiceException) as exc:
        status = int(exc.status)
        code = _twilio_code(exc.code, status)
        # Twilio's own message names the number; keep it out of what lands in logs.
        raise send_error(f"Twilio {action} refused: HTTP {status}, code {code}", code=code,
                         http_status=status, maybe_sent=status >= 500) from exc
    except requests.RequestException as exc:
        raise TemporarySendError(f"Twilio {action} failed: {type(exc).__name__}",
                                 maybe_sent=not _never_connected(exc)) from exc
    except json.JSONDecodeError as exc:  # a 2xx that is not Twilio's JSON: some proxy answered
        raise TemporarySendError(f"Twilio {action} answer unreadable", maybe_sent=True) from exc


class TwilioGateway(_TwilioWebhooks):
    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, from_number: str, *,
                 api_base_url: str | None = None, timeout: float = 10,
                 previous_auth_token: str | None = None) -> None:
        # The previous token keeps webhooks valid while an auth-token rotation propagates.
        super().__init__(auth_tokens=[auth_token, previous_auth_token or ""], account_sid=account_sid)
        self.from_number = from_number
        http_client = (_RedirectingHttpClient(base_url=api_base_url, timeout=timeout) if api_base_url
                       else TwilioHttpClient(timeout=timeout))
        self._client = Client(account_sid, auth_token, http_client=http_client)

    def send(self, *, to: str, body: str, status_callback_url: str | None,
             idempotency_key: str) -> SendResult:
        """Twilio's Messages API takes no idempotency key, so `idempotency_key` is unused here: the
        caller's notification row (written before sending) is the guard, and `maybe_sent` on a
        TemporarySendError says when a retry might duplicate."""
        # A Messaging Service (MG…) is what Advanced Opt-Out and per-language STOP words need.
        sender = ({"messaging_service_sid": self.from_number} if self.from_number.startswith("MG")
                  else {"from_": self.from_number})
        with _twilio_errors("send"):
            message = self._client.messages.create(to=to, body=body, status_callback=status_callback_url,
                                                   **sender)
        return SendResult(
            provider=self.name,
            provider_message_id=message.sid or "",
            status=_TWILIO_STATES.get(message.status or "", DeliveryState.unknown),
            num_segments=int(message.num_segments) if message.num_segments else None,
        )

    def fetch_status(self, *, provider_message_id: str) -> DeliveryStatus:
        """For reconciling messages whose status callback never came."""
        with _twilio_errors("status lookup"):
            message = self._client.messages(provider_message_id).fetch()
        raw_status = message.status or ""
        return DeliveryStatus(provider=self.name, provider_message_id=provider_message_id,
                              status=_TWILIO_STATES.get(raw_status, DeliveryState.unknown),
                              error_code=message.error_code, raw_status=raw_status)


@dataclass(frozen=True, kw_only=True)
class SentSms:
    provider_message_id: str
    to: str
    body: str
    status_callback_url: str | None
    idempotency_key: str


# Twilio's documented test-credential 'To' numbers, so opt-out and bad-number paths can be tried locally.
_DEVELOPMENT_FAILURES = {
    "+15005550001": 21211,
    "+15005550002": 21612,
    "+15005550003": 21408,
    "+15005550004": 21610,
    "+15005550009": 21614,
}


class DevelopmentGateway(_TwilioWebhooks):
    """The embedded default: sends nothing (the caller's message rows are what staff look at) and
    accepts webhooks signed with the development token the way Twilio signs them."""

    name = "development"

    def __init__(self, *, auth_token: str = DEVELOPMENT_AUTH_TOKEN,
                 from_number: str = DEVELOPMENT_FROM_NUMBER, record_sent: bool = False) -> None:
        super().__init__(auth_tokens=[auth_token], account_sid=None)
        self.from_number = from_number
        self._record_sent = record_sent
        self.sent: list[SentSms] = []

    def send(self, *, to: str, body: str, status_callback_url: str | None,
             idempotency_key: str) -> SendResult:
        code = _DEVELOPMENT_FAILURES.get(to)
        if code is not None:
            raise send_error(f"development gateway: test number fails with code {code}", code=code,
                             http_status=400)
        # Derived from the key, so a retried send gets the same id with no state kept here.
        message_id = "DEV" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:31]
        if self._record_sent:
            self.sent.append(SentSms(provider_message_id=message_id, to=to, body=body,
                                     status_callback_url=status_callback_url,
                                     idempotency_key=idempotency_key))
        # No status callback will ever come, so report the final state at once.
        return SendResult(provider=self.name, provider_message_id=message_id, status=DeliveryState.sent)

    def fetch_status(self, *, provider_message_id: str) -> DeliveryStatus:
        return DeliveryStatus(provider=self.name, provider_message_id=provider_message_id,
                              status=DeliveryState.sent, raw_status="sent")


def gateway_from_settings(*, account_sid: str | None, auth_token: str | None, from_number: str | None,
                          api_base_url: str | None = None,
                          development_auth_token: str | None = None) -> SmsGateway:
    """Twilio when credentials are set, the development gateway when none are; half a configuration
    is an error, since falling back would silently stop patients' messages."""
    if account_sid and auth_token and from_number:
        return TwilioGateway(account_sid, auth_token, from_number, api_base_url=api_base_url)
    given = {"account_sid": account_sid, "auth_token": auth_token, "from_number": from_number}
    if any(given.values()):
        missing = ", ".join(name for name, value in given.items() if not value)
        raise ValueError(f"Twilio settings incomplete: {missing} not set")
    return DevelopmentGateway(auth_token=development_auth_token or DEVELOPMENT_AUTH_TOKEN)
