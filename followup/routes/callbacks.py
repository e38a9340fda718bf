"""The callback queue family doctors work: the queue page, a callback's page with its forms, the CSV export
(and, wired here, the callbacks API and the follow-up policy admin page)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy import case, func, select
from sqlmodel import Session

from clinic.enums import Programme
from clinic.models import Patient
from clinic.service import list_staff
from core.audit import record_audit
from core.db import utcnow
from core.errors import Conflict, DomainError
from core.models import AuditAction
from core.security import CLINICAL_ROLES, Principal, Role
from core.templating import csp_safe_svg
from core.web import Page, client_address, page_number, principal_of, render, requires, tr
from followup.callbacks import (
    AttemptOutcome,
    CallResult,
    CloseReason,
    QueueFilters,
    QueueScope,
    assign_callback,
    claim_callback,
    clinic_timezone,
    close_callback,
    events_for,
    get_callback,
    get_policy,
    list_callbacks,
    log_attempt,
    queue_query,
    reason_in,
    reopen_callback,
    staff_names,
)
from followup.callbacks.outcomes import LABELS
from followup.enums import Severity
from followup.models import Callback, CallbackStatus
from followup.routes.callback_api import CallbackApiController
from followup.routes.callback_policy import FollowupPolicyController
from followup.routes.callback_views import build_cards, card_chart, notice
from followup.routes.readings.views import Words

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
PER_PAGE = 20
EXPORT_LIMIT = 20_000
DONE = ("claimed", "assigned", "attempt", "closed", "reopened")


def filters_from(params: Any) -> QueueFilters:
    """Queue filters from the query string; anything unknown falls back to the default, never to an error."""
    scope, severity, programme = params.get("scope", ""), params.get("severity", ""), params.get("programme", "")
    status = params.get("status", "open")
    return QueueFilters(
        scope=QueueScope(scope) if scope in QueueScope.__members__ else QueueScope.all,
        severity=Severity(severity) if severity in Severity.__members__ else None,
        programme=Programme(programme) if programme in Programme.__members__ else None,
        has_phone=params.get("has_phone") in ("1", "true", "on"),
        status=status if status in ("open", "closed", "all") else "open",
    )


def filter_query(filters: QueueFilters) -> str:
    values = {"scope": filters.scope.value, "severity": filters.severity.value if filters.severity else "",
              "programme": filters.programme.value if filters.programme else "",
              "has_phone": "1" if filters.has_phone else "", "status": filters.status}
    return urlencode({k: v for k, v in values.items() if v})


class CallbackPagesController(Controller):
    path = "/callbacks"
    include_in_schema = False
    guards = [requires(*CLINICAL_ROLES)]

    @get("/", name="followup:callback-queue", sync_to_thread=True)
    def queue(self, request: Request[Any, Any, Any], db: Session, page: str | None = None) -> Template:
        principal = principal_of(request)
        filters = filters_from(request.query_params)
        number = page_number(page)
        tz = clinic_timezone(session=db, clinic_id=principal.clinic_id)
        rows, total = list_callbacks(session=db, clinic_id=principal.clinic_id, viewer_id=principal.user_id,
                                     filters=filters, page=number, per_page=PER_PAGE)
        language = request.state.language
        cards = build_cards(session=db, rows=rows, viewer=principal, language=language, tz=tz, chart_images=True)
        record_audit(session=db, action=AuditAction.view, object_type="callback_list", principal=principal,
                     client_address=client_address(request),
                     detail=f"page={number} count={len(rows)} {filter_query(filters)}")
        query = filter_query(filters)
        return render("followup/callbacks.html", context={
            "cards": cards, "page": Page(number, PER_PAGE, total), "filters": filters, "query": query,
            "base_query": (query + "&") if query else "", "summary": _summary(db, principal.clinic_id),
            "staff": list_staff(session=db, clinic_id=principal.clinic_id, roles={Role.doctor, Role.nurse}),
            "severities": list(Severity), "programmes": list(Programme), "scopes": list(QueueScope),
            "labels": LABELS, "tz": tz,
            "notice": _notice_text(request, db, principal, words=Words(language, tz)),
            "next_url": request.url.path + (f"?{query}&page={number}" if query else f"?page={number}"),
        })

    @get("/{callback_id:int}", name="followup:callback", sync_to_thread=True)
    def detail(self, request: Request[Any, Any, Any], db: Session, callback_id: int) -> Template:
        principal = principal_of(request)
        callback = get_callback(session=db, clinic_id=principal.clinic_id, callback_id=callback_id)
        return self._detail(request, db, principal, callback)

    @get("/{callback_id:int}/chart.svg", name="followup:callback-chart", sync_to_thread=True)
    def chart(self, request: Request[Any, Any, Any], db: Session, callback_id: int) -> Response[str]:
        """A queue card's chart as an image, fetched by the browser after the page (lazily, as cards scroll in)."""
        principal = principal_of(request)
        callback = get_callback(session=db, clinic_id=principal.clinic_id, callback_id=callback_id)
        patient = db.get(Patient, callback.patient_id)
        assert patient is not None
        svg = card_chart(session=db, callback=callback, patient=patient, language=request.state.language,
                         tz=clinic_timezone(session=db, clinic_id=principal.clinic_id))
        if not svg:
            raise NotFoundException()
        record_audit(session=db, action=AuditAction.view, object_type="callback_chart", object_id=callback.id,
                     patient_id=patient.id, principal=principal, client_address=client_address(request))
        # Presentation attributes, not CSS: the same markup as a chart drawn into a page, whatever CSP applies.
        return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + csp_safe_svg(svg), media_type="image/svg+xml")

    @post("/{callback_id:int}/claim", name="followup:callback-claim", sync_to_thread=True)
    def claim(self, request: Request[Any, Any, Any], db: Session, callback_id: int, data: Form) -> Any:
        return self._act(request, db, callback_id, data, "claimed", lambda cb, p: claim_callback(
            session=db, callback=cb, actor=p, take_over=data.get("take_over") == "1",
            client_address=client_address(request)))

    @post("/{callback_id:int}/assign", name="followup:callback-assign", sync_to_thread=True)
    def assign(self, request: Request[Any, Any, Any], db: Session, callback_id: int, data: Form) -> Any:
        return self._act(request, db, callback_id, data, "assigned", lambda cb, p: assign_callback(
            session=db, callback=cb, actor=p, assignee_id=data.get("assigned_to"),
            client_address=client_address(request)))

    @post("/{callback_id:int}/attempts", name="followup:callback-attempt", sync_to_thread=True)
    def attempt(self, request: Request[Any, Any, Any], db: Session, callback_id: int, data: Form) -> Any:
        return self._act(request, db, callback_id, data, "attempt", lambda cb, p: log_attempt(
            session=db, callback=cb, actor=p, data=data, client_address=client_address(request)))

    @post("/{callback_id:int}/close", name="followup:callback-close", sync_to_thread=True)
    def close(self, request: Request[Any, Any, Any], db: Session, callback_id: int, data: Form) -> Any:
        return self._act(request, db, callback_id, data, "closed", lambda cb, p: close_callback(
            session=db, callback=cb, actor=p, data={**data, "outcome": "not_reached"},
            client_address=client_address(request)))

    @post("/{callback_id:int}/reopen", name="followup:callback-reopen", sync_to_thread=True)
    def reopen(self, request: Request[Any, Any, Any], db: Session, callback_id: int, data: Form) -> Any:
        return self._act(request, db, callback_id, data, "reopened", lambda cb, p: reopen_callback(
            session=db, callback=cb, actor=p, note=str(data.get("note", "")), client_address=client_address(request)))

    def _act(self, request: Request[Any, Any, Any], db: Session, callback_id: int, data: dict[str, Any], done: str,
             action: Any) -> Any:
        """Run one action; on success go back where the form was (with a confirmation), on a problem show
        the callback's page with the message next to the field at fault."""
        principal = principal_of(request)
        callback = get_callback(session=db, clinic_id=principal.clinic_id, callback_id=callback_id, lock=True)
        try:
            action(callback, principal)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            db.rollback()
            callback = get_callback(session=db, clinic_id=principal.clinic_id, callback_id=callback_id)
            errors = {e.field: tr(request, e.message, **e.params) for e in exc.field_errors}
            message = tr(request, exc.message, **exc.params)
            return self._detail(request, db, principal, callback, errors=errors, values=data, form=done,
                                alert=message if isinstance(exc, Conflict) or not errors else "",
                                status_code=exc.status_code)
        target = str(data.get("next") or "")
        if not target.startswith("/callbacks") or target.startswith("//"):
            target = f"/callbacks/{callback_id}"
        separator = "&" if "?" in target else "?"
        return Redirect(f"{target}{separator}done={done}&cb={callback_id}")

    def _detail(self, request: Request[Any, Any, Any], db: Session, principal: Principal, callback: Callback, *,
                errors: dict[str, str] | None = None, values: dict[str, Any] | None = None, form: str = "",
                alert: str = "", status_code: int = 200) -> Template:
        patient = db.get(Patient, callback.patient_id)
        assert patient is not None
        tz = clinic_timezone(session=db, clinic_id=principal.clinic_id)
        language = request.state.language
        card = build_cards(session=db, rows=[(callback, patient)], viewer=principal, language=language, tz=tz,
                           with_history=True)[0]
        record_audit(session=db, action=AuditAction.view, object_type="callback", object_id=callback.id,
                     patient_id=patient.id, principal=principal, client_address=client_address(request))
        return render("followup/callback_detail.html", status_code=status_code, context={
            "card": card, "errors": errors or {}, "values": values or {}, "form": form, "alert": alert,
            "staff": list_staff(session=db, clinic_id=principal.clinic_id, roles={Role.doctor, Role.nurse}),
            "outcomes": list(AttemptOutcome), "results": list(CallResult), "close_reasons": list(CloseReason),
            "labels": LABELS, "tz": tz, "policy": get_policy(session=db, clinic_id=principal.clinic_id),
            "notice": _notice_text(request, db, principal, words=Words(language, tz)),
            "next_url": f"/callbacks/{callback.id}",
        })


