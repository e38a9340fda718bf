"""Improvement project pages: list, new (also from an RCA action), the project with its aim, family of
measures and cycles, editing the aim, the progress score, adding measures and entering manual series."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlmodel import Session

from core.audit import record_audit
from core.errors import DomainError
from core.i18n import N_
from core.models import AuditAction
from core.web import Page, client_address, page_number, principal_of, render, requires, tr
from pdca import service
from pdca.enums import (
    LABELS,
    MANUAL_CHARTS,
    PROGRESS_SCORES,
    Direction,
    Frequency,
    MeasureRole,
    MeasureSource,
    ProjectStatus,
)
from pdca.flows import rca_action, rca_prefill, start_project, view_measure
from pdca.metrics import catalogue
from pdca.models import ImprovementProject
from pdca.routes.common import (
    READ_ROLES,
    WRITE_ROLES,
    Form,
    as_dict,
    clinic_calendar,
    field_messages,
    may_edit,
    measure_chart,
    translator,
)
from pdca.service.parse import plain_number


def measure_choices() -> dict[str, Any]:
    """What the measure fields need: the catalogue (with definitions) and the manual series' choices."""
    return {
        "metrics": list(catalogue().values()), "manual_charts": MANUAL_CHARTS, "roles": list(MeasureRole),
        "directions": list(Direction), "frequencies": list(Frequency), "labels": LABELS,
    }


