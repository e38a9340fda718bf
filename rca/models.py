"""RCA tables: the analysis and its triage and timers, the team, timeline, 5-whys chains, fishbone causes,
causal statements, graded actions, links to the complaints and callbacks it came from, its history, and the
clinic's timer policy; plus the schemas the API and the PDCA domain read."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from core.db import BigIntPK
from core.models import utc_field
from rca.enums import (
    ActionStrength,
    CausalDirection,
    FishboneCategory,
    RcaActionStatus,
    RcaLinkKind,
    RcaSource,
    RcaStatus,
    RcaTeamRole,
    SacProbability,
    SacSeverity,
)

TITLE_MAX = 160
TEXT_MAX = 4000
LABEL_MAX = 300  # a cause, a why, a causal-statement part: short enough to draw on the diagram

def enum_field(enum: type[StrEnum], *, default: Any = ..., nullable: bool = False) -> Any:
    """An enum stored as VARCHAR: PostgreSQL enum types are global (names like 'direction' are taken by other
    domains), and a plain string column lets a value be added without a type migration."""
    column_type = SAEnum(enum, native_enum=False, length=max(len(m.value) for m in enum) + 4,
                         values_callable=lambda members: [m.value for m in members])
    if default is ...:
        return Field(sa_type=column_type, nullable=nullable)
    return Field(default=default, sa_type=column_type, nullable=nullable)


DEFAULT_START_HOURS = 72  # RCA² / trusteemag: start within 72 hours of knowing a review is needed
DEFAULT_FINISH_DAYS = 45  # RCA²: analysis and action plan in 30–45 days (reference marks it unverified)


class RcaPolicy(SQLModel, table=True):
    """A clinic's RCA timers; created from the defaults the first time anyone needs them."""

    __tablename__ = "rca_policy"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", unique=True)
    start_within_hours: int = DEFAULT_START_HOURS
    finish_within_days: int = DEFAULT_FINISH_DAYS
    updated_at: datetime = utc_field(default_now=True)
    updated_by: int | None = Field(default=None, foreign_key="staff_user.id")


class RootCauseAnalysis(SQLModel, table=True):
    """One analysis. Deadlines are fixed when it is opened, so a later policy change never moves them."""

    __tablename__ = "rca_analysis"
    __table_args__ = (
        Index("ix_rca_analysis_list", "clinic_id", "status", "due_at"),
        # One analysis per suggestion, however often the button is pressed.
        UniqueConstraint("clinic_id", "suggestion_id", name="uq_rca_analysis_suggestion"),
    )

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    title: str = Field(max_length=TITLE_MAX)
    problem_statement: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    source: RcaSource = enum_field(RcaSource)
    suggestion_id: int | None = None  # feedback's RcaSuggestion; no foreign key across domain migrations
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    status: RcaStatus = enum_field(RcaStatus, default=RcaStatus.open)
    event_at: datetime | None = utc_field(nullable=True)  # when the event itself happened, if known
    location: str = Field(default="", max_length=120)
    severity: SacSeverity | None = enum_field(SacSeverity, default=None, nullable=True)
    probability: SacProbability | None = enum_field(SacProbability, default=None, nullable=True)
    sac_score: int | None = None
    blameworthy: bool = False
    # The timers: review needed since (start of both clocks), start by, finish by.
    triggered_at: datetime = utc_field()
    start_due_at: datetime = utc_field()
    due_at: datetime = utc_field()
    started_at: datetime | None = utc_field(nullable=True)
    completed_at: datetime | None = utc_field(nullable=True)
    closed_at: datetime | None = utc_field(nullable=True)
    # Set once by the sweep (compare-and-set), so a breach is announced exactly once.
    start_escalated_at: datetime | None = utc_field(nullable=True)
    finish_escalated_at: datetime | None = utc_field(nullable=True)
    lessons_learned: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)

    @property
    def reference(self) -> str:
        return f"RCA-{self.id}"


class TeamMember(SQLModel, table=True):
    __tablename__ = "rca_team_member"
    __table_args__ = (UniqueConstraint("analysis_id", "staff_id", name="uq_rca_team_member"),)

    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(foreign_key="rca_analysis.id", index=True)
    staff_id: int = Field(foreign_key="staff_user.id")
    role: RcaTeamRole = enum_field(RcaTeamRole)
    added_at: datetime = utc_field(default_now=True)


class TimelineEntry(SQLModel, table=True):
    __tablename__ = "rca_timeline_entry"

    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(foreign_key="rca_analysis.id", index=True)
    occurred_at: datetime = utc_field()
    description: str = Field(sa_column=Column(Text, nullable=False))
    actor: str = Field(default="", max_length=120)  # who acted (a role, not necessarily a user)
    source: str = Field(default="", max_length=120)  # where we know it from: record, interview…
    created_at: datetime = utc_field(default_now=True)