def _notice_text(request: Request[Any, Any, Any], db: Session, principal: Principal, *, words: Words) -> str:
    done, raw_id = request.query_params.get("done", ""), request.query_params.get("cb", "")
    if done not in DONE or not raw_id.isdigit():
        return ""
    callback = db.get(Callback, int(raw_id))
    if callback is None or callback.clinic_id != principal.clinic_id:
        return ""
    patient = db.get(Patient, callback.patient_id)
    assert patient is not None
    attempts = events_for(session=db, callback_ids=[callback.id], kinds=["attempt"]).get(callback.id, [])
    names = staff_names(session=db, ids=[callback.assigned_to])
    return notice(done=done, callback=callback, patient=patient, words=words, names=names,
                  last_attempt=attempts[-1] if attempts else None)


def _summary(db: Session, clinic_id: int) -> dict[str, int]:
    now = utcnow()
    row = db.execute(select(
        func.count(),
        func.coalesce(func.sum(case((Callback.due_at < now, 1), else_=0)), 0),
        func.coalesce(func.sum(case((Callback.escalated_at.is_not(None), 1), else_=0)), 0),
        func.coalesce(func.sum(case((Callback.assigned_to.is_(None), 1), else_=0)), 0),
    ).where(Callback.clinic_id == clinic_id, Callback.status == CallbackStatus.open)).one()
    return {"open": int(row[0]), "overdue": int(row[1]), "escalated": int(row[2]), "unassigned": int(row[3])}


