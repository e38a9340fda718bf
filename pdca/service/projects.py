"""Improvement projects: the SMART aim (population, measure, baseline, target, deadline), owner, status and
the IHI progress score."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from clinic.models import StaffUser
from core.db import utcnow
from core.errors import FieldErrors
from core.i18n import N_
from core.security import STAFF_ROLES
from pdca.enums import PROGRESS_LABELS, Direction, MeasureRole, ProjectStatus
from pdca.models import ImprovementProject, ProjectMeasure
from pdca.service import parse
from pdca.service.errors import ProjectNotFound
from pdca.service.measures import MeasureSpec, bounds, parse_measure, store_measure

TITLE_MAX = 160
POPULATION_MAX = 300
DEADLINE_YEARS = 5


def get_project(*, session: Session, clinic_id: int, project_id: int) -> ImprovementProject:
    project = session.get(ImprovementProject, project_id)
    if project is None or project.clinic_id != clinic_id:
        raise ProjectNotFound()
    return project


def list_projects(*, session: Session, clinic_id: int, status: ProjectStatus | None = None, page: int = 1,
                  per_page: int = 20) -> tuple[list[ImprovementProject], int]:
    query = select(ImprovementProject).where(ImprovementProject.clinic_id == clinic_id)
    if status is not None:
        query = query.where(ImprovementProject.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(ImprovementProject.status, ImprovementProject.deadline,
                                          ImprovementProject.id).offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total


def all_projects(*, session: Session, clinic_id: int) -> list[ImprovementProject]:
    return list(session.scalars(select(ImprovementProject).where(ImprovementProject.clinic_id == clinic_id)
                                .order_by(ImprovementProject.title)).all())


def staff_choices(*, session: Session, clinic_id: int) -> list[StaffUser]:
    """Who may own a project or a cycle: active staff of the clinic."""
    return list(session.scalars(select(StaffUser).where(
        StaffUser.clinic_id == clinic_id, StaffUser.active.is_(True),
        StaffUser.role.in_([r.value for r in STAFF_ROLES])).order_by(StaffUser.display_name)).all())


def parse_owner(session: Session, clinic_id: int, values: Mapping[str, Any], errors: FieldErrors,
                name: str = "owner_id") -> int | None:
    raw = str(values.get(name) or "").strip()
    if not raw:
        return None
    owner_id = parse.integer_id(values, name)
    owner = session.get(StaffUser, owner_id) if owner_id is not None else None
    if owner is None or owner.clinic_id != clinic_id or not owner.active:
        errors.add(name, "Choose someone from your clinic.")
        return None
    return owner.id


def parse_aim(values: Mapping[str, Any], errors: FieldErrors, *, spec: MeasureSpec | None, today: date,
              check_deadline: bool = True) -> tuple[float | None, float | None, date | None]:
    """Baseline, target and deadline, checked against the measure's range and better direction."""
    lo, hi = bounds(spec.chart, spec.metric_code) if spec is not None else (None, None)
    baseline = parse.number(values, "baseline", errors, required=N_("Enter where the measure stands now."),
                            minimum=lo, maximum=hi)
    target = parse.number(values, "target", errors, required=N_("Enter the number you aim for (some is not a number)."),
                          minimum=lo, maximum=hi)
    if baseline is not None and target is not None and spec is not None:
        if target == baseline:
            errors.add("target", "The target must differ from the baseline.")
        elif spec.direction == Direction.increase and target < baseline:
            errors.add("target", "Higher is better for this measure: the target must be above the baseline.")
        elif spec.direction == Direction.decrease and target > baseline:
            errors.add("target", "Lower is better for this measure: the target must be below the baseline.")
    deadline = parse.day(values, "deadline", errors,
                         required=N_("Enter the date you aim to reach it by (soon is not a time)."))
    if deadline is None or not check_deadline:
        pass
    elif deadline <= today:
        errors.add("deadline", "The deadline must be in the future.")
    elif deadline > today + timedelta(days=366 * DEADLINE_YEARS):
        errors.add("deadline", "Choose a deadline within %(n)s years.", n=DEADLINE_YEARS)
    return baseline, target, deadline


