"""The PDCA board: one card per cycle in columns Plan / Do / Check / Act / Done, each with its measure's
sparkline and signal state, filtered by project and owner within the caller's clinic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from clinic.models import StaffUser
from core.i18n import N_
from pdca.charts import CheckReading, read_check, sparkline
from pdca.enums import LABELS, CycleStage, SignalState, next_stage, previous_stage
from pdca.flows import chart_since
from pdca.metrics import Series, measure_series
from pdca.models import Cycle, ImprovementProject, ProjectMeasure

DONE_SHOWN = 12  # the Done column shows the most recent cycles only; the project pages keep them all


@dataclass(frozen=True)
class Card:
    cycle: Cycle
    project: ImprovementProject
    owner: str
    measure: str
    sparkline: str
    state: SignalState | None  # None before the change has begun
    overdue: bool  # still in Plan after its planned day
    next_stage: CycleStage | None
    previous_stage: CycleStage | None


@dataclass
class Column:
    stage: CycleStage
    cards: list[Card] = field(default_factory=list)
    more: int = 0  # Done cycles not shown


@dataclass(frozen=True)
class Filters:
    project_id: int | None = None
    owner_id: int | None = None

    @property
    def query(self) -> str:
        parts = [f"project={self.project_id}" if self.project_id else "",
                 f"owner={self.owner_id}" if self.owner_id else ""]
        return "&".join(p for p in parts if p)


def _cycles(session: Session, clinic_id: int, filters: Filters) -> list[Cycle]:
    query = select(Cycle).where(Cycle.clinic_id == clinic_id)
    if filters.project_id is not None:
        query = query.where(Cycle.project_id == filters.project_id)
    if filters.owner_id is not None:
        query = query.where(Cycle.owner_id == filters.owner_id)
    return list(session.scalars(query.order_by(Cycle.stage_changed_at.desc(), Cycle.id.desc())).all())


def build_board(*, session: Session, clinic_id: int, filters: Filters, tz: ZoneInfo, today: date,
                t: Callable[..., str]) -> list[Column]:
    """The board's columns. Each measure is computed once per chart window however many cards share it."""
    cycles = _cycles(session, clinic_id, filters)
    projects = {p.id: p for p in session.scalars(select(ImprovementProject).where(
        ImprovementProject.id.in_({c.project_id for c in cycles})))} if cycles else {}
    measures = {m.id: m for m in session.scalars(select(ProjectMeasure).where(
        ProjectMeasure.id.in_({c.measure_id for c in cycles if c.measure_id})))} if cycles else {}
    owners = dict(session.execute(select(StaffUser.id, StaffUser.display_name).where(
        StaffUser.id.in_({c.owner_id for c in cycles if c.owner_id}))).all()) if cycles else {}
    columns = {stage: Column(stage) for stage in CycleStage}
    series_cache: dict[tuple[int, date], Series] = {}
    for cycle in cycles:
        column = columns[CycleStage(cycle.stage)]
        if column.stage == CycleStage.done and len(column.cards) >= DONE_SHOWN:
            column.more += 1
            continue
        project = projects[cycle.project_id]
        measure = measures.get(cycle.measure_id) if cycle.measure_id else None
        column.cards.append(_card(session, cycle, project, measure, owners.get(cycle.owner_id, ""), tz, today, t,
                                  series_cache))
    for column in columns.values():
        if column.stage != CycleStage.done:
            column.cards.sort(key=lambda c: (not c.overdue, c.cycle.plan_when or date.max, c.cycle.id))
    return list(columns.values())


def _card(session: Session, cycle: Cycle, project: ImprovementProject, measure: ProjectMeasure | None, owner: str,
          tz: ZoneInfo, today: date, t: Callable[..., str], cache: dict[tuple[int, date], Series]) -> Card:
    stage = CycleStage(cycle.stage)
    line, state = "", None
    if measure is not None:
        since = chart_since(project, tz, cycle.change_started_on)
        key = (measure.id, since)  # type: ignore[assignment]
        if key not in cache:
            cache[key] = measure_series(session=session, measure=measure, tz=tz, today=today, since=since)
        series = cache[key]
        reading: CheckReading = read_check(series, cycle.change_started_on)
        if cycle.change_started_on is not None:
            # Once decided, the card shows what the team saw at Check; before that, the live reading.
            state = SignalState(cycle.check_signal) if cycle.check_signal and stage in (
                CycleStage.act, CycleStage.done) else reading.state
        label = t(N_("%(measure)s: %(state)s"), measure=t(measure.name),
                  state=t(LABELS[state.value]) if state else t(N_("the change has not begun")))
        line = sparkline(series, phase_start=reading.phase_start, state=state or SignalState.not_enough_data,
                         label=label)
    return Card(
        cycle=cycle, project=project, owner=owner, measure=measure.name if measure else "", sparkline=line,
        state=state, overdue=stage == CycleStage.plan and cycle.plan_when is not None and cycle.plan_when < today,
        next_stage=next_stage(stage), previous_stage=previous_stage(stage),
    )
