"""Feedback tables: complaints and concerns, their history, per-clinic deadlines, routing, the working calendar
and root-cause-analysis suggestions; plus the API schemas."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from core.db import BigIntPK
from core.models import utc_field
from feedback.enums import (
    Action,
    Category,
    Channel,
    Complexity,
    FeedbackKind,
    FeedbackStatus,
    Severity,
    SuggestionStatus,
    SuggestionTrigger,
)

DESCRIPTION_MAX = 4000
RESPONSE_MAX = 300  # the reply to the patient goes by SMS: a few segments at most


def enum_field(enum: type[StrEnum], *, default: Any = ...) -> Any:
    """An enum stored as VARCHAR: PostgreSQL enum types are global, and other domains already own names like
    'severity'; a plain string column also lets a value be added without a type migration."""
    column_type = SAEnum(enum, native_enum=False, length=max(len(m.value) for m in enum) + 4,
                         values_callable=lambda members: [m.value for m in members])
    if default is ...:
        return Field(sa_type=column_type)
    return Field(default=default, sa_type=column_type)


class FeedbackPolicy(SQLModel, table=True):
    """A clinic's complaint deadlines (in working days) and thresholds; created from defaults on first use."""

    __tablename__ = "feedback_policy"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", unique=True)
    acknowledge_days: int
    resolve_days: int
    resolve_complex_days: int
    resolve_multi_days: int
    day_ends_minute: int = 17 * 60 + 30  # deadlines fall at this local time on their working day
    due_soon_hours: int = 4
    rca_threshold: int = 3
    rca_window_days: int = 30
    # Who is told about breaches and possible-harm items; None means every committee member and admin.
    supervisor_id: int | None = Field(default=None, foreign_key="staff_user.id")
    updated_at: datetime = utc_field(default_now=True)
    updated_by: int | None = Field(default=None, foreign_key="staff_user.id")


