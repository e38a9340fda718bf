"""Litestar glue shared by every domain's routes: DB session per request, who is asking, guards,
language, pagination and the mapping of errors to JSON or pages."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from anyio import to_thread
from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.response import Redirect, Template
from litestar.types import Empty, Message, Scope
from sqlalchemy.exc import DataError
from sqlmodel import Session

from core import i18n
from core.db import SQLITE_BEGIN, discard_session, finish_session, get_engine
from core.errors import DomainError
from core.i18n import N_
from core.security import Principal, Role
from core.settings import Settings

log = logging.getLogger(__name__)

SESSION_KEY = "principal"
_REQUEST_DB = "careloop.request_db"  # the session a bearer token was checked in, handed on to the request
SEEN_KEY = "seen"  # when the signed-in user last made a request (epoch seconds), for the idle timeout
_ROTATE_SESSION = "careloop.rotate_session"
_FRESH_SESSION_ID = "careloop.fresh_session_id"


def _clock() -> float:
    """Seconds since the epoch; a function so a test can move time forward."""
    return time.time()


def provide_settings(request: Request[Any, Any, Any]) -> Settings:
    return request.app.state.settings


async def provide_db_session(request: Request[Any, Any, Any]) -> AsyncIterator[Session]:
    """The request is the unit of work: commit when the handler succeeds, roll back when it raises.

    On SQLite with job workers in the same process, requests take the write lock when they begin: most requests
    read and then write (an audit row at least), and a job committing in between would fail them with a 500.

    Begin, commit and rollback run on anyio's worker threads, never on the executor that runs sync handlers:
    a request holding a row lock must not wait for a handler thread to commit, or the handlers queued on that
    lock would wait for ever (six concurrent sign-ins of one user hung the server for good;
    tests/hardening/test_sustained_load.py).

    A signed-in caller's session was opened by AuthMiddleware to find out who is asking (bearer token or
    sign-in): the check, the work and the audit row share one transaction, and the request one connection."""
    session = request.scope.pop(_REQUEST_DB, None)  # type: ignore[misc]
    if session is None:
        session = await to_thread.run_sync(_begin_request_session, request.app.state)
    try:
        yield session
    except BaseException:
        await to_thread.run_sync(discard_session, session)
        raise
    await to_thread.run_sync(finish_session, session)  # commit and close in one trip to a thread


def _begin_request_session(app_state: Any) -> Session:
    session = Session(get_engine(app_state.settings), expire_on_commit=False)
    if app_state.get("sqlite_write_lock_first"):
        try:
            session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
        except BaseException:
            session.close()
            raise
    return session


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """API calls authenticate with a bearer token only; pages with the server-side session.

    Anonymous callers pass through with `user=None`; guards decide what they may reach.
    """

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # A token was checked but no handler took its session (refused by a guard, not found, no `db`):
            # keep what the check wrote (the token's last use) and give the connection back.
            leftover = scope.pop(_REQUEST_DB, None)  # type: ignore[misc]
            if leftover is not None:
                await to_thread.run_sync(finish_session, leftover)

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        app_state = connection.app.state
        path = connection.scope["path"]
        if path.startswith("/api/"):
            header = connection.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return AuthenticationResult(user=None, auth=None)
            principal = await to_thread.run_sync(_load_in_request_session, connection.scope, app_state.token_loader,
                                                 {"token": token.strip()})
            return AuthenticationResult(user=principal, auth="token")
        stored = connection.scope.get("session") or {}
        ident = stored.get(SESSION_KEY) if isinstance(stored, dict) else None
        if not ident:
            return AuthenticationResult(user=None, auth=None)
        now, seen = _clock(), stored.get(SEEN_KEY)
        if not isinstance(seen, int | float) or now - seen > app_state.settings.session_idle_minutes * 60:
            connection.scope["session"] = Empty  # idle too long: forget the session, the guards ask to sign in
            return AuthenticationResult(user=None, auth=None)
        stored[SEEN_KEY] = now
        principal = await to_thread.run_sync(_load_in_request_session, connection.scope, app_state.principal_loader,
                                             {"kind": ident.get("kind"), "user_id": ident.get("id")})
        return AuthenticationResult(user=principal, auth="session")


def _load_in_request_session(scope: Scope, loader: Callable[..., Principal | None], kwargs: dict[str, Any]) -> Any:
    """Who is asking, read in what becomes the request's own session (handed on through the scope), so the
    check, the work and the audit row share one connection and one transaction. None for an unknown caller."""
    app_state = scope["litestar_app"].state  # type: ignore[typeddict-item]
    session = _begin_request_session(app_state)
    try:
        principal = loader(session=session, **kwargs)
    except BaseException:
        discard_session(session)
        raise
    if principal is None:
        discard_session(session)  # an unknown caller's check wrote nothing
        return None
    scope[_REQUEST_DB] = session  # type: ignore[literal-required]
    return principal


def safe_next(target: str | None) -> str:
    """Only same-site relative paths, so a `next` parameter cannot be used as an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def remember_principal(request: Request[Any, Any, Any], principal: Principal) -> None:
    """Sign in under a new session id, so an id planted in the browser before sign-in is worth nothing."""
    request.clear_session()
    request.set_session({SESSION_KEY: {"kind": principal.kind, "id": principal.user_id}, SEEN_KEY: _clock()})
    request.scope[_ROTATE_SESSION] = True  # type: ignore[literal-required]


