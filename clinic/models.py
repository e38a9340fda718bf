"""Who is who: clinics, staff accounts, patients, caregivers, consent records and API tokens."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from clinic.enums import ConsentKind, GlucoseUnit, Programme, RuleProfile
from core.db import BigIntPK
from core.models import utc_field
from core.security import Role

SMS_CONSENT_VERSION = "2026-11"


class Clinic(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=120)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    profile: RuleProfile = Field(default=RuleProfile.cn, max_length=4)
    language: str = Field(default="zh-CN", max_length=8)
    emergency_number: str = Field(default="120", max_length=16)
    # The 【签名】 prefixed to Chinese SMS: the clinic's name, never a programme or diagnosis.
    sms_signature: str = Field(default="", max_length=24)
    created_at: datetime = utc_field(default_now=True)


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=120)
    role: Role = Field(max_length=12)
    language: str = Field(default="zh-CN", max_length=8)
    phone: str | None = Field(default=None, max_length=20)
    password_hash: str = Field(max_length=200)
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = utc_field(nullable=True)
    last_login_at: datetime | None = utc_field(nullable=True)
    created_at: datetime = utc_field(default_now=True)


class Patient(SQLModel, table=True):
    __table_args__ = (Index("ix_patient_clinic_name", "clinic_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    name: str = Field(max_length=120)
    # One patient per phone number: an SMS reading must never be attributed to the wrong person.
    phone: str | None = Field(default=None, max_length=20, unique=True)
    language: str = Field(default="zh-CN", max_length=8)
    date_of_birth: date | None = None
    has_hypertension: bool = False
    has_diabetes: bool = False
    glucose_unit: GlucoseUnit = Field(default=GlucoseUnit.mmol_l, max_length=8)
    timezone: str | None = Field(default=None, max_length=64)  # None: the clinic's
    family_doctor_id: int | None = Field(default=None, foreign_key="staff_user.id", index=True)
    sms_consent: bool = False
    sms_consent_at: datetime | None = utc_field(nullable=True)
    sms_consent_version: str = Field(default="", max_length=16)
    sms_opted_out: bool = False
    sms_opted_out_at: datetime | None = utc_field(nullable=True)
    phone_invalid: bool = False
    active: bool = True
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)

    @property
    def programmes(self) -> list[Programme]:
        return [p for p, on in ((Programme.hypertension, self.has_hypertension),
                                (Programme.diabetes, self.has_diabetes)) if on]

    @property
    def may_receive_sms(self) -> bool:
        return bool(self.phone) and self.sms_consent and not self.sms_opted_out and not self.phone_invalid


class Caregiver(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    name: str = Field(max_length=120)
    phone: str = Field(max_length=20, unique=True)
    language: str = Field(default="zh-CN", max_length=8)
    created_at: datetime = utc_field(default_now=True)


class CaregiverLink(SQLModel, table=True):
    __tablename__ = "caregiver_link"
    __table_args__ = (UniqueConstraint("caregiver_id", "patient_id"),)

    id: int | None = Field(default=None, primary_key=True)
    caregiver_id: int = Field(foreign_key="caregiver.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    relationship: str = Field(default="", max_length=40)
    granted_at: datetime = utc_field(default_now=True)
    revoked_at: datetime | None = utc_field(nullable=True)


class ConsentRecord(SQLModel, table=True):
    """Consent and opt-out history (PIPL Art. 29 separate consent; who, when, how)."""

    __tablename__ = "consent_record"

    id: int | None = Field(default=None, sa_type=BigIntPK, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    kind: ConsentKind = Field(max_length=16)
    channel: str = Field(max_length=16)  # web, sms, api, staff
    version: str = Field(default="", max_length=16)
    keyword: str = Field(default="", max_length=32)
    recorded_by: int | None = Field(default=None, foreign_key="staff_user.id")
    at: datetime = utc_field(default_now=True)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    name: str = Field(default="", max_length=80)
    digest: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = utc_field(default_now=True)
    last_used_at: datetime | None = utc_field(nullable=True)
    revoked_at: datetime | None = utc_field(nullable=True)


class LoginCode(SQLModel, table=True):
    """A one-time SMS code for patient and caregiver login; stored as an HMAC digest."""

    __tablename__ = "login_code"

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=20, index=True)
    digest: str = Field(max_length=64)
    expires_at: datetime = utc_field()
    attempts: int = 0
    used_at: datetime | None = utc_field(nullable=True)
    created_at: datetime = utc_field(default_now=True)


# --- API schemas ---------------------------------------------------------------------------------------


class PatientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    phone: str | None = None
    language: str = "zh-CN"
    programmes: list[Programme] = []
    glucose_unit: GlucoseUnit = GlucoseUnit.mmol_l
    sms_consent: bool = False
    date_of_birth: date | None = None
    family_doctor_id: int | None = None
    timezone: str | None = None


class PatientRead(BaseModel):
    id: int
    clinic_id: int
    name: str
    phone: str | None
    language: str
    programmes: list[Programme]
    glucose_unit: GlucoseUnit
    sms_consent: bool
    sms_opted_out: bool
    date_of_birth: date | None
    family_doctor_id: int | None
    timezone: str
    created_at: datetime
