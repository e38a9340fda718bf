"""Operations: request ids, structured logs, readiness and Prometheus metrics.

Every request carries an id (the caller's X-Request-ID when it is sane, else a new one) that is echoed in
the response and stamped on every log record written while the request runs, so one line in a proxy log
finds every line the app wrote for it. Job, outbox and SMS figures are read from the database at scrape
time: the outbox and SMS tables are shared by every web and worker process, so one scrape of any web
process gives the whole installation's numbers, however many worker processes there are.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import secrets
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

from litestar import Request, Response, get
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from core.db import get_engine, utcnow
from core.models import JobStatus, OutboxJob, SmsDirection, SmsMessage
from core.settings import Settings

REQUEST_ID_HEADER = "x-request-id"
# Accept an upstream id only if it is short and plain, so a caller cannot inject text into log lines.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_SCOPE_REQUEST_ID = "careloop.request_id"
_SCOPE_STARTED = "careloop.started"
UNMATCHED_ROUTE = "<unmatched>"

request_id_var: ContextVar[str] = ContextVar("careloop_request_id", default="-")
access_log = logging.getLogger("careloop.access")

# HTTP figures are per process (each uvicorn worker counts its own requests); Prometheus sums them.
HTTP_REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter("careloop_http_requests", "HTTP requests answered, by route template and status",
                        ["method", "route", "status"], registry=HTTP_REGISTRY)
HTTP_LATENCY = Histogram("careloop_http_request_duration_seconds",
                         "Time from request start to response headers, by route template",
                         ["method", "route"], registry=HTTP_REGISTRY,
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


# --- request ids and logs -------------------------------------------------------------------------------

class RequestIdMiddleware:
    """Gives the request its id and start time before any handler code (and any log line) runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = request_id_var.set(_request_id(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            request_id_var.reset(token)


def _request_id(scope: Scope) -> str:
    """The id of this request, chosen once: the caller's if sane, else a fresh one."""
    chosen = scope.get(_SCOPE_REQUEST_ID)  # type: ignore[misc]
    if chosen:
        return chosen
    incoming = ""
    for name, value in scope.get("headers", ()):
        if name.lower() == REQUEST_ID_HEADER.encode():
            incoming = value.decode("latin-1").strip()
            break
    chosen = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    scope[_SCOPE_REQUEST_ID] = chosen  # type: ignore[literal-required]
    scope.setdefault(_SCOPE_STARTED, time.perf_counter())  # type: ignore[misc]
    return chosen


async def before_send(message: Message, scope: Scope) -> None:
    """Litestar's before_send hook sees every response, routed or not, errors included: echo the request id,
    count the request and write the access line."""
    if scope.get("type") != "http" or message["type"] != "http.response.start":
        return
    request_id = _request_id(scope)
    message.setdefault("headers", [])  # type: ignore[typeddict-item]
    headers = message["headers"]  # type: ignore[typeddict-item]
    if not any(name.lower() == REQUEST_ID_HEADER.encode() for name, _ in headers):
        headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))  # type: ignore[union-attr]
    route = scope.get("path_template") or UNMATCHED_ROUTE  # type: ignore[misc]
    method = scope.get("method", "")
    status = message["status"]  # type: ignore[typeddict-item]
    elapsed = time.perf_counter() - scope.get(_SCOPE_STARTED, time.perf_counter())  # type: ignore[misc]
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(elapsed)
    # The template, not the path: paths carry patient ids and tokens, which do not belong in logs.
    access_log.info("%s %s %s %.1fms", method, route, status, elapsed * 1000,
                    extra={"request_id": request_id, "http_method": method, "route": route, "status": status,
                           "duration_ms": round(elapsed * 1000, 1)})


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return True