class RotatingSessionBackend(ServerSideSessionBackend):
    """Litestar keeps the id from the cookie for ever; at sign-in we drop it and issue a new one."""

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        return connection.scope.get(_FRESH_SESSION_ID) or super().get_session_id(connection)  # type: ignore[misc]

    async def store_in_message(self, scope_session: Any, message: Message,
                               connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        scope: Any = connection.scope
        if not scope_session and connection.cookies.get(self.config.key) in (None, "", "null"):
            # No session data and no cookie: nothing to keep or delete. Skipping the store keeps webhooks, API
            # calls and /readyz working while the session store (Redis) is down (tests/hardening/test_faults.py).
            return
        if scope.get(_ROTATE_SESSION) and not scope.get(_FRESH_SESSION_ID) and scope_session is not Empty:
            old = connection.cookies.get(self.config.key)
            if old and old != "null":
                await self.delete(old, store=self.config.get_store_from_app(scope["app"]))
            scope[_FRESH_SESSION_ID] = self.generate_session_id()
        await super().store_in_message(scope_session, message, connection)


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend  # type: ignore[assignment]


def requires(*roles: Role) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """A guard admitting signed-in callers whose role is one of `roles` (any role when none given)."""
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if user is None:
            raise NotAuthorizedException("Please sign in.")
        if allowed and user.role not in allowed:
            raise PermissionDeniedException("You do not have access to this page.")

    return guard


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    user = request.scope.get("user")
    if user is None:
        raise NotAuthorizedException("Please sign in.")
    return user


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


def request_language(request: Request[Any, Any, Any]) -> str:
    """Explicit choice (query or cookie) first, then the user's own language, the browser, the default."""
    settings: Settings = request.app.state.settings
    chosen = request.query_params.get("lang") or request.cookies.get("lang")
    if chosen:
        return i18n.normalise_language(chosen, default=settings.default_language)
    user = request.scope.get("user")
    if user is not None:
        return user.language
    return i18n.negotiate(request.headers.get("accept-language"), default=settings.default_language)


_DB_INT_RANGE = range(-(2**63), 2**63)


def prepare_request_state(request: Request[Any, Any, Any]) -> None:
    """before_request hook: language and time zone for templates and messages.

    An id in the path beyond what a database integer holds names nothing: 404 here, before a driver overflows."""
    if any(isinstance(v, int) and v not in _DB_INT_RANGE for v in request.path_params.values()):
        raise NotFoundException()
    request.state.language = request_language(request)
    if not request.state.get("timezone"):
        principal = request.scope.get("user")
        own = principal.timezone if isinstance(principal, Principal) else None
        request.state.timezone = own or request.app.state.settings.timezone


def tr(request: Request[Any, Any, Any], message: str, **params: Any) -> str:
    return i18n.gettext(request.state.get("language") or request_language(request), message, **params)


@dataclass(frozen=True)
class Page:
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 100_000))
    except ValueError:
        return 1


