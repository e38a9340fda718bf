"""The callbacks JSON API under /api/v1 (bearer tokens, clinic-scoped): list, read, log an attempt, close."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.params import Parameter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Row
from sqlmodel import Session

from core.audit import record_audit
from core.errors import FieldErrors
from core.models import AuditAction
from core.security import CLINICAL_ROLES, Principal
from core.web import client_address, principal_of, requires
from followup.callbacks import (
    QueueFilters,
    QueueScope,
    callback_item,
    clinic_timezone,
    close_callback,
    events_for,
    get_callback,
    list_callback_rows,
    log_attempt,
    tripped_readings,
)
from followup.enums import Severity
from followup.models import Callback


class AttemptIn(BaseModel):
    """One call attempt; values are checked by the service so every problem comes back with its field."""

    model_config = ConfigDict(extra="forbid")

    outcome: str | None = None
    result: str | None = None
    remind_at: str | None = None
    note: str | None = None


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str | None = None  # "not_reached" (default) or "reached"
    reason: str | None = None
    note: str | None = None


class CallbackApiController(Controller):
    path = "/api/v1/callbacks"
    tags = ["callbacks"]
    guards = [requires(*CLINICAL_ROLES)]

    @get("/", sync_to_thread=True, summary="The clinic's callbacks in queue order")
    def list(
        self, request: Request[Any, Any, Any], db: Session, status: str = "open", severity: Severity | None = None,
        assigned_to: int | None = None, scope: QueueScope = QueueScope.all,
        page: int = Parameter(default=1, ge=1, le=100_000), per_page: int = Parameter(default=50, ge=1, le=200),
    ) -> dict[str, Any]:
        principal = principal_of(request)
        if status not in ("open", "closed", "all"):
            errors = FieldErrors()
            errors.add("status", "Choose open, closed or all.")
            errors.raise_if_any()
        filters = QueueFilters(scope=scope, severity=severity, status=status, assigned_to=assigned_to)
        callbacks, total = list_callback_rows(session=db, clinic_id=principal.clinic_id,
                                              viewer_id=principal.user_id, filters=filters, page=page,
                                              per_page=per_page)
        record_audit(session=db, action=AuditAction.view, object_type="callback_list", principal=principal,
                     client_address=client_address(request), detail=f"api page={page} count={len(callbacks)}")
        return {"items": _items(db, principal, callbacks), "total": total, "page": page, "per_page": per_page}

    @get("/{callback_id:int}", sync_to_thread=True, summary="One callback with its history")
    def read(self, request: Request[Any, Any, Any], db: Session, callback_id: int) -> dict[str, Any]:
        principal = principal_of(request)
        callback = get_callback(session=db, clinic_id=principal.clinic_id, callback_id=callback_id)
        _audit_view(db, request, principal, callback)
        item = _items(db, principal, [callback])[0]
        tz = clinic_timezone(session=db, clinic_id=principal.clinic_id)
        item["history"] = [{"at": e.at.astimezone(tz).isoformat(), "kind": e.kind, "actor_id": e.actor_id,
                            "detail": e.detail}
                           for e in events_for(session=db, callback_ids=[callback.id]).get(callback.id, [])]
        return item

    @post("/{callback_id:int}/attempts", sync_to_thread=True, status_code=201, summary="Log a call attempt")
    def attempt(self, request: Request[Any, Any, Any], db: Session, callback_id: int,
                data: AttemptIn) -> dict[str, Any]:
        principal = principal_of(request)
        callback = get_callback(session=db, clinic_id=principal.clinic_id, callback_id=callback_id, lock=True)
        logged = log_attempt(session=db, callback=callback, actor=principal, data=data.model_dump(),
                             client_address=client_address(request))
        item = _items(db, principal, [logged.callback])[0]
        return {**item, "closed": logged.closed, "escalated_now": logged.escalated}

    @post("/{callback_id:int}/close", sync_to_thread=True, status_code=200, summary="Close a callback")
    def close(self, request: Request[Any, Any, Any], db: Session, callback_id: int, data: CloseIn) -> dict[str, Any]:
        principal = principal_of(request)
        callback = get_callback(session=db, clinic_id=principal.clinic_id, callback_id=callback_id, lock=True)
        close_callback(session=db, callback=callback, actor=principal, data=data.model_dump(),
                       client_address=client_address(request))
        return _items(db, principal, [callback])[0]


def _items(db: Session, principal: Principal, callbacks: Sequence[Callback | Row[Any]]) -> list[dict[str, Any]]:
    # A staff member's principal carries the clinic's time zone (read when the token was checked).
    tz = ZoneInfo(principal.timezone) if principal.timezone else clinic_timezone(session=db,
                                                                              clinic_id=principal.clinic_id)
    readings = tripped_readings(session=db, callbacks=callbacks)
    return [callback_item(c, readings=readings, language=principal.language, tz=tz) for c in callbacks]


def _audit_view(db: Session, request: Request[Any, Any, Any], principal: Principal, callback: Callback) -> None:
    record_audit(session=db, action=AuditAction.view, object_type="callback", object_id=callback.id,
                 patient_id=callback.patient_id, principal=principal, client_address=client_address(request))
