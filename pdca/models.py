"""PDCA tables: improvement projects with their SMART aim, the family of measures, manual series, cycles
(PDSA records linked into ramps) and each cycle's stage history."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from core.db import BigIntPK
from core.models import utc_field
from pdca.enums import ActDecision, CycleStage, Direction, Frequency, MeasureRole, MeasureSource, ProjectStatus


def _enum(cls: type[StrEnum], name: str) -> SAEnum:
    # PostgreSQL enum types are global: prefix ours so another domain's `direction` cannot collide.
    return SAEnum(cls, name=name)


class ImprovementProject(SQLModel, table=True):
    """A project answering the Model for Improvement's first question with a SMART aim.

    The aim's measure is one of the project's measures (`aim_measure_id`); baseline and target are in the
    measure's display unit (percent for proportions, per 1,000 for rates)."""

    __tablename__ = "pdca_project"
    __table_args__ = (Index("ix_pdca_project_clinic_status", "clinic_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    title: str = Field(max_length=160)
    owner_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    status: ProjectStatus = Field(default=ProjectStatus.active, sa_type=_enum(ProjectStatus, "pdca_project_status"))
    population: str = Field(max_length=300)
    aim_measure_id: int | None = None  # set right after the first measure is stored
    baseline: float
    target: float
    deadline: date
    aim_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    progress_score: float = 0.5
    # The RCA action this project tests (rca is upstream, so the id is kept without a foreign key: the RCA
    # side records its own link through rca.service.link_project).
    rca_action_id: int | None = Field(default=None, index=True)
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class ProjectMeasure(SQLModel, table=True):
    """One measure of a project's family: a catalogue metric (with its options) or a manual series."""

    __tablename__ = "pdca_measure"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="pdca_project.id", index=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    role: MeasureRole = Field(sa_type=_enum(MeasureRole, "pdca_measure_role"))
    source: MeasureSource = Field(sa_type=_enum(MeasureSource, "pdca_measure_source"))
    metric_code: str = Field(default="", max_length=40)  # catalogue measures
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    name: str = Field(max_length=160)  # manual measures; catalogue measures show the catalogue title
    chart: str = Field(max_length=8)
    unit: str = Field(default="", max_length=40)
    direction: Direction = Field(sa_type=_enum(Direction, "pdca_direction"))
    frequency: Frequency = Field(sa_type=_enum(Frequency, "pdca_frequency"))
    numerator: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    denominator: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    target: float | None = None
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = utc_field(default_now=True)


class ManualValue(SQLModel, table=True):
    """One period of a manual series; edits overwrite the row and leave an audit entry."""

    __tablename__ = "pdca_manual_value"
    __table_args__ = (UniqueConstraint("measure_id", "period_start", name="uq_pdca_manual_value_period"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    measure_id: int = Field(foreign_key="pdca_measure.id", index=True)
    period_start: date
    value: float
    denominator: float | None = None
    note: str = Field(default="", max_length=200)
    entered_by: int | None = Field(default=None, foreign_key="staff_user.id")
    entered_at: datetime = utc_field(default_now=True)
    updated_by: int | None = Field(default=None, foreign_key="staff_user.id")
    updated_at: datetime = utc_field(default_now=True)


class Cycle(SQLModel, table=True):
    """One PDSA cycle: a change idea tested with a prediction, a plan, what happened, the chart read at
    Check, and the decision. `parent_id` is the previous cycle of its ramp, `ramp_id` the ramp's first."""

    __tablename__ = "pdca_cycle"
    __table_args__ = (
        Index("ix_pdca_cycle_board", "clinic_id", "stage"),
        UniqueConstraint("project_id", "number", name="uq_pdca_cycle_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    project_id: int = Field(foreign_key="pdca_project.id", index=True)
    number: int  # 1, 2, … within the project
    measure_id: int | None = Field(default=None, foreign_key="pdca_measure.id")
    owner_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    stage: CycleStage = Field(default=CycleStage.plan, sa_type=_enum(CycleStage, "pdca_cycle_stage"))
    change_idea: str = Field(max_length=300)
    objective: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    prediction: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    plan_who: str = Field(default="", max_length=200)
    plan_what: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    plan_when: date | None = None
    plan_where: str = Field(default="", max_length=200)
    do_notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    change_started_on: date | None = None  # the first day of the change: a new phase on the chart
    check_result: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    check_signal: str = Field(default="", max_length=16)  # SignalState read when the cycle left Check
    act_decision: ActDecision | None = Field(default=None, sa_type=_enum(ActDecision, "pdca_act_decision"))
    act_notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    parent_id: int | None = Field(default=None, foreign_key="pdca_cycle.id")
    ramp_id: int | None = Field(default=None, index=True)
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)
    stage_changed_at: datetime = utc_field(default_now=True)
    reminded_at: datetime | None = utc_field(nullable=True)


class CycleStageChange(SQLModel, table=True):
    """A cycle's history: one row per stage transition (and the start of a ramp's next cycle)."""

    __tablename__ = "pdca_cycle_stage_change"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    cycle_id: int = Field(foreign_key="pdca_cycle.id", index=True)
    at: datetime = utc_field(default_now=True)
    actor_id: int | None = Field(default=None, foreign_key="staff_user.id")
    actor_name: str = Field(default="", max_length=120)
    from_stage: str = Field(default="", max_length=6)
    to_stage: str = Field(max_length=6)
    note: str = Field(default="", max_length=300)
