"""RCA pages: the list, opening an analysis (from a suggestion, a callback, a complaint or by hand), the overview,
the fishbone diagram and the clinic's RCA deadlines."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template
from sqlmodel import Session

from core.audit import record_audit
from core.db import utcnow
from core.errors import DomainError
from core.models import AuditAction
from core.security import STAFF_ROLES
from core.web import Page, client_address, page_number, principal_of, render, requires
from rca import flows, service
from rca.enums import RcaStatus
from rca.routes.common import (
    EDITORS,
    NOTICES,
    Form,
    audit,
    category_label,
    choices,
    clinic_of,
    field_messages,
    fishbone_svg,
    is_editor,
    overview_context,
)
from rca.timers import clocks
from rca.validate import int_or_none


class RcaPagesController(Controller):
    path = "/rca"
    include_in_schema = False
    guards = [requires(*STAFF_ROLES)]

    @get("/", name="rca:list", sync_to_thread=True)
    def list_analyses(self, request: Request[Any, Any, Any], db: Session, status: str = "", sac: str = "",
                      overdue: bool = False, q: str = "", page: str | None = None) -> Template:
        principal = principal_of(request)
        now = utcnow()
        number = page_number(page)
        filters = service.ListFilters(
            status=RcaStatus(status) if status in RcaStatus.__members__ else None,
            sac=int(sac) if sac in ("1", "2", "3") else None, overdue=overdue, q=q.strip()[:60])
        rows, total = service.list_analyses(session=db, clinic_id=principal.clinic_id, filters=filters, page=number,
                                            now=now)
        counts = service.action_counts(session=db, analysis_ids=[r.id for r in rows], now=now)
        clinic = clinic_of(db, principal)
        return render("rca/list.html", context={
            "rows": [(r, clocks(status=r.status, start_due_at=r.start_due_at, due_at=r.due_at, started_at=r.started_at,
                                completed_at=r.completed_at, now=now), counts.get(r.id, (0, 0))) for r in rows],
            "page": Page(number, service.records.PER_PAGE, total), "filters": filters, "status": status, "sac": sac,
            "q": q, "overdue": overdue, "is_editor": is_editor(principal), "tz": ZoneInfo(clinic.timezone),
            "suggestions": flows.open_suggestions(session=db, clinic_id=clinic.id) if is_editor(principal) else [],
            "category_name": lambda c: flows.category_label(c, request.state.get("language") or "zh-CN"),
            **choices(),
        })

    @get("/new", name="rca:new", guards=[requires(*EDITORS)], sync_to_thread=True)
    def new_analysis(self, request: Request[Any, Any, Any], db: Session, suggestion: str = "", callback: str = "",
                     feedback: str = "", patient: str = "") -> Any:
        principal = principal_of(request)
        clinic = clinic_of(db, principal)
        source = {"suggestion_id": int_or_none(suggestion), "callback_id": int_or_none(callback),
                  "feedback_item_id": int_or_none(feedback), "patient_id": int_or_none(patient)}
        try:
            draft = flows.prefill(session=db, clinic=clinic, language=request.state.get("language") or "zh-CN",
                                  **source)
        except flows.SuggestionTaken as exc:
            if exc.analysis_id is not None:
                return Redirect(f"/rca/{exc.analysis_id}")
            raise
        self._audit_sources(db, request, draft)
        tz = ZoneInfo(clinic.timezone)
        values = {"title": draft.title, "problem_statement": draft.problem_statement,
                  "triggered_at": draft.triggered_at.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
                  if draft.triggered_at else ""}
        return self._form(db, request, draft, source, values, {})

    @post("/new", name="rca:create", guards=[requires(*EDITORS)], sync_to_thread=True)
    def create(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        principal = principal_of(request)
        clinic = clinic_of(db, principal)
        source = {"suggestion_id": int_or_none(data.get("suggestion_id")),
                  "callback_id": int_or_none(data.get("callback_id")),
                  "feedback_item_id": int_or_none(data.get("feedback_item_id")),
                  "patient_id": int_or_none(data.get("patient_id"))}
        try:
            analysis = flows.open_analysis(session=db, clinic=clinic, principal=principal, values=data, **source)
        except flows.SuggestionTaken as exc:
            db.rollback()
            if exc.analysis_id is not None:
                return Redirect(f"/rca/{exc.analysis_id}")
            raise
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            db.rollback()
            draft = flows.prefill(session=db, clinic=clinic, language=request.state.get("language") or "zh-CN",
                                  **source)
            return self._form(db, request, draft, source, data, field_messages(request, exc), exc.status_code)
        audit(db, request, analysis, AuditAction.create, detail=f"source={analysis.source}")
        return Redirect(f"/rca/{analysis.id}?done=created")

    def _audit_sources(self, db: Session, request: Request[Any, Any, Any], draft: flows.Prefill) -> None:
        principal = principal_of(request)
        for patient_id in sorted({i.patient_id for i in draft.items if i.patient_id} | ({draft.patient_id} - {None})):
            record_audit(session=db, action=AuditAction.view, object_type="rca_source", object_id=draft.source_id or "",
                         patient_id=patient_id, principal=principal, client_address=client_address(request),
                         detail=f"source={draft.source}")

    def _form(self, db: Session, request: Request[Any, Any, Any], draft: flows.Prefill, source: dict[str, Any],
              values: dict[str, Any], errors: dict[str, str], status_code: int = 200) -> Template:
        principal = principal_of(request)
        ids = sorted({i.patient_id for i in draft.items if i.patient_id} | ({draft.patient_id} - {None}))
        return render("rca/new.html", status_code=status_code, context={
            "draft": draft, "source": source, "values": values, "errors": errors,
            "patients": flows.patients_by_id(session=db, clinic_id=principal.clinic_id, ids=ids),
            "policy": service.get_policy(session=db, clinic_id=principal.clinic_id), **choices(),
            "tz": ZoneInfo(clinic_of(db, principal).timezone),
        })

    @get("/{analysis_id:int}", name="rca:detail", sync_to_thread=True)
    def detail(self, request: Request[Any, Any, Any], db: Session, analysis_id: int) -> Template:
        principal = principal_of(request)
        analysis = service.get_analysis(session=db, clinic_id=principal.clinic_id, analysis_id=analysis_id)
        audit(db, request, analysis, AuditAction.view)
        return render("rca/detail.html", context=overview_context(db, request, analysis))

    @get("/{analysis_id:int}/fishbone", name="rca:fishbone", sync_to_thread=True)
    def fishbone(self, request: Request[Any, Any, Any], db: Session, analysis_id: int) -> Template:
        principal = principal_of(request)
        analysis = service.get_analysis(session=db, clinic_id=principal.clinic_id, analysis_id=analysis_id)
        audit(db, request, analysis, AuditAction.view, detail="fishbone")
        language = request.state.get("language") or principal.language
        causes = service.causes_of(session=db, analysis_id=analysis.id)
        return render("rca/fishbone.html", context={
            "analysis": analysis, "svg": fishbone_svg(analysis, causes, language, "fishbone"),
            "causes": causes, "category_label": lambda c: category_label(c, language), **choices()})

    @get("/{analysis_id:int}/fishbone.svg", name="rca:fishbone-svg", sync_to_thread=True)
    def fishbone_file(self, request: Request[Any, Any, Any], db: Session, analysis_id: int) -> Response[str]:
        principal = principal_of(request)
        analysis = service.get_analysis(session=db, clinic_id=principal.clinic_id, analysis_id=analysis_id)
        audit(db, request, analysis, AuditAction.export, detail="fishbone.svg")
        language = request.state.get("language") or principal.language
        svg = fishbone_svg(analysis, service.causes_of(session=db, analysis_id=analysis.id), language, "fishbone")
        return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + svg, media_type="image/svg+xml",
                        headers={"Content-Disposition": f'inline; filename="{analysis.reference}-fishbone.svg"'})

    @get("/settings", name="rca:settings", guards=[requires(*EDITORS)], sync_to_thread=True)
    def settings_page(self, request: Request[Any, Any, Any], db: Session) -> Template:
        principal = principal_of(request)
        policy = service.get_policy(session=db, clinic_id=principal.clinic_id)
        saved = NOTICES["settings"] if request.query_params.get("done") == "settings" else ""
        return render("rca/settings.html", context={
            "values": {"start_within_hours": policy.start_within_hours,
                       "finish_within_days": policy.finish_within_days}, "errors": {}, "notice": saved})

    @post("/settings", name="rca:settings-save", guards=[requires(*EDITORS)], sync_to_thread=True)
    def save_settings(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        principal = principal_of(request)
        try:
            service.update_policy(session=db, clinic_id=principal.clinic_id, principal=principal,
                                  start_within_hours=data.get("start_within_hours"),
                                  finish_within_days=data.get("finish_within_days"))
        except DomainError as exc:
            db.rollback()
            return render("rca/settings.html", status_code=exc.status_code, context={
                "values": data, "errors": field_messages(request, exc), "notice": ""})
        return Redirect("/rca/settings?done=settings")