def render(name: str, *, context: dict[str, Any] | None = None, status_code: int = 200) -> Template:
    """An HTML page; the media type is explicit so a handler typed `Any` still answers text/html."""
    return Template(template_name=name, context=context or {}, status_code=status_code, media_type=MediaType.HTML)


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    path = request.scope["path"]
    if path.startswith(("/api/", "/sms/", "/healthz")):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _error_response(request: Request[Any, Any, Any], status: int, code: str, message: str,
                    fields: list[dict[str, str]] | None = None) -> Response[Any]:
    if _wants_json(request):
        # `status_code` and `detail` are the shape the OpenAPI schema documents for every error response.
        body: dict[str, Any] = {"error": code, "message": message, "status_code": status, "detail": message}
        if fields:
            body["fields"] = fields
        return Response(body, status_code=status)
    if "language" not in request.state:
        try:
            prepare_request_state(request)
        except Exception:  # pragma: no cover - the error page must render even if state cannot be set
            request.state.language = "zh-CN"
    return render("error.html", status_code=status,  # type: ignore[return-value]
                context={"status": status, "message": message, "fields": fields or []})


def handle_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    language = request.state.get("language") or request_language(request)
    fields = [{"field": e.field, "message": i18n.gettext(language, e.message, **e.params)} for e in exc.field_errors]
    return _error_response(request, exc.status_code, exc.code, i18n.gettext(language, exc.message, **exc.params),
                           fields)


def handle_validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    language = request.state.get("language") or request_language(request)
    fields = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            fields.append({"field": str(item.get("key") or item.get("source") or ""),
                           "message": str(item.get("message", ""))})
    return _error_response(request, 422 if request.method != "GET" else 400, "validation_failed",
                           i18n.gettext(language, "Some of the values are not valid."), fields)


def handle_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status == 401 and not _wants_json(request):
        target = request.scope["path"]
        if request.scope.get("query_string"):
            target += "?" + request.scope["query_string"].decode("latin-1")
        return Redirect(f"/login?next={quote(target)}")  # type: ignore[return-value]
    language = request.state.get("language") or request_language(request)
    messages = {
        401: N_("Please sign in."), 403: N_("You do not have access to this page."), 404: N_("Page not found."),
        405: N_("This action is not allowed here."), 413: N_("The request is too large."),
        429: N_("Too many requests. Please wait a moment."),
    }
    message = messages.get(status) or (exc.detail if status < 500 else N_("Something went wrong on our side."))
    code = {401: "not_authenticated", 403: "forbidden", 404: "not_found", 429: "rate_limited"}.get(status, "error")
    return _error_response(request, status, code, i18n.gettext(language, message))


def handle_unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, OverflowError | DataError):
        # A number or date the database cannot hold, which a check upstream missed: the caller's input, not
        # our failure. Logged so the missing check gets written.
        log.warning("out-of-range value on %s %s: %s", request.method, request.scope["path"], exc)
        language = request.state.get("language") or request_language(request)
        return _error_response(request, 422, "validation_failed",
                               i18n.gettext(language, "A number or date is out of range."))
    log.exception("unhandled error on %s %s", request.method, request.scope["path"], exc_info=exc)
    language = request.state.get("language") or "zh-CN"
    return _error_response(request, 500, "server_error",
                           i18n.gettext(language, "Something went wrong on our side. Nothing you sent was lost; "
                                                  "please try again."))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: handle_domain_error,
    ValidationException: handle_validation_error,
    NotAuthorizedException: handle_http_error,
    PermissionDeniedException: handle_http_error,
    NotFoundException: handle_http_error,
    HTTPException: handle_http_error,
    Exception: handle_unexpected_error,
}
