"""Infrastructure tables: the audit log, the job outbox, domain events and the SMS message log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import BigIntPK, UTCDateTime, utcnow


def utc_field(*, nullable: bool = False, index: bool = False, default_now: bool = False) -> Any:
    kwargs: dict[str, Any] = {"sa_type": UTCDateTime, "nullable": nullable, "index": index}
    if default_now:
        kwargs["default_factory"] = utcnow
    else:
        kwargs["default"] = None
    return Field(**kwargs)


class AuditAction(StrEnum):
    view = "view"
    create = "create"
    update = "update"
    delete = "delete"
    export = "export"
    login = "login"
    login_failed = "login_failed"
    logout = "logout"
    sms_sent = "sms_sent"
    sms_received = "sms_received"
    security = "security"


class AuditEntry(SQLModel, table=True):
    """One row per staff view or change of patient data, login, export or SMS; never updated or deleted."""

    __tablename__ = "audit_entry"
    # The second index serves the sign-in lockout, which counts recent failures of one username.
    __table_args__ = (Index("ix_audit_entry_clinic_at", "clinic_id", "at"),
                      Index("ix_audit_entry_action_actor_at", "action", "actor_name", "at"))

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    at: datetime = utc_field(default_now=True)
    actor_kind: str = Field(max_length=16)  # staff, patient, caregiver, system, api
    actor_id: int | None = None
    actor_name: str = Field(default="", max_length=120)
    actor_role: str = Field(default="", max_length=16)
    clinic_id: int | None = Field(default=None, index=True)
    action: AuditAction = Field(max_length=16)
    object_type: str = Field(max_length=40)
    object_id: str = Field(default="", max_length=64)
    patient_id: int | None = Field(default=None, index=True)
    client_address: str = Field(default="", max_length=64)
    detail: str = Field(default="", max_length=500)


class JobStatus(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"


class OutboxJob(SQLModel, table=True):
    """Work that must happen, written in the same transaction as the change that causes it."""

    __tablename__ = "outbox_job"
    __table_args__ = (Index("ix_outbox_job_due", "status", "run_after"),)

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    actor_name: str = Field(max_length=80)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # A caller-chosen key makes scheduling idempotent ("reminder for patient 5 on 2026-11-23").
    dedupe_key: str | None = Field(default=None, max_length=160, unique=True)
    status: JobStatus = Field(default=JobStatus.pending, max_length=12)
    created_at: datetime = utc_field(default_now=True)
    run_after: datetime = utc_field(default_now=True)
    enqueued_at: datetime | None = utc_field(nullable=True)
    locked_until: datetime | None = utc_field(nullable=True)
    finished_at: datetime | None = utc_field(nullable=True)
    attempts: int = 0
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class EventRecord(SQLModel, table=True):
    """A domain event (`callback.completed`, …) as it happened; subscribers get outbox jobs."""

    __tablename__ = "event_record"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    name: str = Field(max_length=80, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    clinic_id: int | None = Field(default=None, index=True)
    at: datetime = utc_field(default_now=True)


class SmsDirection(StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class SmsStatus(StrEnum):
    received = "received"
    queued = "queued"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    undelivered = "undelivered"
    failed = "failed"
    suppressed = "suppressed"  # not sent on purpose: opted out, throttled, invalid phone


class SmsMessage(SQLModel, table=True):
    """Every SMS in or out. Inbound rows are unique per provider message id, so a redelivery is a no-op."""

    __tablename__ = "sms_message"
    __table_args__ = (
        UniqueConstraint("provider", "provider_message_id", name="uq_sms_message_provider_id"),
        Index("ix_sms_message_phone_at", "phone", "created_at"),
    )

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    direction: SmsDirection = Field(max_length=10)
    provider: str = Field(max_length=20)
    provider_message_id: str | None = Field(default=None, max_length=64)
    clinic_id: int | None = Field(default=None, index=True)
    patient_id: int | None = Field(default=None, index=True)
    phone: str = Field(max_length=20)  # the patient's side of the conversation, E.164
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    reply_body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    purpose: str = Field(default="", max_length=40)
    status: SmsStatus = Field(max_length=12)
    error_code: str = Field(default="", max_length=12)
    attempts: int = 0
    created_at: datetime = utc_field(default_now=True)
    sent_at: datetime | None = utc_field(nullable=True)