class ProjectPagesController(Controller):
    path = "/pdca"
    include_in_schema = False

    @get("/projects", name="pdca:projects", guards=[requires(*READ_ROLES)], sync_to_thread=True)
    def projects(self, request: Request[Any, Any, Any], db: Session, status: str = "",
                 page: str | None = None) -> Template:
        principal = principal_of(request)
        number = page_number(page)
        chosen = ProjectStatus(status) if status in ProjectStatus.__members__ else None
        rows, total = service.list_projects(session=db, clinic_id=principal.clinic_id, status=chosen, page=number)
        return render("pdca/projects.html", context={
            "projects": rows, "page": Page(number, 20, total), "status": status, "statuses": list(ProjectStatus),
            "labels": LABELS, "may_edit": may_edit(principal), "progress": dict(PROGRESS_SCORES),
            "plain": plain_number,
        })

    @get("/projects/new", name="pdca:project-new", guards=[requires(*WRITE_ROLES)], sync_to_thread=True)
    def new_project(self, request: Request[Any, Any, Any], db: Session, rca_action: int | None = None) -> Template:
        principal = principal_of(request)
        _, tz, _ = clinic_calendar(db, principal)
        values: dict[str, Any] = {"source": "catalogue", "frequency": "month"}
        action = None
        if rca_action is not None:
            values.update(rca_prefill(session=db, clinic_id=principal.clinic_id, action_id=rca_action, tz=tz))
            action = _action(db, principal.clinic_id, rca_action)
        return self._form(db, principal.clinic_id, values=values, errors={}, action=action)

    @post("/projects/new", name="pdca:project-create", guards=[requires(*WRITE_ROLES)], sync_to_thread=True)
    def create_project(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        principal = principal_of(request)
        _, _, today = clinic_calendar(db, principal)
        values = as_dict(data)
        raw_action = str(values.get("rca_action_id") or "").strip()
        action_id = int(raw_action) if raw_action.isdigit() and len(raw_action) < 12 else None
        try:
            project = start_project(session=db, clinic_id=principal.clinic_id, values=values, principal=principal,
                                    today=today, rca_action_id=action_id)
        except DomainError as exc:
            db.rollback()
            action = _action(db, principal.clinic_id, action_id) if action_id is not None else None
            return self._form(db, principal.clinic_id, values=values, errors=field_messages(request, exc),
                              action=action, status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.create, object_type="pdca_project", object_id=project.id,
                     principal=principal, client_address=client_address(request))
        return Redirect(f"/pdca/projects/{project.id}?saved=created")

    def _form(self, db: Session, clinic_id: int, *, values: dict[str, Any], errors: dict[str, str],
              action: Any = None, project: ImprovementProject | None = None, status_code: int = 200) -> Template:
        return render("pdca/project_form.html", status_code=status_code, context={
            "values": values, "errors": errors, "action": action, "project": project,
            "staff": service.staff_choices(session=db, clinic_id=clinic_id), **measure_choices(),
        })

    @get("/projects/{project_id:int}", name="pdca:project", guards=[requires(*READ_ROLES)], sync_to_thread=True)
    def project(self, request: Request[Any, Any, Any], db: Session, project_id: int) -> Template:
        return self._page(request, db, project_id, errors={})

    def _page(self, request: Request[Any, Any, Any], db: Session, project_id: int, *, errors: dict[str, str],
              status_code: int = 200) -> Template:
        principal = principal_of(request)
        _, tz, today = clinic_calendar(db, principal)
        project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=project_id)
        t = translator(request)
        measures = service.project_measures(session=db, project_id=project.id)  # type: ignore[arg-type]
        charts = []
        cycles = service.project_cycles(session=db, project_id=project.id)  # type: ignore[arg-type]
        # Show the baseline before the earliest change tested, not only before the project began.
        first_change = min((c.change_started_on for c in cycles if c.change_started_on), default=None)
        changes = [(c.change_started_on, t(N_("Cycle %(n)s"), n=c.number)) for c in cycles if c.change_started_on]
        for m in measures:
            view = view_measure(session=db, measure=m, project=project, tz=tz, today=today,
                                since=first_change)
            target = project.target if m.id == project.aim_measure_id else m.target
            charts.append((m, view, measure_chart(t, view, target=target, id_prefix=f"m{m.id}", changes=changes)))
        aim = next((m for m in measures if m.id == project.aim_measure_id), None)
        return render("pdca/project.html", status_code=status_code, context={
            "project": project, "aim": aim, "charts": charts, "cycles": cycles, "labels": LABELS,
            "progress_scores": PROGRESS_SCORES, "statuses": list(ProjectStatus), "errors": errors,
            "may_edit": may_edit(principal), "plain": plain_number, "saved": request.query_params.get("saved", ""),
            "owner": _staff_name(db, project.owner_id),
            "action": _action(db, principal.clinic_id, project.rca_action_id),
        })

    @get("/projects/{project_id:int}/edit", name="pdca:project-edit", guards=[requires(*WRITE_ROLES)],
         sync_to_thread=True)
    def edit_project(self, request: Request[Any, Any, Any], db: Session, project_id: int) -> Template:
        principal = principal_of(request)
        project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=project_id)
        values = {"title": project.title, "population": project.population, "owner_id": project.owner_id or "",
                  "baseline": plain_number(project.baseline), "target": plain_number(project.target),
                  "deadline": project.deadline.isoformat(), "aim_text": project.aim_text}
        return self._form(db, principal.clinic_id, values=values, errors={}, project=project)

    @post("/projects/{project_id:int}/edit", name="pdca:project-update", guards=[requires(*WRITE_ROLES)],
          sync_to_thread=True)
    def update_project(self, request: Request[Any, Any, Any], db: Session, project_id: int, data: Form) -> Any:
        principal = principal_of(request)
        _, _, today = clinic_calendar(db, principal)
        project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=project_id)
        values = as_dict(data)
        try:
            service.update_aim(session=db, project=project, values=values, today=today)
        except DomainError as exc:
            db.rollback()
            project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=project_id)
            return self._form(db, principal.clinic_id, values=values, errors=field_messages(request, exc),
                              project=project, status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.update, object_type="pdca_project", object_id=project.id,
                     principal=principal, client_address=client_address(request), detail="aim")
        return Redirect(f"/pdca/projects/{project.id}?saved=aim")

    @post("/projects/{project_id:int}/progress", name="pdca:project-progress", guards=[requires(*WRITE_ROLES)],
          sync_to_thread=True)
    def progress(self, request: Request[Any, Any, Any], db: Session, project_id: int, data: Form) -> Any:
        principal = principal_of(request)
        project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=project_id)
        try:
            service.set_progress(session=db, project=project, values=as_dict(data))
        except DomainError as exc:
            db.rollback()
            return self._page(request, db, project_id, errors=field_messages(request, exc),
                              status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.update, object_type="pdca_project", object_id=project.id,
                     principal=principal, client_address=client_address(request),
                     detail=f"progress={project.progress_score} status={project.status}")
        return Redirect(f"/pdca/projects/{project.id}?saved=progress")

    @get("/projects/{project_id:int}/measures/new", name="pdca:measure-new", guards=[requires(*WRITE_ROLES)],
         sync_to_thread=True)
    def new_measure(self, request: Request[Any, Any, Any], db: Session, project_id: int) -> Template:
        principal = principal_of(request)
        project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=project_id)
        return render("pdca/measure_form.html", context={
            "project": project, "values": {"source": "catalogue", "role": "process", "frequency": "month"},
            "errors": {}, **measure_choices()})

    @post("/projects/{project_id:int}/measures/new", name="pdca:measure-create", guards=[requires(*WRITE_ROLES)],
          sync_to_thread=True)
    def create_measure(self, request: Request[Any, Any, Any], db: Session, project_id: int, data: Form) -> Any:
        principal = principal_of(request)
        project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=project_id)
        values = as_dict(data)
        try:
            measure = service.add_measure(session=db, project=project, values=values, actor_id=principal.user_id)
        except DomainError as exc:
            db.rollback()
            return render("pdca/measure_form.html", status_code=exc.status_code, context={
                "project": project, "values": values, "errors": field_messages(request, exc), **measure_choices()})
        record_audit(session=db, action=AuditAction.create, object_type="pdca_measure", object_id=measure.id,
                     principal=principal, client_address=client_address(request))
        target = f"/pdca/measures/{measure.id}" if measure.source == MeasureSource.manual else \
            f"/pdca/projects/{project.id}"
        return Redirect(target + "?saved=measure")

    @get("/measures/{measure_id:int}", name="pdca:measure", guards=[requires(*READ_ROLES)], sync_to_thread=True)
    def measure(self, request: Request[Any, Any, Any], db: Session, measure_id: int) -> Template:
        return self._measure_page(request, db, measure_id, values={}, errors={})

    def _measure_page(self, request: Request[Any, Any, Any], db: Session, measure_id: int, *, values: dict[str, Any],
                      errors: dict[str, str], status_code: int = 200) -> Template:
        principal = principal_of(request)
        _, tz, today = clinic_calendar(db, principal)
        measure = service.get_measure(session=db, clinic_id=principal.clinic_id, measure_id=measure_id)
        project = service.get_project(session=db, clinic_id=principal.clinic_id, project_id=measure.project_id)
        cycles = service.project_cycles(session=db, project_id=project.id)  # type: ignore[arg-type]
        first_change = min((c.change_started_on for c in cycles if c.change_started_on), default=None)
        changes = [(c.change_started_on, tr(request, "Cycle %(n)s", n=c.number)) for c in cycles if c.change_started_on]
        view = view_measure(session=db, measure=measure, project=project, tz=tz, today=today, since=first_change)
        target = project.target if measure.id == project.aim_measure_id else measure.target
        metric = catalogue().get(measure.metric_code) if measure.source == MeasureSource.catalogue else None
        rows = service.manual_values(session=db, measure_id=measure.id) if measure.source == MeasureSource.manual \
            else []
        editing = request.query_params.get("edit", "")
        for row in rows:
            if not values and row.period_start.isoformat() == editing:
                values = {"period": row.period_start.isoformat(), "value": plain_number(row.value),
                          "denominator": plain_number(row.denominator), "note": row.note}
        return render("pdca/measure.html", status_code=status_code, context={
            "measure": measure, "project": project, "metric": metric, "view": view, "rows": rows,
            "chart": measure_chart(translator(request), view, target=target, id_prefix=f"m{measure.id}",
                                   changes=changes),
            "values": values, "errors": errors, "may_edit": may_edit(principal), "labels": LABELS,
            "plain": plain_number, "saved": request.query_params.get("saved", ""), "today": today,
            "is_aim": measure.id == project.aim_measure_id,
        })

    @post("/measures/{measure_id:int}/values", name="pdca:measure-value", guards=[requires(*WRITE_ROLES)],
          sync_to_thread=True)
    def save_value(self, request: Request[Any, Any, Any], db: Session, measure_id: int, data: Form) -> Any:
        principal = principal_of(request)
        _, _, today = clinic_calendar(db, principal)
        measure = service.get_measure(session=db, clinic_id=principal.clinic_id, measure_id=measure_id)
        values = as_dict(data)
        try:
            service.save_manual_value(session=db, measure=measure, values=values, principal=principal, today=today,
                                      client_address=client_address(request))
        except DomainError as exc:
            db.rollback()
            return self._measure_page(request, db, measure_id, values=values, errors=field_messages(request, exc),
                                      status_code=exc.status_code)
        return Redirect(f"/pdca/measures/{measure.id}?saved=value")


def _action(db: Session, clinic_id: int, action_id: int | None) -> Any:
    if action_id is None:
        return None
    try:
        return rca_action(session=db, clinic_id=clinic_id, action_id=action_id)
    except DomainError:
        return None


def _staff_name(db: Session, staff_id: int | None) -> str:
    from clinic.models import StaffUser

    person = db.get(StaffUser, staff_id) if staff_id else None
    return person.display_name if person else ""