_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in entry:
                entry[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


JsonLineFormatter.converter = time.gmtime  # type: ignore[assignment]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure_logging(settings: Settings) -> logging.Handler:
    """Install (or replace) the app's handler on the root logger: JSON lines or plain text on stderr."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "careloop", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.careloop = True  # type: ignore[attr-defined]
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonLineFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    return handler


# --- readiness --------------------------------------------------------------------------------------------

def dependency_checks(settings: Settings, broker: Any) -> dict[str, str]:
    """'ok' or why not, for the database and the broker."""
    checks = {"database": "ok", "broker": "ok"}
    try:
        with get_engine(settings).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        client = getattr(broker, "client", None)
        if client is not None:
            client.ping()
        elif hasattr(broker, "connection"):
            broker.connection  # noqa: B018 - opening the connection is the check
    except Exception as exc:
        checks["broker"] = f"unreachable: {type(exc).__name__}"
    return checks


@get("/readyz", name="core:ready", sync_to_thread=True, exclude_from_auth=True, include_in_schema=False)
def ready(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """Ready to take traffic: the database and the broker answer (503 otherwise, so a balancer skips it)."""
    checks = dependency_checks(request.app.state.settings, request.app.state.broker)
    healthy = all(v == "ok" for v in checks.values())
    return Response({"status": "ready" if healthy else "not ready", **checks}, status_code=200 if healthy else 503)


# --- metrics ----------------------------------------------------------------------------------------------

class _DatabaseCollector:
    """Outbox and SMS figures, read from the tables at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Any:
        jobs = GaugeMetricFamily("careloop_outbox_jobs", "Outbox jobs by actor and status (done = processed, "
                                 "failed = given up after every retry)", labels=["actor", "status"])
        depth = GaugeMetricFamily("careloop_outbox_depth", "Outbox jobs waiting or running")
        oldest = GaugeMetricFamily("careloop_outbox_oldest_age_seconds",
                                   "Age of the oldest waiting or running outbox job that is due (0 when none)")
        sms = GaugeMetricFamily("careloop_sms_messages", "Outbound SMS by status (sent, delivered, failed, ...)",
                                labels=["status"])
        waiting = (JobStatus.pending, JobStatus.running)
        now = utcnow()
        with self.engine.connect() as connection:
            for actor, status, count in connection.execute(
                    select(OutboxJob.actor_name, OutboxJob.status, func.count()).group_by(
                        OutboxJob.actor_name, OutboxJob.status)):
                jobs.add_metric([actor, str(status)], count)
            pending_count = connection.execute(
                select(func.count()).where(OutboxJob.status.in_(waiting))).scalar_one()
            oldest_due = connection.execute(select(func.min(OutboxJob.run_after)).where(
                OutboxJob.status.in_(waiting), OutboxJob.run_after <= now)).scalar_one()
            for status, count in connection.execute(
                    select(SmsMessage.status, func.count()).where(SmsMessage.direction == SmsDirection.outbound)
                    .group_by(SmsMessage.status)):
                sms.add_metric([str(status)], count)
        depth.add_metric([], pending_count)
        if oldest_due is not None and oldest_due.tzinfo is None:  # SQLite hands back naive UTC
            oldest_due = oldest_due.replace(tzinfo=now.tzinfo)
        oldest.add_metric([], max(0.0, (now - oldest_due).total_seconds()) if oldest_due else 0.0)
        return [jobs, depth, oldest, sms]


def metrics_allowed(request: Request[Any, Any, Any], settings: Settings) -> bool:
    """With CARELOOP_METRICS_TOKEN set, a matching bearer token is required; without one, only a direct
    loopback caller (no proxy headers) may read, so a public proxy in front cannot expose the figures."""
    if settings.metrics_token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(given.strip(), settings.metrics_token)
    if request.headers.get("x-forwarded-for") or request.headers.get("forwarded"):
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "testclient"  # Litestar's in-process test client has no address


@get("/metrics", name="core:metrics", sync_to_thread=True, include_in_schema=False)
def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    settings: Settings = request.app.state.settings
    if not metrics_allowed(request, settings):
        return Response(b"forbidden\n", status_code=403, media_type="text/plain")
    database = CollectorRegistry(auto_describe=False)
    database.register(_DatabaseCollector(get_engine(settings)))  # type: ignore[arg-type]
    return Response(generate_latest(HTTP_REGISTRY) + generate_latest(database), media_type=CONTENT_TYPE_LATEST)


HANDLERS = [ready, metrics]
