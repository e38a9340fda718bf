"""The SMS gateways: Twilio (the real library, pointed at a local stand-in in tests) and the development
transport that keeps messages on the machine. The boundary they implement is core.sms."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from core.sms import (
    DEVELOPMENT_AUTH_TOKEN,
    DEVELOPMENT_FROM_NUMBER,
    TWILIO_STATES,
    DeliveryState,
    DeliveryStatus,
    SendResult,
    SmsGateway,
    TemporarySendError,
    TwilioWebhooks,
    send_error,
)


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


class TwilioGateway(TwilioWebhooks):
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
            status=TWILIO_STATES.get(message.status or "", DeliveryState.unknown),
            num_segments=int(message.num_segments) if message.num_segments else None,
        )

    def find_sent(self, *, to: str, body: str, since: datetime) -> SendResult | None:
        """The message with this text that this account sent to `to` since `since`, if Twilio has one: how a
        send whose answer was lost (worker killed, timeout) is recognised instead of being sent again."""
        with _twilio_errors("lookup"):
            recent = self._client.messages.list(to=to, limit=50)
        for message in recent:  # newest first
            created = message.date_created
            if message.body == body and (created is None or created >= since.replace(microsecond=0)):
                return SendResult(provider=self.name, provider_message_id=message.sid or "",
                                  status=TWILIO_STATES.get(message.status or "", DeliveryState.unknown))
        return None

    def fetch_status(self, *, provider_message_id: str) -> DeliveryStatus:
        """For reconciling messages whose status callback never came."""
        with _twilio_errors("status lookup"):
            message = self._client.messages(provider_message_id).fetch()
        raw_status = message.status or ""
        return DeliveryStatus(provider=self.name, provider_message_id=provider_message_id,
                              status=TWILIO_STATES.get(raw_status, DeliveryState.unknown),
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


class DevelopmentGateway(TwilioWebhooks):
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
