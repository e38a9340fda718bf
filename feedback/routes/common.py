"""Helpers shared by the feedback pages: form bodies, field messages, the caller's clinic, audit rows."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.params import Body
from sqlmodel import Session

from clinic.models import Clinic
from core.audit import record_audit
from core.errors import DomainError
from core.models import AuditAction
from core.security import Principal
from core.web import client_address, tr
from feedback.models import FeedbackItem

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def field_messages(request: Request[Any, Any, Any], exc: DomainError) -> dict[str, str]:
    return {e.field: tr(request, e.message, **e.params) for e in exc.field_errors}


def clinic_of(db: Session, principal: Principal) -> Clinic:
    clinic = db.get(Clinic, principal.clinic_id)
    assert clinic is not None
    return clinic


def audit_item(db: Session, request: Request[Any, Any, Any], principal: Principal, item: FeedbackItem,
               action: AuditAction, detail: str = "") -> None:
    record_audit(session=db, action=action, object_type="feedback_item", object_id=item.id, principal=principal,
                 patient_id=item.patient_id, client_address=client_address(request), detail=detail)


def text(values: dict[str, Any], name: str, limit: int = 4000) -> str:
    value = values.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value)[:limit]
