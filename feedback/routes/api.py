"""The complaints JSON API under /api/v1 (bearer tokens, clinic-scoped; issue 5)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import Parameter
from sqlmodel import Session

from core.audit import record_audit
from core.db import utcnow
from core.errors import PermissionDenied
from core.models import AuditAction
from core.security import STAFF_ROLES
from core.web import client_address, principal_of, requires
from feedback.intake import create_from_api
from feedback.models import FeedbackCreate, FeedbackList, FeedbackRead, TransitionIn
from feedback.routes.common import audit_item, clinic_of
from feedback.service import InboxFilter, can_act, get_item, list_items, to_read
from feedback.workflow import transition


class ComplaintApiController(Controller):
    path = "/api/v1/complaints"
    tags = ["complaints"]
    guards = [requires(*STAFF_ROLES)]

    @post("/", sync_to_thread=True, status_code=201, summary="Record a complaint or concern taken by staff")
    def create(self, request: Request[Any, Any, Any], db: Session, data: FeedbackCreate) -> FeedbackRead:
        principal = principal_of(request)
        item = create_from_api(session=db, clinic=clinic_of(db, principal), data=data, principal=principal)
        audit_item(db, request, principal, item, AuditAction.create, detail="api")
        return to_read(item)

    @get("/", sync_to_thread=True, summary="Complaints and concerns the token may see, soonest deadline first")
    def list(
        self, request: Request[Any, Any, Any], db: Session, status: str = "open", category: str = "",
        overdue: bool = False, owner: str = "", kind: str = "",
        page: int = Parameter(default=1, ge=1, le=100_000), per_page: int = Parameter(default=50, ge=1, le=200),
    ) -> FeedbackList:
        principal = principal_of(request)
        now = utcnow()
        rows, total = list_items(session=db, principal=principal, page=page, per_page=per_page, now=now,
                                 filters=InboxFilter(status=status[:20] or "open", category=category[:20],
                                                     overdue=overdue, owner=owner[:12], kind=kind[:12]))
        record_audit(session=db, action=AuditAction.view, object_type="feedback_list", principal=principal,
                     client_address=client_address(request), detail=f"api page={page} count={len(rows)}")
        return FeedbackList(items=[to_read(r, now=now) for r in rows], total=total, page=page, per_page=per_page)

    @get("/{item_id:int}", sync_to_thread=True, summary="One complaint or concern")
    def read(self, request: Request[Any, Any, Any], db: Session, item_id: int) -> FeedbackRead:
        principal = principal_of(request)
        item = get_item(session=db, principal=principal, item_id=item_id)
        audit_item(db, request, principal, item, AuditAction.view, detail="api")
        return to_read(item)

    @post("/{item_id:int}/transitions", sync_to_thread=True, status_code=200,
          summary="Move an item through its workflow (409 when the step is not possible in its status)")
    def move(self, request: Request[Any, Any, Any], db: Session, item_id: int, data: TransitionIn) -> FeedbackRead:
        principal = principal_of(request)
        item = get_item(session=db, principal=principal, item_id=item_id)
        if not can_act(principal, item):
            raise PermissionDenied("You can read this item but not change it.")
        transition(session=db, item=item, clinic=clinic_of(db, principal), action=data.action, principal=principal,
                   note=data.note, resolution=data.resolution, patient_response=data.patient_response,
                   notify_patient=data.notify_patient)
        audit_item(db, request, principal, item, AuditAction.update, detail=f"api {data.action}")
        return to_read(item)
