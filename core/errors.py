"""Domain errors: what services raise, and the one place that decides their HTTP status.

Services never import Litestar; the app maps these to JSON (API) or a page (browser) by status.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldError:
    """One problem with one input; `message` is an English msgid with %(name)s placeholders."""

    field: str
    message: str
    params: dict[str, object] = field(default_factory=dict)


class DomainError(Exception):
    """Base of every error a user can cause; carries a message safe to show them."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, field_errors: list[FieldError] | None = None, **params: object
    ) -> None:
        # The message stays an untranslated msgid; the boundary translates it into the user's language.
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params
        self.field_errors = field_errors or []


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class PermissionDenied(DomainError):
    status_code = 403
    code = "forbidden"


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class ValidationFailed(DomainError):
    status_code = 422
    code = "validation_failed"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"


@dataclass
class FieldErrors:
    """Collects field-level problems so a form reports them all at once, not the first only."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, field_name: str, message: str, **params: object) -> None:
        self.errors.append(FieldError(field_name, message, params))

    def raise_if_any(self, message: str = "Please correct the highlighted fields.") -> None:
        if self.errors:
            raise ValidationFailed(message, field_errors=self.errors)
