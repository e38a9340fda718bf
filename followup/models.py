"""Follow-up tables: readings, pending SMS questions, clinic rules (versioned), alerts and callbacks."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, Index, Numeric, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from core.db import BigIntPK
from core.models import utc_field
from followup.enums import GlucoseContext, MeterFlag, ReadingKind, ReadingSource, Severity

LOINC = {
    # clinical-rules.md §4.1: pick the glucose code from the unit (molar vs mass), never mix them.
    (ReadingKind.glucose, "mmol/L", False): "14743-9",
    (ReadingKind.glucose, "mg/dL", False): "41653-7",
    (ReadingKind.glucose, "mmol/L", True): "14770-2",
    (ReadingKind.glucose, "mg/dL", True): "41604-0",
    (ReadingKind.blood_pressure, "mmHg", False): "85354-9",
    (ReadingKind.heart_rate, "/min", False): "8867-4",
    (ReadingKind.weight, "kg", False): "29463-7",
}


class Reading(SQLModel, table=True):
    """One home or clinic measurement: the value as sent (with its unit) and the canonical value."""

    __table_args__ = (
        Index("ix_reading_patient_kind_taken", "patient_id", "kind", "taken_at"),
        Index("ix_reading_clinic_taken", "clinic_id", "taken_at"),
        # An external identifier (SMS id + position, import row id, API idempotency key) stores once.
        UniqueConstraint("patient_id", "external_id", name="uq_reading_patient_external"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    patient_id: int = Field(foreign_key="patient.id")
    kind: ReadingKind = Field(max_length=16)
    context: GlucoseContext | None = Field(default=None, max_length=16)
    meter_flag: MeterFlag | None = Field(default=None, max_length=4)
    value_original: Decimal | None = Field(default=None, sa_column=Column(Numeric(8, 2), nullable=True))
    unit_original: str = Field(max_length=8)  # "mmol/L", "mg/dL", "mmHg", "/min", "kg", "jin", "lb"
    systolic: int | None = None
    diastolic: int | None = None
    value_canonical: Decimal | None = Field(default=None, sa_column=Column(Numeric(8, 2), nullable=True))
    taken_at: datetime = utc_field()
    received_at: datetime = utc_field(default_now=True)
    source: ReadingSource = Field(max_length=8)
    entered_by_kind: str = Field(max_length=12)  # patient, caregiver, staff, api, import
    entered_by_id: int | None = None
    sms_message_id: int | None = Field(default=None, foreign_key="sms_message.id")
    external_id: str | None = Field(default=None, max_length=100)
    note: str = Field(default="", max_length=200)
    voided_at: datetime | None = utc_field(nullable=True)

    @property
    def loinc(self) -> str:
        if self.kind == ReadingKind.glucose:
            unit = self.unit_original if self.unit_original in ("mmol/L", "mg/dL") else "mmol/L"
            return LOINC[(self.kind, unit, self.context == GlucoseContext.fasting)]
        unit = {ReadingKind.blood_pressure: "mmHg", ReadingKind.heart_rate: "/min", ReadingKind.weight: "kg"}[self.kind]
        return LOINC[(self.kind, unit, False)]


class PendingStatus(StrEnum):
    open = "open"
    confirmed = "confirmed"
    rejected = "rejected"
    superseded = "superseded"
    expired = "expired"


class PendingConfirmation(SQLModel, table=True):
    """A question asked by SMS ("did you mean 150/95?"); OK/确认 records the proposal, N/不对 drops it."""

    __tablename__ = "pending_confirmation"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    sms_message_id: int | None = Field(default=None, foreign_key="sms_message.id")
    question_kind: str = Field(max_length=20)
    proposal: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: PendingStatus = Field(default=PendingStatus.open, max_length=12)
    created_at: datetime = utc_field(default_now=True)
    expires_at: datetime = utc_field()
    resolved_at: datetime | None = utc_field(nullable=True)


class ClinicRule(SQLModel, table=True):
    """A clinic's rule as data; every edit is a new version, and alerts record the version that fired."""

    __tablename__ = "clinic_rule"
    __table_args__ = (UniqueConstraint("clinic_id", "code", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    code: str = Field(max_length=24)
    version: int = 1
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    active: bool = True
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = utc_field(default_now=True)


class CallbackStatus(StrEnum):
    open = "open"
    closed = "closed"


class Callback(SQLModel, table=True):
    """A call the care team owes a patient. At most one open callback per patient and rule, enforced by a
    partial unique index, so concurrent readings add to the open one instead of opening another."""

    __table_args__ = (
        Index("uq_callback_open_patient_rule", "patient_id", "rule_code", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_callback_queue", "clinic_id", "status", "due_at"),
        # The escalation sweep reads only open, not yet escalated callbacks by due time, across clinics.
        Index("ix_callback_escalation_due", "due_at", sqlite_where=text("status = 'open' AND escalated_at IS NULL"),
              postgresql_where=text("status = 'open' AND escalated_at IS NULL")),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    rule_code: str = Field(max_length=24)
    rule_version: int = 1
    severity: Severity = Field(max_length=12)
    status: CallbackStatus = Field(default=CallbackStatus.open, max_length=8)
    reason_zh: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    reason_en: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    reading_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    opened_at: datetime = utc_field(default_now=True)
    due_at: datetime = utc_field()
    next_attempt_at: datetime | None = utc_field(nullable=True)
    assigned_to: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    attempts: int = 0
    escalated_at: datetime | None = utc_field(nullable=True)
    closed_at: datetime | None = utc_field(nullable=True)
    closed_by: int | None = Field(default=None, foreign_key="staff_user.id")
    outcome: str = Field(default="", max_length=24)
    close_reason: str = Field(default="", max_length=24)


class CallbackEvent(SQLModel, table=True):
    """The callback's history: every change is a row (opened, hit added, attempt, escalated, closed…)."""

    __tablename__ = "callback_event"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    callback_id: int = Field(foreign_key="callback.id", index=True)
    at: datetime = utc_field(default_now=True)
    kind: str = Field(max_length=20)
    actor_id: int | None = Field(default=None, foreign_key="staff_user.id")
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# --- API schemas ---------------------------------------------------------------------------------------


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value.normalize())


# Readings are numbers in JSON (11.2, 200), not the strings pydantic makes of a Decimal.
JsonDecimal = Annotated[Decimal, PlainSerializer(_json_number, return_type=int | float, when_used="json")]


class ReadingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: int = PydanticField(ge=1, le=2**63 - 1)  # beyond a database integer names no patient
    kind: ReadingKind
    value: Decimal | None = None
    systolic: int | None = None
    diastolic: int | None = None
    pulse: int | None = None
    unit: str | None = None
    context: GlucoseContext | None = None
    meter_flag: MeterFlag | None = None
    taken_at: datetime
    external_id: str | None = PydanticField(default=None, max_length=100)


class ReadingRead(BaseModel):
    """A stored reading as the API shows it; times carry the patient's UTC offset."""

    id: int
    patient_id: int
    kind: ReadingKind
    value: JsonDecimal | None
    unit: str
    systolic: int | None
    diastolic: int | None
    value_canonical: JsonDecimal | None
    canonical_unit: str
    context: GlucoseContext | None
    meter_flag: MeterFlag | None
    taken_at: datetime
    received_at: datetime
    source: ReadingSource
    entered_by: str
    external_id: str | None
    loinc: str


class AlertRead(BaseModel):
    """A callback a reading raised (or added to): `opened` is false when one was already open for the rule."""

    callback_id: int
    rule_code: str
    severity: Severity
    due_at: datetime
    reason: str
    opened: bool


class ReadingCreated(BaseModel):
    readings: list[ReadingRead]
    alerts: list[AlertRead]


class ReadingList(BaseModel):
    patient_id: int
    items: list[ReadingRead]
    total: int
    page: int
    per_page: int


class FollowupPolicy(SQLModel, table=True):
    """A clinic's follow-up promises (clinical-rules.md §3 [DESIGN]): when each tier of callback is due, how
    soon an unanswered call is retried, how many tries before it escalates, the service hours, who is on call
    out of hours and who supervises. A clinic without a row works to the defaults below."""

    __tablename__ = "followup_policy"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", unique=True)
    due_emergency_minutes: int = 15
    due_urgent_minutes: int = 60
    due_follow_up_days: int = 14
    due_routine_days: int = 90
    backoff_emergency_minutes: int = 5
    backoff_urgent_minutes: int = 15
    backoff_same_day_minutes: int = 60
    backoff_follow_up_hours: int = 24
    backoff_routine_hours: int = 72
    max_attempts: int = 3
    service_day_start: time = Field(default=time(8, 0))
    service_day_end: time = Field(default=time(17, 30))
    service_weekdays: str = Field(default="1234567", max_length=7)  # ISO weekdays, Monday = 1
    on_call_staff_id: int | None = Field(default=None, foreign_key="staff_user.id")
    supervisor_staff_id: int | None = Field(default=None, foreign_key="staff_user.id")
    clinic_phone: str = Field(default="", max_length=20)  # the number an escalation SMS asks patients to call
    escalation_sms: bool = True
    updated_at: datetime | None = utc_field(nullable=True)
    updated_by: int | None = Field(default=None, foreign_key="staff_user.id")
