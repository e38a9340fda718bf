"""One feedback item: its page with history, the workflow steps (each on a confirmation page with field
errors), notes, and triage (owner, category, severity, complexity, departments)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template
from sqlmodel import Session

from clinic.models import Clinic, Patient
from clinic.service import list_staff
from core.db import utcnow
from core.errors import Conflict, DomainError, PermissionDenied
from core.models import AuditAction
from core.security import STAFF_ROLES, Principal
from core.web import principal_of, render, requires, tr
from feedback.enums import (
    FIELD_LABELS,
    HISTORY_LABELS,
    LABELS,
    Action,
    Category,
    Complexity,
    FeedbackKind,
    Severity,
    allowed_actions,
)
from feedback.history import history_of
from feedback.models import RESPONSE_MAX, FeedbackItem
from feedback.notify import patient_contact
from feedback.policy import get_policy
from feedback.routes.common import Form, audit_item, clinic_of, field_messages, text
from feedback.service import can_act, can_view, get_item, is_manager, staff_names
from feedback.workflow import add_note, transition, update_item


def _action(name: str) -> Action:
    if name not in Action.__members__:
        raise NotFoundException()
    return Action(name)


def _acting(db: Session, principal: Principal, item_id: int) -> FeedbackItem:
    item = get_item(session=db, principal=principal, item_id=item_id)
    if not can_act(principal, item):
        raise PermissionDenied("You can read this item but not change it.")
    return item


class FeedbackItemController(Controller):
    path = "/feedback/{item_id:int}"
    include_in_schema = False
    guards = [requires(*STAFF_ROLES)]

    @get("/", name="feedback:item", sync_to_thread=True)
    def item_page(self, request: Request[Any, Any, Any], db: Session, item_id: int) -> Template:
        principal = principal_of(request)
        item = get_item(session=db, principal=principal, item_id=item_id)
        audit_item(db, request, principal, item, AuditAction.view)
        return self._page(db, request, principal, item, note_errors={}, note="")

    def _page(self, db: Session, request: Request[Any, Any, Any], principal: Principal, item: FeedbackItem, *,
              note_errors: dict[str, str], note: str, status_code: int = 200) -> Template:
        clinic = clinic_of(db, principal)
        actor = can_act(principal, item)
        contact = patient_contact(session=db, item=item)
        return render("feedback/item.html", status_code=status_code, context={
            "item": item, "labels": LABELS, "history_labels": HISTORY_LABELS, "field_labels": FIELD_LABELS,
            "now": utcnow(), "tz": clinic.timezone,
            "soon_seconds": get_policy(session=db, clinic=clinic).due_soon_hours * 3600,
            "patient": db.get(Patient, item.patient_id) if item.patient_id else None,
            "names": staff_names(session=db, clinic_id=clinic.id), "history": history_of(session=db, item_id=item.id),
            "can_act": actor, "actions": allowed_actions(item.status) if actor else [],
            "manager": is_manager(principal),
            "may_text": bool(contact and contact.may_text), "note_errors": note_errors, "note": note,
            "done": request.query_params.get("done", ""),
            "survey": item.source_detail.get("survey") if isinstance(item.source_detail, dict) else None,
        })

    @post("/note", name="feedback:note", sync_to_thread=True)
    def note(self, request: Request[Any, Any, Any], db: Session, item_id: int, data: Form) -> Any:
        principal = principal_of(request)
        item = _acting(db, principal, item_id)
        note = text(data, "note")
        try:
            add_note(session=db, item=item, principal=principal, note=note)
        except DomainError as exc:
            db.rollback()
            return self._page(db, request, principal, item, note_errors=field_messages(request, exc), note=note,
                              status_code=exc.status_code)
        audit_item(db, request, principal, item, AuditAction.update, detail="note")
        return Redirect(f"/feedback/{item.id}?done=note")

    @get("/act/{action:str}", name="feedback:action", sync_to_thread=True)
    def action_page(self, request: Request[Any, Any, Any], db: Session, item_id: int, action: str) -> Template:
        principal = principal_of(request)
        chosen = _action(action)
        item = _acting(db, principal, item_id)
        audit_item(db, request, principal, item, AuditAction.view, detail=f"confirm {chosen}")
        return self._action_page(db, principal, item, chosen, values={"notify_patient": "on"}, errors={})

    def _action_page(self, db: Session, principal: Principal, item: FeedbackItem, action: Action, *,
                     values: dict[str, Any], errors: dict[str, str], status_code: int = 200) -> Template:
        clinic = db.get(Clinic, principal.clinic_id)
        contact = patient_contact(session=db, item=item)
        return render("feedback/action.html", status_code=status_code, context={
            "item": item, "action": action, "labels": LABELS, "values": values, "errors": errors,
            "possible": action in allowed_actions(item.status), "may_text": bool(contact and contact.may_text),
            "has_patient": item.patient_id is not None, "response_max": RESPONSE_MAX,
            "tz": clinic.timezone if clinic else None,
        })

    @post("/act/{action:str}", name="feedback:action-submit", sync_to_thread=True)
    def action_submit(self, request: Request[Any, Any, Any], db: Session, item_id: int, action: str,
                      data: Form) -> Any:
        principal = principal_of(request)
        chosen = _action(action)
        item = _acting(db, principal, item_id)
        values = {name: text(data, name) for name in ("note", "resolution", "patient_response", "notify_patient")}
        try:
            transition(session=db, item=item, clinic=clinic_of(db, principal), action=chosen, principal=principal,
                       note=values["note"], resolution=values["resolution"],
                       patient_response=values["patient_response"],
                       notify_patient=values["notify_patient"] in ("on", "1", "true"))
        except DomainError as exc:
            db.rollback()
            db.refresh(item)
            errors = field_messages(request, exc)
            if not errors:
                errors = {"form": tr(request, exc.message, **exc.params)}
            return self._action_page(db, principal, item, chosen, values=values, errors=errors,
                                     status_code=exc.status_code)
        audit_item(db, request, principal, item, AuditAction.update, detail=str(chosen))
        return Redirect(f"/feedback/{item.id}?done={chosen.value}")

    @get("/edit", name="feedback:edit", sync_to_thread=True)
    def edit_page(self, request: Request[Any, Any, Any], db: Session, item_id: int) -> Template:
        principal = principal_of(request)
        item = _acting(db, principal, item_id)
        values = {"kind": item.kind, "category": item.category, "severity": item.severity,
                  "complexity": item.complexity, "owner_id": str(item.owner_id or ""),
                  "subject_staff_id": str(item.subject_staff_id or ""), "lead_department": item.lead_department,
                  "departments": ", ".join(item.departments)}
        return self._edit_page(db, principal, item, values=values, errors={})

    def _edit_page(self, db: Session, principal: Principal, item: FeedbackItem, *, values: dict[str, Any],
                   errors: dict[str, str], status_code: int = 200) -> Template:
        return render("feedback/edit.html", status_code=status_code, context={
            "item": item, "values": values, "errors": errors, "labels": LABELS, "kinds": list(FeedbackKind),
            "categories": list(Category), "severities": list(Severity), "complexities": list(Complexity),
            "staff": list_staff(session=db, clinic_id=principal.clinic_id)})

    @post("/edit", name="feedback:edit-submit", sync_to_thread=True)
    def edit_submit(self, request: Request[Any, Any, Any], db: Session, item_id: int, data: Form) -> Any:
        principal = principal_of(request)
        item = _acting(db, principal, item_id)
        values = {name: text(data, name) for name in ("kind", "category", "severity", "complexity", "owner_id",
                                                      "subject_staff_id", "lead_department", "departments")}
        try:
            changes = update_item(session=db, item=item, clinic=clinic_of(db, principal), values=values,
                                  principal=principal)
        except Conflict as exc:
            db.rollback()
            db.refresh(item)
            return self._edit_page(db, principal, item, values=values, status_code=exc.status_code,
                                   errors={"form": tr(request, exc.message, **exc.params)})
        except DomainError as exc:
            db.rollback()
            db.refresh(item)
            return self._edit_page(db, principal, item, values=values, errors=field_messages(request, exc),
                                   status_code=exc.status_code)
        if changes:
            audit_item(db, request, principal, item, AuditAction.update, detail="changed " + ",".join(changes))
        if not can_view(principal, item):
            return Redirect("/feedback?done=reassigned")  # handed to someone else: it has left this inbox
        return Redirect(f"/feedback/{item.id}?done={'updated' if changes else 'unchanged'}")