@get("/callbacks.csv", name="followup:callback-export", guards=[requires(*CLINICAL_ROLES)], sync_to_thread=True,
     include_in_schema=False)
def export_callbacks(request: Request[Any, Any, Any], db: Session) -> Response[bytes]:
    """The queue as a spreadsheet, same filters as the page; written to the audit log as an export."""
    principal = principal_of(request)
    filters = filters_from(request.query_params)
    tz = clinic_timezone(session=db, clinic_id=principal.clinic_id)
    policy = get_policy(session=db, clinic_id=principal.clinic_id)
    query = queue_query(clinic_id=principal.clinic_id, viewer_id=principal.user_id, filters=filters, policy=policy)
    rows = db.execute(query.limit(EXPORT_LIMIT)).all()
    names = staff_names(session=db, ids=[c.assigned_to for c, _ in rows])
    language = request.state.language
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "patient", "severity", "status", "rule", "reason", "opened", "due", "attempts",
                     "assigned", "outcome"])
    for callback, patient in rows:
        outcome = f"{callback.outcome}: {callback.close_reason}" if callback.outcome else ""
        writer.writerow([callback.id, _cell(patient.name), callback.severity, callback.status, callback.rule_code,
                         _cell(reason_in(callback, language)), callback.opened_at.astimezone(tz).isoformat(),
                         callback.due_at.astimezone(tz).isoformat(), callback.attempts,
                         _cell(names.get(callback.assigned_to or 0, "")), outcome])
    record_audit(session=db, action=AuditAction.export, object_type="callback_list", principal=principal,
                 client_address=client_address(request), detail=f"csv rows={len(rows)} {filter_query(filters)}")
    stamp = utcnow().astimezone(tz).strftime("%Y%m%d-%H%M")
    # A byte-order mark lets Excel (common in clinics) open Chinese text as UTF-8.
    return Response(("\ufeff" + buffer.getvalue()).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="callbacks-{stamp}.csv"'})


def _cell(text: str) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula; a patient's name must never do that."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


HANDLERS: list[object] = [CallbackPagesController, export_callbacks, CallbackApiController, FollowupPolicyController]
