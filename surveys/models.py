"""Survey tables: versioned templates, per-clinic settings, invitations (with their link digests), responses
and answers, and the record of each month's panel sample."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import BigIntPK
from core.models import utc_field
from surveys.defaults import POST_CALLBACK, SERVICE
from surveys.enums import InvitationStatus, SurveyTrigger
from surveys.questions import QuestionDef, parse_questions


class SurveyTemplate(SQLModel, table=True):
    """One version of a questionnaire. Versions are never edited: a change is a new row, and responses keep
    the version they answered."""

    __tablename__ = "survey_template"
    __table_args__ = (UniqueConstraint("clinic_id", "code", "version", name="uq_survey_template_version"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    code: str = Field(max_length=32)
    version: int = 1
    title_zh: str = Field(max_length=120)
    title_en: str = Field(max_length=120)
    intro_zh: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    intro_en: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    questions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str = Field(default="", max_length=200)  # what changed in this version
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = utc_field(default_now=True)

    def title(self, language: str) -> str:
        return self.title_zh if language == "zh-CN" else self.title_en

    def intro(self, language: str) -> str:
        return self.intro_zh if language == "zh-CN" else self.intro_en

    def question_defs(self) -> list[QuestionDef]:
        return parse_questions(self.questions)


class SurveySettings(SQLModel, table=True):
    """A clinic's survey knobs; reference values are the defaults (DESIGN.md: [DESIGN] items are per clinic)."""

    __tablename__ = "survey_settings"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", unique=True)
    after_callback: bool = True
    delay_hours: int = 24
    min_days_between: int = 30  # at most one invitation per patient in this many days
    sample_percent: int = 5  # of the active panel, each month; 0 turns the sample off
    sample_day: int = 1  # day of the month the sample is drawn (or the first run after it)
    token_days: int = 14
    reminder_after_days: int = 3
    window_start_hour: int = 9  # SMS go out between these local hours only
    window_end_hour: int = 20
    callback_template: str = Field(default=POST_CALLBACK, max_length=32)
    sample_template: str = Field(default=SERVICE, max_length=32)
    updated_by: int | None = Field(default=None, foreign_key="staff_user.id")
    updated_at: datetime = utc_field(default_now=True)


class SurveyInvitation(SQLModel, table=True):
    """An invitation to one patient to answer one template version. The link token is kept only as a
    SHA-256 digest; the reminder carries a second token for the same invitation."""

    __tablename__ = "survey_invitation"
    __table_args__ = (
        Index("ix_survey_invitation_due", "status", "send_after"),
        Index("ix_survey_invitation_patient", "patient_id", "created_at"),
        Index("ix_survey_invitation_clinic_sent", "clinic_id", "sent_local_date"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    patient_id: int = Field(foreign_key="patient.id")
    template_id: int = Field(foreign_key="survey_template.id")
    trigger: SurveyTrigger = Field(max_length=12)
    # No foreign key: the event carries the id and the invitation must not depend on followup's tables.
    callback_id: int | None = Field(default=None, unique=True)
    doctor_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    language: str = Field(default="zh-CN", max_length=8)
    status: InvitationStatus = Field(default=InvitationStatus.scheduled, max_length=12)
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = utc_field(default_now=True)
    send_after: datetime = utc_field(default_now=True)
    sent_at: datetime | None = utc_field(nullable=True)
    sent_local_date: date | None = None
    sent_month: str = Field(default="", max_length=7)
    sent_week: str = Field(default="", max_length=8)
    expires_at: datetime | None = utc_field(nullable=True)
    token_digest: str | None = Field(default=None, max_length=64, unique=True)
    reminder_token_digest: str | None = Field(default=None, max_length=64, unique=True)
    reminder_due_at: datetime | None = utc_field(nullable=True)
    reminded_at: datetime | None = utc_field(nullable=True)
    answered_at: datetime | None = utc_field(nullable=True)
    cancelled_reason: str = Field(default="", max_length=24)
    sms_message_id: int | None = Field(default=None, foreign_key="sms_message.id")
    reminder_sms_message_id: int | None = Field(default=None, foreign_key="sms_message.id")


class SurveyResponse(SQLModel, table=True):
    """A submitted questionnaire; one per invitation (the unique key is what makes a link single-use)."""

    __tablename__ = "survey_response"
    __table_args__ = (
        Index("ix_survey_response_clinic_template_day", "clinic_id", "template_code", "local_date"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    invitation_id: int = Field(foreign_key="survey_invitation.id", unique=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    template_id: int = Field(foreign_key="survey_template.id")
    template_code: str = Field(max_length=32)
    doctor_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    trigger: SurveyTrigger = Field(max_length=12)
    language: str = Field(default="zh-CN", max_length=8)
    submitted_at: datetime = utc_field(default_now=True)
    # The clinic-local day, month and ISO week, stored so reports group in portable SQL.
    local_date: date
    month: str = Field(max_length=7)
    week: str = Field(max_length=8)
    low_score: bool = False


class SurveyAnswer(SQLModel, table=True):
    """One answer with its scoring (top/bottom box, linear 0–100) fixed at submission."""

    __tablename__ = "survey_answer"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    response_id: int = Field(foreign_key="survey_response.id", index=True)
    question_key: str = Field(max_length=32)
    qtype: str = Field(max_length=12)
    dimension: str = Field(max_length=16)
    value: int | None = None
    choice: str = Field(default="", max_length=24)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    top_box: bool | None = None
    bottom_box: bool | None = None
    score: float | None = None
    low: bool = False


class SurveySampleRun(SQLModel, table=True):
    """That a clinic's monthly sample was drawn; the unique key makes the scheduled draw idempotent."""

    __tablename__ = "survey_sample_run"
    __table_args__ = (UniqueConstraint("clinic_id", "month", name="uq_survey_sample_run_month"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    month: str = Field(max_length=7)
    panel: int = 0
    invited: int = 0
    created_at: datetime = utc_field(default_now=True)


# --- API schemas ---------------------------------------------------------------------------------------


class BoxRead(BaseModel):
    n: int
    top_box_pct: float | None
    bottom_box_pct: float | None
    mean_0_100: float | None


class NpsRead(BaseModel):
    n: int
    promoters_pct: float | None
    detractors_pct: float | None
    nps: float | None
    standard_error: float | None


class QuestionResultRead(BaseModel):
    key: str
    type: str
    dimension: str
    text: str
    box: BoxRead
    nps: NpsRead | None


class DimensionResultRead(BaseModel):
    dimension: str
    items: int
    box: BoxRead


class DoctorResultRead(BaseModel):
    doctor_id: int | None
    name: str
    responses: int
    invitations: int
    response_rate_pct: float | None
    nps: NpsRead
    box: BoxRead


class PeriodResultRead(BaseModel):
    period: str
    responses: int
    invitations: int
    response_rate_pct: float | None
    nps: NpsRead
    box: BoxRead


class SurveyResultsRead(BaseModel):
    template: str
    date_from: date
    date_to: date
    granularity: str
    invitations_sent: int
    responses: int
    response_rate_pct: float | None
    nps: NpsRead
    questions: list[QuestionResultRead]
    dimensions: list[DimensionResultRead]
    doctors: list[DoctorResultRead]
    periods: list[PeriodResultRead]
    adjusted: bool = False  # scores are unadjusted (no patient-mix or mode adjustment)

