"""PDCA work that crosses domains: projects started from RCA actions (linked on both sides), and reading a
cycle's measure from the platform's data onto the Check chart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from core.db import utcnow
from core.security import Principal
from pdca.charts import CheckReading, read_check
from pdca.enums import CycleStage, MeasureSource, SignalState
from pdca.metrics import Series, get_metric, measure_series
from pdca.models import Cycle, ImprovementProject, ProjectMeasure
from pdca.service import advance_cycle, create_project
from pdca.service.parse import plain_number


def local_today(tz: ZoneInfo) -> date:
    return utcnow().astimezone(tz).date()


# --- projects from RCA actions ------------------------------------------------------------------------------


def rca_action(*, session: Session, clinic_id: int, action_id: int) -> Any:
    """The RCA action's summary (rca.service.action_summary); another clinic's action is a 404."""
    from rca.service import action_summary

    return action_summary(session=session, clinic_id=clinic_id, action_id=action_id)


def rca_prefill(*, session: Session, clinic_id: int, action_id: int, tz: ZoneInfo) -> dict[str, str]:
    """Form values for a project testing an RCA action: its text as the title and aim, and — when the
    analysis grew out of a complaint cluster — the complaint rate of that category with its recent baseline."""
    action = rca_action(session=session, clinic_id=clinic_id, action_id=action_id)
    values: dict[str, str] = {
        "title": action.description.strip().splitlines()[0][:160] if action.description.strip() else "",
        "aim_text": f"{action.description.strip()}\n{action.measure.strip()}".strip()[:1000],
        "owner_id": str(action.owner_id),
        "deadline": action.due_date.isoformat() if action.due_date > local_today(tz) else "",
        "source": MeasureSource.catalogue.value,
    }
    category = _suggestion_category(session, action.analysis_id)
    if category:
        values.update(metric_code="complaint_rate", option_category=category, frequency="month")
        baseline = recent_level(session=session, clinic_id=clinic_id, tz=tz, metric_code="complaint_rate",
                                options={"category": category})
        if baseline is not None:
            values["baseline"] = plain_number(round(baseline, 2))
    return values


def _suggestion_category(session: Session, analysis_id: int) -> str:
    from feedback.models import RcaSuggestion
    from rca.models import RootCauseAnalysis

    analysis = session.get(RootCauseAnalysis, analysis_id)
    if analysis is None or analysis.suggestion_id is None:
        return ""
    suggestion = session.get(RcaSuggestion, analysis.suggestion_id)
    return str(suggestion.category) if suggestion is not None and suggestion.clinic_id == analysis.clinic_id else ""


def recent_level(*, session: Session, clinic_id: int, tz: ZoneInfo, metric_code: str, options: dict[str, str],
                 periods: int = 6) -> float | None:
    """A catalogue metric pooled over its last few completed periods: a baseline the committee can adjust."""
    metric = get_metric(metric_code)
    if metric is None or metric.compute is None:
        return None
    measure = ProjectMeasure(project_id=0, clinic_id=clinic_id, role="outcome", source=MeasureSource.catalogue,
                             metric_code=metric_code, options=options, name=metric.title, chart=metric.chart,
                             direction=metric.direction, frequency=metric.frequency)
    today = local_today(tz)
    series = measure_series(session=session, measure=measure, tz=tz, today=today, since=today)
    cells = [c for c in series.cells[-periods:] if c.value is not None]
    if not cells:
        return None
    if metric.chart in ("p", "u"):
        total = sum(c.denominator or 0 for c in cells)
        return sum(c.value or 0 for c in cells) / total * metric.multiply if total else None
    return sum(c.value or 0 for c in cells) / len(cells) * metric.multiply


def start_project(*, session: Session, clinic_id: int, values: Mapping[str, Any], principal: Principal, today: date,
                  rca_action_id: int | None = None) -> ImprovementProject:
    """Create the project; when it tests an RCA action, record the link on the RCA side too."""
    if rca_action_id is not None:
        rca_action(session=session, clinic_id=clinic_id, action_id=rca_action_id)  # 404 before anything is stored
    project = create_project(session=session, clinic_id=clinic_id, values=values, actor_id=principal.user_id,
                             today=today, rca_action_id=rca_action_id)
    if rca_action_id is not None:
        from rca.service import link_project

        link_project(session=session, action_id=rca_action_id, project_id=project.id, clinic_id=clinic_id,  # type: ignore[arg-type]
                     principal=principal)
    return project


# --- measures on charts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureView:
    """A measure's series and what the chart shows after a change (none when no change is given)."""

    measure: ProjectMeasure
    series: Series
    reading: CheckReading


def chart_since(project: ImprovementProject, tz: ZoneInfo, change_started_on: date | None = None) -> date:
    started = project.created_at.astimezone(tz).date()
    return min(started, change_started_on) if change_started_on is not None else started


def view_measure(*, session: Session, measure: ProjectMeasure, project: ImprovementProject, tz: ZoneInfo,
                 today: date, change_started_on: date | None = None, since: date | None = None) -> MeasureView:
    """The measure's series (its baseline reaching back before `since` or the change) and the Check reading."""
    series = measure_series(session=session, measure=measure, tz=tz, today=today,
                            since=chart_since(project, tz, change_started_on or since))
    return MeasureView(measure, series, read_check(series, change_started_on))


def cycle_view(*, session: Session, cycle: Cycle, project: ImprovementProject, tz: ZoneInfo,
               today: date) -> MeasureView | None:
    """The cycle's measure with the change marked (None when the cycle has no measure yet)."""
    measure = session.get(ProjectMeasure, cycle.measure_id) if cycle.measure_id else None
    if measure is None:
        return None
    return view_measure(session=session, measure=measure, project=project, tz=tz, today=today,
                        change_started_on=cycle.change_started_on)


def advance(*, session: Session, cycle: Cycle, project: ImprovementProject, from_stage: str,
            values: Mapping[str, Any], principal: Principal, tz: ZoneInfo, today: date) -> CycleStage:
    """Move the cycle on; leaving Check keeps the signal state the chart shows at that moment (read after the
    submitted fields are saved, so a corrected start day counts)."""

    def read(saved: Cycle) -> SignalState | None:
        view = cycle_view(session=session, cycle=saved, project=project, tz=tz, today=today)
        return view.reading.state if view is not None else None

    return advance_cycle(session=session, cycle=cycle, from_stage=from_stage, values=values, principal=principal,
                         today=today, check_signal=read)
