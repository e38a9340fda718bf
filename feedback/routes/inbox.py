"""The committee's inbox: filtered and sorted by deadline, RCA suggestions, staff entry of complaints,
the CSV export, and the page of open breaches."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlmodel import Session

from clinic.service import list_staff
from core.audit import record_audit
from core.db import utcnow
from core.errors import DomainError
from core.i18n import N_, format_datetime
from core.models import AuditAction
from core.security import STAFF_ROLES, Role
from core.web import Page, client_address, page_number, principal_of, render, requires, tr
from feedback.clusters import dismiss_suggestion, open_suggestions
from feedback.enums import LABELS, Category, Channel, Complexity, FeedbackKind, FeedbackStatus, Severity
from feedback.intake import STAFF_CHANNELS, enter_staff_feedback
from feedback.models import FeedbackItem
from feedback.policy import get_policy
from feedback.routes.common import Form, audit_item, clinic_of, field_messages, text
from feedback.service import InboxFilter, inbox_query, is_manager, list_items, staff_names
from feedback.workflow import open_breaches

PER_PAGE = 25
MANAGERS = (Role.admin, Role.committee)
EXPORT_LIMIT = 10_000
CSV_HEADERS = (N_("Reference"), N_("Received"), N_("Kind"), N_("Category"), N_("Channel"), N_("Severity"),
               N_("Status"), N_("Owner"), N_("Acknowledge by"), N_("Acknowledged"), N_("Resolve by"), N_("Resolved"),
               N_("Overdue"), N_("Patient ID"), N_("Description"), N_("Resolution"))


def _filters(status: str, category: str, overdue: bool, owner: str, kind: str) -> InboxFilter:
    return InboxFilter(status=status[:20] or "open", category=category[:20], overdue=overdue, owner=owner[:12],
                       kind=kind[:12])


def _query_string(filters: InboxFilter) -> str:
    params = {"status": filters.status, "category": filters.category, "owner": filters.owner, "kind": filters.kind}
    if filters.overdue:
        params["overdue"] = "true"
    return urlencode({k: v for k, v in params.items() if v}) + "&"


def _csv_cell(value: Any) -> str:
    """Spreadsheet programs run cells that start with = + - @ as formulas; complaint text must stay text."""
    cell = "" if value is None else str(value)
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


class FeedbackInboxController(Controller):
    path = "/feedback"
    include_in_schema = False

    @get("/", name="feedback:inbox", guards=[requires(*STAFF_ROLES)], sync_to_thread=True)
    def inbox(self, request: Request[Any, Any, Any], db: Session, status: str = "open", category: str = "",
              overdue: bool = False, owner: str = "", kind: str = "", page: str | None = None) -> Template:
        principal = principal_of(request)
        clinic = clinic_of(db, principal)
        filters = _filters(status, category, overdue, owner, kind)
        number = page_number(page)
        now = utcnow()
        rows, total = list_items(session=db, principal=principal, filters=filters, page=number, per_page=PER_PAGE,
                                 now=now)
        record_audit(session=db, action=AuditAction.view, object_type="feedback_list", principal=principal,
                     client_address=client_address(request), detail=f"page={number} count={len(rows)}")
        manager = is_manager(principal)
        suggestions = open_suggestions(session=db, clinic_id=clinic.id) if manager else []
        return render("feedback/inbox.html", context={
            "items": rows, "page": Page(number, PER_PAGE, total), "filters": filters, "labels": LABELS,
            "query": _query_string(filters), "now": now, "manager": manager, "tz": clinic.timezone,
            "soon_seconds": get_policy(session=db, clinic=clinic).due_soon_hours * 3600,
            "statuses": list(FeedbackStatus), "categories": list(Category), "kinds": list(FeedbackKind),
            "staff": list_staff(session=db, clinic_id=clinic.id) if manager else [],
            "names": staff_names(session=db, clinic_id=clinic.id),
            "suggestions": suggestions, "references": _references(db, clinic.id, suggestions),
            "done": request.query_params.get("done", ""),
        })

    @get("/export.csv", name="feedback:export", guards=[requires(*MANAGERS)], sync_to_thread=True)
    def export(self, request: Request[Any, Any, Any], db: Session, status: str = "open", category: str = "",
               overdue: bool = False, owner: str = "", kind: str = "") -> Response[bytes]:
        principal = principal_of(request)
        clinic = clinic_of(db, principal)
        filters = _filters(status, category, overdue, owner, kind)
        now = utcnow()
        rows = db.scalars(inbox_query(principal=principal, filters=filters, now=now)
                          .order_by(FeedbackItem.received_at, FeedbackItem.id).limit(EXPORT_LIMIT)).all()
        names = staff_names(session=db, clinic_id=clinic.id)
        language = request.state.language
        tz = ZoneInfo(clinic.timezone)

        def when(value: Any) -> str:
            return format_datetime(value, language, tz, fmt="yyyy-MM-dd HH:mm") if value else ""

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([tr(request, h) for h in CSV_HEADERS])
        for item in rows:
            writer.writerow([_csv_cell(v) for v in (
                item.reference, when(item.received_at), tr(request, LABELS[item.kind]),
                tr(request, LABELS[item.category]), tr(request, LABELS[item.channel]),
                tr(request, LABELS[item.severity]), tr(request, LABELS[item.status]),
                names.get(item.owner_id, tr(request, "Quality committee")) if item.owner_id else
                tr(request, "Quality committee"),
                when(item.ack_due_at), when(item.acknowledged_at), when(item.resolve_due_at), when(item.resolved_at),
                tr(request, "Yes") if item.next_due_at and now > item.next_due_at else "",
                item.patient_id or "", item.description, item.resolution)])
        record_audit(session=db, action=AuditAction.export, object_type="feedback_list", principal=principal,
                     client_address=client_address(request), detail=f"csv rows={len(rows)} {_query_string(filters)}")
        # A byte-order mark lets spreadsheet programs open the UTF-8 file with Chinese text intact.
        return Response(("\ufeff" + buffer.getvalue()).encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="feedback.csv"'})

    @get("/breaches", name="feedback:breaches", guards=[requires(*MANAGERS)], sync_to_thread=True)
    def breaches(self, request: Request[Any, Any, Any], db: Session) -> Template:
        principal = principal_of(request)
        clinic = clinic_of(db, principal)
        items = open_breaches(session=db, clinic_id=clinic.id)
        record_audit(session=db, action=AuditAction.view, object_type="feedback_list", principal=principal,
                     client_address=client_address(request), detail=f"breaches count={len(items)}")
        return render("feedback/breaches.html", context={
            "items": items, "labels": LABELS, "now": utcnow(), "tz": clinic.timezone, "soon_seconds": 0,
            "names": staff_names(session=db, clinic_id=clinic.id)})

    @post("/suggestions/{suggestion_id:int}/dismiss", name="feedback:dismiss-suggestion",
          guards=[requires(*MANAGERS)], sync_to_thread=True)
    def dismiss(self, request: Request[Any, Any, Any], db: Session, suggestion_id: int) -> Redirect:
        principal = principal_of(request)
        dismiss_suggestion(session=db, clinic_id=principal.clinic_id, suggestion_id=suggestion_id,
                           staff_id=principal.user_id)
        record_audit(session=db, action=AuditAction.update, object_type="rca_suggestion", object_id=suggestion_id,
                     principal=principal, client_address=client_address(request), detail="dismissed")
        return Redirect("/feedback?done=dismissed")

    @get("/record", name="feedback:record", guards=[requires(*STAFF_ROLES)], sync_to_thread=True)
    def record_form(self, request: Request[Any, Any, Any], db: Session, patient_id: int | None = None) -> Template:
        principal = principal_of(request)
        values = {"channel": "phone", "patient_id": str(patient_id) if patient_id else ""}
        return self._record_page(db, principal.clinic_id, values=values, errors={})

    @post("/record", name="feedback:record-submit", guards=[requires(*STAFF_ROLES)], sync_to_thread=True)
    def record_submit(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        principal = principal_of(request)
        clinic = clinic_of(db, principal)
        values = {name: text(data, name) for name in (
            "kind", "category", "channel", "severity", "complexity", "description", "patient_id", "contact_name",
            "contact_phone", "contact_language", "contact_consent", "subject_staff_id", "lead_department",
            "departments")}
        try:
            item = enter_staff_feedback(session=db, clinic=clinic, values=values, principal=principal)
        except DomainError as exc:
            db.rollback()
            errors = field_messages(request, exc) or {"form": tr(request, exc.message, **exc.params)}
            return self._record_page(db, clinic.id, values=values, errors=errors, status_code=exc.status_code)
        audit_item(db, request, principal, item, AuditAction.create, detail=f"channel={item.channel}")
        if principal.role in MANAGERS or item.owner_id == principal.user_id:
            return Redirect(f"/feedback/{item.id}?done=recorded")
        # The person at the desk may not be the owner; tell them it is recorded rather than show a 404.
        return render("feedback/recorded.html", context={"reference": item.reference})

    def _record_page(self, db: Session, clinic_id: int, *, values: dict[str, Any], errors: dict[str, str],
                     status_code: int = 200) -> Template:
        return render("feedback/record.html", status_code=status_code, context={
            "values": values, "errors": errors, "labels": LABELS, "kinds": list(FeedbackKind),
            "categories": list(Category), "channels": [c for c in Channel if c in STAFF_CHANNELS],
            "severities": list(Severity), "complexities": list(Complexity),
            "staff": list_staff(session=db, clinic_id=clinic_id)})


def _references(db: Session, clinic_id: int, suggestions: list[Any]) -> dict[int, str]:
    """The references (FB-…) of the items a suggestion groups, as the inbox table shows them."""
    ids = {item_id for s in suggestions for item_id in s.item_ids}
    if not ids:
        return {}
    rows = db.execute(select(FeedbackItem.id, FeedbackItem.reference).where(
        FeedbackItem.clinic_id == clinic_id, FeedbackItem.id.in_(ids)))
    return {item_id: reference for item_id, reference in rows}