class WhyChain(SQLModel, table=True):
    """One 5-whys chain: a starting problem and an ordered list of why → answer steps."""

    __tablename__ = "rca_why_chain"

    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(foreign_key="rca_analysis.id", index=True)
    problem: str = Field(max_length=LABEL_MAX)
    created_at: datetime = utc_field(default_now=True)


class WhyStep(SQLModel, table=True):
    __tablename__ = "rca_why_step"
    __table_args__ = (UniqueConstraint("chain_id", "position", name="uq_rca_why_step_position"),)

    id: int | None = Field(default=None, primary_key=True)
    chain_id: int = Field(foreign_key="rca_why_chain.id", index=True)
    position: int  # 1, 2, 3… in the order asked
    question: str = Field(max_length=LABEL_MAX)
    answer: str = Field(max_length=LABEL_MAX)
    evidence: str = Field(default="", max_length=LABEL_MAX)


class Cause(SQLModel, table=True):
    """A fishbone cause in one of the 6M categories; `is_root` marks the causes the team selected as root."""

    __tablename__ = "rca_cause"

    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(foreign_key="rca_analysis.id", index=True)
    category: FishboneCategory = enum_field(FishboneCategory)
    text: str = Field(max_length=LABEL_MAX)
    is_root: bool = False
    created_at: datetime = utc_field(default_now=True)


class CausalStatement(SQLModel, table=True):
    """"<cause> increased/decreased the likelihood of <effect>, which led to <event>" (RCA² five rules)."""

    __tablename__ = "rca_causal_statement"

    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(foreign_key="rca_analysis.id", index=True)
    cause_id: int | None = Field(default=None, foreign_key="rca_cause.id")
    cause_text: str = Field(max_length=LABEL_MAX)
    direction: CausalDirection = enum_field(CausalDirection, default=CausalDirection.increased)
    effect: str = Field(max_length=LABEL_MAX)
    event: str = Field(max_length=LABEL_MAX)
    rules_confirmed: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = utc_field(default_now=True)


class RcaAction(SQLModel, table=True):
    """A corrective action, graded on the RCA² hierarchy, with an owner, a due date and its measure."""

    __tablename__ = "rca_action"
    __table_args__ = (Index("ix_rca_action_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(foreign_key="rca_analysis.id", index=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    description: str = Field(sa_column=Column(Text, nullable=False))
    strength: ActionStrength = enum_field(ActionStrength)
    cause_id: int | None = Field(default=None, foreign_key="rca_cause.id")  # the root cause it addresses
    owner_id: int = Field(foreign_key="staff_user.id", index=True)
    due_date: date
    due_at: datetime = utc_field()  # the end of `due_date` in the clinic's time zone, for the sweep
    measure: str = Field(max_length=LABEL_MAX)  # what will show whether it worked
    status: RcaActionStatus = enum_field(RcaActionStatus, default=RcaActionStatus.planned)
    outcome_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    completed_at: datetime | None = utc_field(nullable=True)
    escalated_at: datetime | None = utc_field(nullable=True)  # once per deadline; cleared when it moves
    pdca_project_id: int | None = None  # set by the PDCA domain through rca.service.link_project
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class RcaLink(SQLModel, table=True):
    """A complaint, concern or callback the analysis is about. `patient_id` is kept for the audit log."""

    __tablename__ = "rca_link"
    __table_args__ = (UniqueConstraint("analysis_id", "kind", "object_id", name="uq_rca_link"),)

    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(foreign_key="rca_analysis.id", index=True)
    kind: RcaLinkKind = enum_field(RcaLinkKind)
    object_id: int
    patient_id: int | None = Field(default=None, foreign_key="patient.id")
    created_at: datetime = utc_field(default_now=True)


class RcaHistory(SQLModel, table=True):
    """Every change to an analysis or anything in it, with who made it (the sweep acts as `system`)."""

    __tablename__ = "rca_history"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    analysis_id: int = Field(foreign_key="rca_analysis.id", index=True)
    at: datetime = utc_field(default_now=True)
    kind: str = Field(max_length=24)
    actor_kind: str = Field(default="system", max_length=12)
    actor_id: int | None = None
    actor_name: str = Field(default="", max_length=120)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# --- schemas ---------------------------------------------------------------------------------------------


class ActionRead(BaseModel):
    """What the PDCA domain (and the API) reads about an action, e.g. to prefill a project."""

    id: int
    analysis_id: int
    analysis_title: str
    description: str
    strength: ActionStrength
    owner_id: int
    due_date: date
    measure: str
    status: RcaActionStatus
    overdue: bool
    pdca_project_id: int | None


class AnalysisRead(BaseModel):
    id: int
    reference: str
    title: str
    problem_statement: str
    source: RcaSource
    status: RcaStatus
    severity: SacSeverity | None
    probability: SacProbability | None
    sac_score: int | None
    triggered_at: datetime
    start_due_at: datetime
    due_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    start_overdue: bool
    finish_overdue: bool
    actions: list[ActionRead]
