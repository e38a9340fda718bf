"""Litestar glue shared by every domain's routes: DB session per request, who is asking, guards,
language, pagination and the mapping of errors to JSON or pages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
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
from litestar.response import Redirect, Template
from sqlmodel import Session

from core import i18n
from core.db import get_engine, unit_of_work
from core.errors import DomainError
from core.i18n import N_
from core.security import Principal, Role
from core.settings import Settings

log = logging.getLogger(__name__)

SESSION_KEY = "principal"


def provide_settings(request: Request[Any, Any, Any]) -> Settings:
    return request.app.state.settings


def provide_db_session(request: Request[Any, Any, Any]) -> Iterator[Session]:
    """The request is the unit of work: commit when the handler succeeds, roll back when it raises."""
    with unit_of_work(get_engine(request.app.state.settings)) as session:
        yield session


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """API calls authenticate with a bearer token only; pages with the server-side session.

    Anonymous callers pass through with `user=None`; guards decide what they may reach.
    """

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        app_state = connection.app.state
        path = connection.scope["path"]
        if path.startswith("/api/"):
            header = connection.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return AuthenticationResult(user=None, auth=None)
            principal = await to_thread.run_sync(_load_with_session, app_state, app_state.token_loader,
                                                 {"token": token.strip()})
            return AuthenticationResult(user=principal, auth="token")
        stored = connection.scope.get("session") or {}
        ident = stored.get(SESSION_KEY) if isinstance(stored, dict) else None
        if not ident:
            return AuthenticationResult(user=None, auth=None)
        principal = await to_thread.run_sync(_load_with_session, app_state, app_state.principal_loader,
                                             {"kind": ident.get("kind"), "user_id": ident.get("id")})
        return AuthenticationResult(user=principal, auth="session")


def _load_with_session(app_state: Any, loader: Callable[..., Principal | None], kwargs: dict[str, Any]) -> Any:
    with unit_of_work(get_engine(app_state.settings)) as session:
        return loader(session=session, **kwargs)


def safe_next(target: str | None) -> str:
    """Only same-site relative paths, so a `next` parameter cannot be used as an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def remember_principal(request: Request[Any, Any, Any], principal: Principal) -> None:
    request.clear_session()
    request.set_session({SESSION_KEY: {"kind": principal.kind, "id": principal.user_id}})


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


def prepare_request_state(request: Request[Any, Any, Any]) -> None:
    """before_request hook: language and time zone for templates and messages."""
    request.state.language = request_language(request)
    if not request.state.get("timezone"):
        request.state.timezone = request.app.state.settings.timezone


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
        body: dict[str, Any] = {"error": code, "message": message}
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