class FeedbackRoute(SQLModel, table=True):
    """First-contact ownership by category: new items of `category` go to `owner_id`."""

    __tablename__ = "feedback_route"
    __table_args__ = (UniqueConstraint("clinic_id", "category", name="uq_feedback_route_category"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    category: Category = enum_field(Category)
    owner_id: int = Field(foreign_key="staff_user.id")


class CalendarDay(SQLModel, table=True):
    """An exception to the Monday–Friday week: a public holiday, or a weekend day that is worked (调休)."""

    __tablename__ = "feedback_calendar_day"
    __table_args__ = (UniqueConstraint("clinic_id", "day", name="uq_feedback_calendar_day"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    day: date
    is_workday: bool = False
    name: str = Field(default="", max_length=60)


class FeedbackItem(SQLModel, table=True):
    """One complaint or concern. Status changes go through compare-and-set updates and leave history rows."""

    __tablename__ = "feedback_item"
    __table_args__ = (
        Index("ix_feedback_item_inbox", "clinic_id", "status", "next_due_at"),
        Index("ix_feedback_item_category", "clinic_id", "category", "received_at"),
        # A survey response or an SMS opens at most one item, however often its event is delivered.
        UniqueConstraint("clinic_id", "survey_response_id", name="uq_feedback_item_survey_response"),
        UniqueConstraint("sms_message_id", name="uq_feedback_item_sms_message"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    reference: str = Field(max_length=16, unique=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    kind: FeedbackKind = enum_field(FeedbackKind)
    category: Category = enum_field(Category)
    channel: Channel = enum_field(Channel)
    severity: Severity = enum_field(Severity, default=Severity.medium)
    complexity: Complexity = enum_field(Complexity, default=Complexity.simple)
    status: FeedbackStatus = enum_field(FeedbackStatus, default=FeedbackStatus.received)
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    # Anonymous web complaints carry who to contact instead of a patient record.
    contact_name: str = Field(default="", max_length=120)
    contact_phone: str = Field(default="", max_length=20)
    contact_language: str = Field(default="zh-CN", max_length=8)
    contact_consent: bool = False  # may we text them about this item
    submitted_by_kind: str = Field(max_length=12)  # patient, caregiver, anonymous, staff, sms, survey, api
    submitted_by_id: int | None = None
    subject_staff_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    description: str = Field(sa_column=Column(Text, nullable=False))
    lead_department: str = Field(default="", max_length=80)
    departments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    owner_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)  # None: the committee
    received_at: datetime = utc_field(default_now=True)
    acknowledged_at: datetime | None = utc_field(nullable=True)
    investigating_at: datetime | None = utc_field(nullable=True)
    resolved_at: datetime | None = utc_field(nullable=True)
    closed_at: datetime | None = utc_field(nullable=True)
    reopened_count: int = 0
    ack_due_at: datetime = utc_field()
    resolve_due_at: datetime = utc_field()
    next_due_at: datetime | None = utc_field(nullable=True)  # the deadline that matters now; None when done
    ack_warned_at: datetime | None = utc_field(nullable=True)
    resolve_warned_at: datetime | None = utc_field(nullable=True)
    ack_breached_at: datetime | None = utc_field(nullable=True)
    resolve_breached_at: datetime | None = utc_field(nullable=True)
    escalated_at: datetime | None = utc_field(nullable=True)
    resolution: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    patient_response: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    response_sent_at: datetime | None = utc_field(nullable=True)
    response_channel: str = Field(default="", max_length=8)  # sms, web
    survey_response_id: int | None = None
    sms_message_id: int | None = Field(default=None, foreign_key="sms_message.id")
    source_detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = utc_field(default_now=True)


class FeedbackEvent(SQLModel, table=True):
    """The item's history: one row per change (created, acknowledged, assigned, note, breach, SMS sent…)."""

    __tablename__ = "feedback_event"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    item_id: int = Field(foreign_key="feedback_item.id", index=True)
    at: datetime = utc_field(default_now=True)
    kind: str = Field(max_length=24)
    actor_kind: str = Field(default="system", max_length=12)
    actor_id: int | None = None
    actor_name: str = Field(default="", max_length=120)
    from_status: str = Field(default="", max_length=14)
    to_status: str = Field(default="", max_length=14)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class RcaSuggestion(SQLModel, table=True):
    """'3 waiting-time complaints in 30 days': offered once per cluster; the RCA module opens an analysis from it.

    `cluster_key` names the cluster by its first item, so two transactions that complete the same cluster at
    once collide on the unique constraint instead of suggesting twice."""

    __tablename__ = "rca_suggestion"
    __table_args__ = (UniqueConstraint("clinic_id", "cluster_key", name="uq_rca_suggestion_cluster"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    category: Category = enum_field(Category)
    cluster_key: str = Field(max_length=40)
    item_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    threshold: int
    window_days: int
    first_received_at: datetime = utc_field()
    last_received_at: datetime = utc_field()
    status: SuggestionStatus = enum_field(SuggestionStatus, default=SuggestionStatus.open)
    trigger: SuggestionTrigger = enum_field(SuggestionTrigger, default=SuggestionTrigger.count)
    created_at: datetime = utc_field(default_now=True)
    decided_at: datetime | None = utc_field(nullable=True)
    decided_by: int | None = Field(default=None, foreign_key="staff_user.id")
    analysis_id: int | None = None  # set by the RCA module when it opens an analysis


# --- API schemas ---------------------------------------------------------------------------------------


class FeedbackCreate(BaseModel):
    """Staff entry of a complaint taken by phone, in person, or from another system."""

    model_config = ConfigDict(extra="forbid")

    kind: FeedbackKind = FeedbackKind.complaint
    category: Category
    channel: Channel = Channel.api
    severity: Severity = Severity.medium
    complexity: Complexity = Complexity.simple
    description: str = PydanticField(max_length=DESCRIPTION_MAX)
    patient_id: int | None = None
    contact_name: str = PydanticField(default="", max_length=120)
    contact_phone: str = PydanticField(default="", max_length=32)
    contact_language: str = "zh-CN"
    contact_consent: bool = False
    subject_staff_id: int | None = None
    lead_department: str = PydanticField(default="", max_length=80)
    departments: list[str] = PydanticField(default_factory=list, max_length=10)


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action
    note: str = PydanticField(default="", max_length=DESCRIPTION_MAX)
    resolution: str = PydanticField(default="", max_length=DESCRIPTION_MAX)
    patient_response: str = PydanticField(default="", max_length=RESPONSE_MAX)
    notify_patient: bool = True


class FeedbackRead(BaseModel):
    id: int
    reference: str
    kind: FeedbackKind
    category: Category
    channel: Channel
    severity: Severity
    complexity: Complexity
    status: FeedbackStatus
    patient_id: int | None
    contact_name: str
    contact_phone: str  # masked
    subject_staff_id: int | None
    owner_id: int | None
    description: str
    lead_department: str
    departments: list[str]
    received_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    ack_due_at: datetime
    resolve_due_at: datetime
    next_due_at: datetime | None
    overdue: bool
    ack_breached_at: datetime | None
    resolve_breached_at: datetime | None
    resolution: str
    patient_response: str
    response_sent_at: datetime | None
    survey_response_id: int | None
    sms_message_id: int | None


class FeedbackList(BaseModel):
    items: list[FeedbackRead]
    total: int
    page: int
    per_page: int
