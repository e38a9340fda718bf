"""A local HTTP server speaking enough of Twilio's Messages REST API for tests to drive the real client."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

API_VERSION = "2010-04-01"
_CREATE = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>AC\w+)/Messages\.json$")
_LIST = _CREATE  # GET on the collection lists messages, newest first (Twilio's order)
_FETCH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>AC\w+)/Messages/(?P<sid>[SM]M\w+)\.json$")


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    method: str
    path: str
    auth: tuple[str, str] | None
    headers: dict[str, str]
    form: dict[str, str]


@dataclass(kw_only=True)
class _Failure:
    status: int = 0
    code: int | None = None
    hang_seconds: float = 0.0


@dataclass(kw_only=True)
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str | None, deque[_Failure]] = field(default_factory=dict)


def _segments(body: str) -> int:
    # Rough on purpose (ASCII as GSM-7, else UCS-2): the field is informational for tests.
    single, joined = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // joined)


class TwilioStandIn:
    """Context manager serving the Twilio Messages API on 127.0.0.1 at a random port.

    `fail_next(to=..., status=..., code=...)` makes the next request(s) to that number answer with a
    Twilio-shaped error; `hang_next(to=..., seconds=...)` makes them stall before answering (the
    message is still created, as when Twilio accepts a message but the answer is lost)."""

    def __init__(self, *, account_sid: str = "AC" + "0" * 32, auth_token: str = "standin-auth-token") -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._state = _State()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> TwilioStandIn:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.block_on_close = False  # a hanging handler must not hold up the test's teardown
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="twilio-standin", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use TwilioStandIn as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- what tests look at and steer -----------------------------------------------------------
    @property
    def messages(self) -> list[dict[str, Any]]:
        """Message resources created, oldest first."""
        with self._state.lock:
            return [dict(m) for m in self._state.messages.values()]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, including refused ones."""
        with self._state.lock:
            return list(self._state.requests)

    def fail_next(self, *, to: str | None, status: int, code: int | None = None, times: int = 1) -> None:
        """`to=None` fails the next request(s) whatever the number."""
        self._queue(to, [_Failure(status=status, code=code) for _ in range(times)])

    def hang_next(self, *, to: str | None, seconds: float = 30.0, times: int = 1) -> None:
        self._queue(to, [_Failure(hang_seconds=seconds) for _ in range(times)])

    def set_status(self, sid: str, *, status: str, error_code: int | None = None) -> None:
        """Moves a message on, as the carrier would (delivered, undelivered, ...)."""
        with self._state.lock:
            message = self._state.messages[sid]
            message.update(status=status, error_code=error_code, date_updated=_now())

    def _queue(self, to: str | None, failures: list[_Failure]) -> None:
        with self._state.lock:
            self._state.failures.setdefault(to, deque()).extend(failures)

    def _take_failure(self, to: str | None) -> _Failure | None:
        with self._state.lock:
            for key in (to, None):
                queue = self._state.failures.get(key)
                if queue:
                    return queue.popleft()
        return None

    # -- the API --------------------------------------------------------------------------------
    def _authorised(self, auth: tuple[str, str] | None, account: str) -> bool:
        return auth == (self.account_sid, self.auth_token) and account == self.account_sid

    def _create(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        to, sender, service = form.get("To"), form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not (sender or service):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
            return _error(400, 21602, "Message body is required.")
        failure = self._take_failure(to)
        if failure and failure.hang_seconds:
            message = self._store(form)
            self._closing.wait(failure.hang_seconds)
            return 201, message
        if failure:
            return _error(failure.status, failure.code, "Stand-in failure requested by the test.")
        return 201, self._store(form)

    def _store(self, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        now = _now()
        body = form.get("Body", "")
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        message = {
            "sid": sid, "account_sid": self.account_sid, "api_version": API_VERSION,
            "to": form["To"], "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": body, "status": "queued", "direction": "outbound-api",
            "num_segments": str(_segments(body)), "num_media": "0",
            "date_created": now, "date_updated": now, "date_sent": None,
            "error_code": None, "error_message": None, "price": None, "price_unit": "USD",
            "uri": f"{path}.json", "subresource_uris": {"media": f"{path}/Media.json"},
        }
        with self._state.lock:
            self._state.messages[sid] = message
            return dict(message)

    def _list(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Messages filtered by To and From, newest first, in one page (enough for reconciliation tests)."""
        with self._state.lock:
            found = [dict(m) for m in reversed(self._state.messages.values())
                     if m["to"] == query.get("To", m["to"]) and m["from"] == query.get("From", m["from"])]
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"
        return 200, {"messages": found, "uri": uri, "first_page_uri": uri, "next_page_uri": None,
                     "previous_page_uri": None, "page": 0, "page_size": max(50, len(found)), "start": 0,
                     "end": max(0, len(found) - 1)}

    def _fetch(self, sid: str) -> tuple[int, dict[str, Any]]:
        with self._state.lock:
            message = self._state.messages.get(sid)
            if message is None:
                return _error(404, 20404, f"The requested resource /Messages/{sid}.json was not found")
            return 200, dict(message)


def _now() -> str:
    # Twilio's REST dates are RFC 2822, e.g. "Thu, 24 Aug 2023 05:01:45 +0000".
    return format_datetime(datetime.now(UTC))


def _error(status: int, code: int | None, message: str) -> tuple[int, dict[str, Any]]:
    # Without a code the body matches what Twilio's edge returns on a 5xx: status and message only.
    payload: dict[str, Any] = {"message": message, "status": status}
    if code is not None:
        payload.update(code=code, more_info=f"https://www.twilio.com/docs/errors/{code}")
    return status, payload


class _Handler(BaseHTTPRequestHandler):
    server_version = "TwilioStandIn/1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._serve("POST")

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence per-request logging
        pass

    def _serve(self, method: str) -> None:
        standin: TwilioStandIn = self.server.standin  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        form = {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}
        auth = _basic_auth(self.headers.get("Authorization"))
        path, _, query_string = self.path.partition("?")
        query = {key: values[0] for key, values in parse_qs(query_string).items()}
        with standin._state.lock:
            standin._state.requests.append(RecordedRequest(
                method=method, path=path, auth=auth, headers=dict(self.headers.items()), form=form))

        create, fetch = _CREATE.match(path), _FETCH.match(path)
        listing = _LIST.match(path) if method == "GET" else None
        match = create if method == "POST" else (listing or fetch)
        if match is None:
            status, payload = _error(404, 20404, f"The requested resource {path} was not found")
        elif not standin._authorised(auth, match["account"]):
            status, payload = _error(401, 20003, "Authenticate")
        elif create and method == "POST":
            status, payload = standin._create(form)
        elif listing:
            status, payload = standin._list(query)
        else:
            status, payload = standin._fetch(match["sid"])
        self._reply(status, payload)

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to answer


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password
