"""Cycle pages: a new cycle, the cycle record by stage (Plan, Do, the Check chart with the change as a new
phase, Act), moving it on or back, and starting the next cycle of a ramp."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template
from sqlmodel import Session

from core import i18n
from core.audit import record_audit
from core.errors import DomainError
from core.i18n import N_
from core.models import AuditAction
from core.pdf import MEDIA_TYPE, download_headers
from core.reports import CYCLE_REPORT, render_report
from core.web import client_address, principal_of, render, requires
from pdca import service
from pdca.charts import RULE_NAMES
from pdca.enums import LABELS, ActDecision, CycleStage, next_stage, previous_stage
from pdca.flows import advance, cycle_view
from pdca.models import Cycle, ImprovementProject
from pdca.routes.common import (
    READ_ROLES,
    WRITE_ROLES,
    Form,
    as_dict,
    clinic_calendar,
    field_messages,
    may_edit,
    measure_chart,
    safe_next,
    translator,
)
from pdca.service.errors import CycleMovedOn
from pdca.service.parse import plain_number


class CyclePagesController(Controller):
    path = "/pdca"
    include_in_schema = False

    @get("/projects/{project_id:int}/cycles/new", name="pdca:cycle-new", guards=[requires(*WRITE_ROLES)],
         sync_to_thread=True)
    def new_cycle(self, request: Request[Any, Any, Any], db: Session, project_id: int) -> Template:
        principal = principal_of(request)
        project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=project_id)
        values = {"measure_id": project.aim_measure_id or "", "owner_id": principal.user_id}
        return self._new_form(db, project, values=values, errors={})

    def _new_form(self, db: Session, project: ImprovementProject, *, values: dict[str, Any], errors: dict[str, str],
                  status_code: int = 200) -> Template:
        return render("pdca/cycle_form.html", status_code=status_code, context={
            "project": project, "values": values, "errors": errors,
            "measures": service.project_measures(session=db, project_id=project.id),  # type: ignore[arg-type]
            "staff": service.staff_choices(session=db, clinic_id=project.clinic_id), "labels": LABELS,
        })

    @post("/projects/{project_id:int}/cycles/new", name="pdca:cycle-create", guards=[requires(*WRITE_ROLES)],
          sync_to_thread=True)
    def create_cycle(self, request: Request[Any, Any, Any], db: Session, project_id: int, data: Form) -> Any:
        principal = principal_of(request)
        _, _, today = clinic_calendar(db, principal)
        project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=project_id)
        values = as_dict(data)
        try:
            cycle = service.create_cycle(session=db, project=project, values=values, principal=principal, today=today)
        except DomainError as exc:
            db.rollback()
            return self._new_form(db, project, values=values, errors=field_messages(request, exc),
                                  status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.create, object_type="pdca_cycle", object_id=cycle.id,
                     principal=principal, client_address=client_address(request))
        return Redirect(f"/pdca/cycles/{cycle.id}?saved=created")

    @get("/cycles/{cycle_id:int}", name="pdca:cycle", guards=[requires(*READ_ROLES)], sync_to_thread=True)
    def cycle(self, request: Request[Any, Any, Any], db: Session, cycle_id: int) -> Template:
        return self._page(request, db, cycle_id, values=None, errors={})

    def _page(self, request: Request[Any, Any, Any], db: Session, cycle_id: int, *, values: dict[str, Any] | None,
              errors: dict[str, str], status_code: int = 200) -> Template:
        principal = principal_of(request)
        _, tz, today = clinic_calendar(db, principal)
        cycle = service.get_cycle(session=db, clinic_id=principal.clinic_id, cycle_id=cycle_id)
        project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=cycle.project_id)
        t = translator(request)
        view = cycle_view(session=db, cycle=cycle, project=project, tz=tz, today=today)
        chart = ""
        if view is not None:
            target = project.target if view.measure.id == project.aim_measure_id else view.measure.target
            chart = measure_chart(t, view, target=target, id_prefix=f"c{cycle.id}",
                                  change_label=t(N_("Cycle %(n)s"), n=cycle.number))
        stage = CycleStage(cycle.stage)
        return render("pdca/cycle.html", status_code=status_code, context={
            "cycle": cycle, "project": project, "view": view, "chart": chart, "stage": stage, "tz": tz,
            "next_stage": next_stage(stage), "previous_stage": previous_stage(stage),
            "stages": list(CycleStage), "values": values if values is not None else _values(cycle),
            "errors": errors, "editable": set(service.editable_fields(stage)) if stage != CycleStage.done else set(),
            "may_edit": may_edit(principal), "labels": LABELS, "decisions": list(ActDecision),
            "measures": service.project_measures(session=db, project_id=project.id),  # type: ignore[arg-type]
            "staff": service.staff_choices(session=db, clinic_id=project.clinic_id),
            "history": service.history(session=db, cycle_id=cycle.id),  # type: ignore[arg-type]
            "ramp": service.ramp_of(session=db, cycle=cycle),
            "next_cycle": service.next_in_ramp(session=db, cycle_id=cycle.id),  # type: ignore[arg-type]
            "saved": request.query_params.get("saved", ""), "plain": plain_number, "rule_names": RULE_NAMES,
        })

    @get("/cycles/{cycle_id:int}/report.pdf", name="pdca:cycle-report", guards=[requires(*READ_ROLES)],
         sync_to_thread=True)
    def cycle_report(self, request: Request[Any, Any, Any], db: Session, cycle_id: int,
                     lang: str | None = None) -> Response[bytes]:
        """The cycle report as a PDF, rendered in the request (one cycle is small); another clinic's cycle: 404."""
        principal = principal_of(request)
        language = i18n.normalise_language(lang or request.state.get("language"))
        rendered = render_report(session=db, kind=CYCLE_REPORT, clinic_id=principal.clinic_id,
                                 params={"cycle_id": cycle_id}, language=language, generated_by=principal.name,
                                 default_tz=request.app.state.settings.timezone)
        record_audit(session=db, action=AuditAction.export, object_type=CYCLE_REPORT, object_id=cycle_id,
                     principal=principal, client_address=client_address(request),
                     detail=f"pdf {language} sha256={rendered.pdf.sha256}")
        return Response(rendered.pdf.content, media_type=MEDIA_TYPE, headers=download_headers(
            rendered.filename, fallback=f"careloop-cycle-{cycle_id}-{language}.pdf", inline=True))

    @post("/cycles/{cycle_id:int}", name="pdca:cycle-save", guards=[requires(*WRITE_ROLES)], sync_to_thread=True)
    def save(self, request: Request[Any, Any, Any], db: Session, cycle_id: int, data: Form) -> Any:
        principal = principal_of(request)
        _, _, today = clinic_calendar(db, principal)
        cycle = service.get_cycle(session=db, clinic_id=principal.clinic_id, cycle_id=cycle_id)
        values = as_dict(data)
        try:
            if str(values.get("from_stage") or cycle.stage) != cycle.stage:
                raise CycleMovedOn()
            service.update_cycle(session=db, cycle=cycle, values=values, today=today)
        except DomainError as exc:
            db.rollback()
            return self._page(request, db, cycle_id, values=values, errors=field_messages(request, exc),
                              status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.update, object_type="pdca_cycle", object_id=cycle.id,
                     principal=principal, client_address=client_address(request), detail=f"stage={cycle.stage}")
        return Redirect(f"/pdca/cycles/{cycle.id}?saved=saved")

    @post("/cycles/{cycle_id:int}/advance", name="pdca:cycle-advance", guards=[requires(*WRITE_ROLES)],
          sync_to_thread=True)
    def advance(self, request: Request[Any, Any, Any], db: Session, cycle_id: int, data: Form) -> Any:
        """Move on one stage: from the cycle page (with the stage's fields) or a board card (button only).
        Missing fields bring the user to the cycle page with each one marked."""
        principal = principal_of(request)
        _, tz, today = clinic_calendar(db, principal)
        cycle = service.get_cycle(session=db, clinic_id=principal.clinic_id, cycle_id=cycle_id)
        project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=cycle.project_id)
        values = as_dict(data)
        from_stage = str(values.pop("from_stage", "") or "")
        back_to = safe_next(values.pop("next", ""), f"/pdca/cycles/{cycle.id}")
        try:
            target = advance(session=db, cycle=cycle, project=project, from_stage=from_stage, values=values,
                             principal=principal, tz=tz, today=today)
            if target == CycleStage.done and values.get("start_next") in ("on", "1", "true") \
                    and cycle.act_decision in (ActDecision.adopt, ActDecision.adapt):
                child = service.start_next_cycle(session=db, cycle=cycle, project=project, principal=principal)
                back_to = f"/pdca/cycles/{child.id}"
        except DomainError as exc:
            db.rollback()
            shown = None if isinstance(exc, CycleMovedOn) else {**_values(_fresh(db, cycle_id)), **values}
            return self._page(request, db, cycle_id, values=shown, errors=field_messages(request, exc),
                              status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.update, object_type="pdca_cycle", object_id=cycle.id,
                     principal=principal, client_address=client_address(request), detail=f"{from_stage}→{target}")
        return Redirect(_with(back_to, f"moved={cycle.id}"))

    @post("/cycles/{cycle_id:int}/back", name="pdca:cycle-back", guards=[requires(*WRITE_ROLES)], sync_to_thread=True)
    def back(self, request: Request[Any, Any, Any], db: Session, cycle_id: int, data: Form) -> Any:
        principal = principal_of(request)
        cycle = service.get_cycle(session=db, clinic_id=principal.clinic_id, cycle_id=cycle_id)
        values = as_dict(data)
        from_stage = str(values.get("from_stage") or "")
        back_to = safe_next(values.get("next"), f"/pdca/cycles/{cycle.id}")
        try:
            target = service.move_back(session=db, cycle=cycle, from_stage=from_stage, principal=principal,
                                       note=str(values.get("note") or "")[:300])
        except DomainError as exc:
            db.rollback()
            return self._page(request, db, cycle_id, values=None, errors=field_messages(request, exc),
                              status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.update, object_type="pdca_cycle", object_id=cycle.id,
                     principal=principal, client_address=client_address(request), detail=f"{from_stage}→{target}")
        return Redirect(_with(back_to, f"moved={cycle.id}"))

    @post("/cycles/{cycle_id:int}/next", name="pdca:cycle-ramp", guards=[requires(*WRITE_ROLES)], sync_to_thread=True)
    def next_cycle(self, request: Request[Any, Any, Any], db: Session, cycle_id: int) -> Any:
        principal = principal_of(request)
        cycle = service.get_cycle(session=db, clinic_id=principal.clinic_id, cycle_id=cycle_id)
        project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=cycle.project_id)
        try:
            child = service.start_next_cycle(session=db, cycle=cycle, project=project, principal=principal)
        except DomainError as exc:
            db.rollback()
            return self._page(request, db, cycle_id, values=None, errors=field_messages(request, exc),
                              status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.create, object_type="pdca_cycle", object_id=child.id,
                     principal=principal, client_address=client_address(request), detail=f"ramp from {cycle.id}")
        return Redirect(f"/pdca/cycles/{child.id}?saved=ramp")


def _fresh(db: Session, cycle_id: int) -> Cycle:
    cycle = db.get(Cycle, cycle_id)
    assert cycle is not None
    return cycle


def _values(cycle: Cycle) -> dict[str, Any]:
    """The cycle's fields as a form shows them."""
    return {
        "change_idea": cycle.change_idea, "objective": cycle.objective, "prediction": cycle.prediction,
        "plan_who": cycle.plan_who, "plan_what": cycle.plan_what,
        "plan_when": cycle.plan_when.isoformat() if cycle.plan_when else "", "plan_where": cycle.plan_where,
        "measure_id": cycle.measure_id or "", "owner_id": cycle.owner_id or "", "do_notes": cycle.do_notes,
        "change_started_on": cycle.change_started_on.isoformat() if cycle.change_started_on else "",
        "check_result": cycle.check_result, "act_decision": cycle.act_decision or "", "act_notes": cycle.act_notes,
    }


def _with(url: str, param: str) -> str:
    return url + ("&" if "?" in url else "?") + param