def create_project(*, session: Session, clinic_id: int, values: Mapping[str, Any], actor_id: int | None,
                   today: date, rca_action_id: int | None = None) -> ImprovementProject:
    """A project and its aim measure (the first outcome measure) from the new-project form."""
    errors = FieldErrors()
    title = parse.text(values, "title", errors, required=N_("Give the project a short title."), max_length=TITLE_MAX)
    population = parse.text(values, "population", errors, max_length=POPULATION_MAX,
                            required=N_("Say who the aim is about, e.g. patients with hypertension in our clinic."))
    owner_id = parse_owner(session, clinic_id, values, errors)
    spec = parse_measure(values, errors, role=MeasureRole.outcome)
    baseline, target, deadline = parse_aim(values, errors, spec=spec, today=today)
    aim_text = parse.text(values, "aim_text", errors, max_length=1000)
    errors.raise_if_any()
    assert spec is not None and baseline is not None and target is not None and deadline is not None
    project = ImprovementProject(
        clinic_id=clinic_id, title=title, owner_id=owner_id or actor_id, population=population, baseline=baseline,
        target=target, deadline=deadline, aim_text=aim_text, rca_action_id=rca_action_id, created_by=actor_id,
        progress_score=1.0,  # a charter and a team: the project exists
    )
    session.add(project)
    session.flush()
    measure = store_measure(session=session, project=project, spec=spec, actor_id=actor_id)
    project.aim_measure_id = measure.id
    session.flush()
    return project


def update_aim(*, session: Session, project: ImprovementProject, values: Mapping[str, Any], today: date) -> None:
    """Edit the title, population, owner, baseline, target, deadline and aim text (not the aim's measure)."""
    errors = FieldErrors()
    title = parse.text(values, "title", errors, required=N_("Give the project a short title."), max_length=TITLE_MAX)
    population = parse.text(values, "population", errors, max_length=POPULATION_MAX,
                            required=N_("Say who the aim is about, e.g. patients with hypertension in our clinic."))
    owner_id = parse_owner(session, project.clinic_id, values, errors)
    measure = session.get(ProjectMeasure, project.aim_measure_id) if project.aim_measure_id else None
    spec = MeasureSpec(role=MeasureRole.outcome, source=measure.source, name=measure.name, chart=measure.chart,
                       unit=measure.unit, direction=measure.direction, frequency=measure.frequency,
                       metric_code=measure.metric_code) if measure is not None else None
    # An existing project may keep a deadline that has passed; only a changed one must lie ahead.
    changed = str(values.get("deadline") or "").strip() != project.deadline.isoformat()
    baseline, target, deadline = parse_aim(values, errors, spec=spec, today=today, check_deadline=changed)
    aim_text = parse.text(values, "aim_text", errors, max_length=1000)
    errors.raise_if_any()
    project.title, project.population, project.aim_text = title, population, aim_text
    project.owner_id = owner_id or project.owner_id
    project.baseline, project.target, project.deadline = baseline, target, deadline  # type: ignore[assignment]
    project.updated_at = utcnow()
    session.flush()


def set_progress(*, session: Session, project: ImprovementProject, values: Mapping[str, Any]) -> None:
    """The team's own 0.5–5 assessment (IHI scale), and optionally the project's status."""
    errors = FieldErrors()
    raw = str(values.get("progress_score") or "").strip()
    try:
        score = float(raw)
    except ValueError:
        score = -1.0
    if score not in PROGRESS_LABELS:
        errors.add("progress_score", "Choose a score from 0.5 to 5.")
    status = parse.choice(values, "status", errors, {s.value for s in ProjectStatus}, default=project.status)
    errors.raise_if_any()
    project.progress_score = score
    project.status = ProjectStatus(status)  # type: ignore[arg-type]
    project.updated_at = utcnow()
    session.flush()
