"""Clinics, staff and patients: creation with validation, clinic-scoped lookup and listing."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy import func, or_, select
from sqlmodel import Session

from clinic.enums import ConsentKind, GlucoseUnit, Programme, RuleProfile
from clinic.models import (
    SMS_CONSENT_VERSION,
    Caregiver,
    CaregiverLink,
    Clinic,
    ConsentRecord,
    Patient,
    PatientCreate,
    PatientRead,
    StaffUser,
)
from core.db import utcnow
from core.errors import Conflict, FieldErrors, NotFound
from core.i18n import LANGUAGES
from core.security import STAFF_ROLES, Role, hash_password, password_problem


class PatientNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Patient not found.")


def normalise_phone(raw: str, *, default_region: str = "CN") -> str | None:
    """E.164 form of a phone number, or None when it cannot be a real number."""
    try:
        number = phonenumbers.parse(raw.strip(), None if raw.strip().startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def create_clinic(
    *, session: Session, code: str, name: str, timezone: str = "Asia/Shanghai",
    profile: RuleProfile = RuleProfile.cn, language: str = "zh-CN", emergency_number: str | None = None,
) -> Clinic:
    errors = FieldErrors()
    if not code.strip():
        errors.add("code", "Enter a clinic code.")
    if not name.strip():
        errors.add("name", "Enter the clinic's name.")
    if not _valid_timezone(timezone):
        errors.add("timezone", "Unknown time zone %(tz)s.", tz=timezone)
    if language not in LANGUAGES:
        errors.add("language", "Choose Simplified Chinese or English.")
    errors.raise_if_any()
    if session.scalar(select(Clinic.id).where(Clinic.code == code.strip())):
        raise Conflict("A clinic with code %(code)s already exists.", code=code)
    clinic = Clinic(
        code=code.strip(), name=name.strip(), timezone=timezone, profile=RuleProfile(profile),
        language=language,
        emergency_number=emergency_number or ("120" if RuleProfile(profile) == RuleProfile.cn else "911"),
        sms_signature=name.strip()[:20],
    )
    session.add(clinic)
    session.flush()
    return clinic


def get_clinic_by_code(*, session: Session, code: str) -> Clinic:
    clinic = session.scalar(select(Clinic).where(Clinic.code == code))
    if clinic is None:
        raise NotFound("No clinic with code %(code)s.", code=code)
    return clinic


def create_staff_user(
    *, session: Session, clinic: Clinic, username: str, password: str, role: Role | str,
    display_name: str | None = None, language: str | None = None, phone: str | None = None,
) -> StaffUser:
    errors = FieldErrors()
    username = username.strip().lower()
    if not username or len(username) > 64:
        errors.add("username", "Enter a username of at most 64 characters.")
    if (problem := password_problem(password, username=username)) is not None:
        message, params = problem
        errors.add("password", message, **params)
    if role not in {r.value for r in STAFF_ROLES}:
        errors.add("role", "Choose one of admin, doctor, nurse or committee.")
    errors.raise_if_any()
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise Conflict("The username %(username)s is taken.", username=username)
    user = StaffUser(
        clinic_id=clinic.id, username=username, display_name=(display_name or username).strip(),
        role=Role(role), language=language or clinic.language, phone=phone,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def get_staff_by_username(*, session: Session, username: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))


def list_staff(*, session: Session, clinic_id: int, roles: set[Role] | None = None) -> list[StaffUser]:
    query = select(StaffUser).where(StaffUser.clinic_id == clinic_id, StaffUser.active.is_(True))
    if roles:
        query = query.where(StaffUser.role.in_([r.value for r in roles]))
    return list(session.scalars(query.order_by(StaffUser.display_name)))


def create_patient(
    *, session: Session, clinic: Clinic, patient_in: PatientCreate, channel: str = "api",
    recorded_by: int | None = None,
) -> Patient:
    errors = FieldErrors()
    name = patient_in.name.strip()
    if not name:
        errors.add("name", "Enter the patient's name.")
    elif len(name) > 120:
        errors.add("name", "A name can have at most 120 characters.")
    phone = None
    if patient_in.phone:
        region = "CN" if clinic.profile == RuleProfile.cn else "US"
        phone = normalise_phone(patient_in.phone, default_region=region)
        if phone is None:
            errors.add("phone", "Enter a valid mobile number, e.g. +8613712345678.")
        elif session.scalar(select(Patient.id).where(Patient.phone == phone)):
            errors.add("phone", "This phone number is already registered to another patient.")
    if patient_in.language not in LANGUAGES:
        errors.add("language", "Choose zh-CN or en.")
    if patient_in.sms_consent and not patient_in.phone:
        errors.add("sms_consent", "SMS consent needs a mobile number.")
    if patient_in.timezone and not _valid_timezone(patient_in.timezone):
        errors.add("timezone", "Unknown time zone %(tz)s.", tz=patient_in.timezone)
    if patient_in.date_of_birth and not (date(1900, 1, 1) <= patient_in.date_of_birth <= date.today()):
        errors.add("date_of_birth", "Enter a date of birth between 1900 and today.")
    if patient_in.family_doctor_id is not None:
        doctor = session.get(StaffUser, patient_in.family_doctor_id)
        if doctor is None or doctor.clinic_id != clinic.id or doctor.role not in (Role.doctor, Role.nurse):
            errors.add("family_doctor_id", "Choose a doctor of this clinic.")
    errors.raise_if_any()
    now = utcnow()
    patient = Patient(
        clinic_id=clinic.id, name=name, phone=phone, language=patient_in.language,
        date_of_birth=patient_in.date_of_birth,
        has_hypertension=Programme.hypertension in patient_in.programmes,
        has_diabetes=Programme.diabetes in patient_in.programmes,
        glucose_unit=GlucoseUnit(patient_in.glucose_unit), timezone=patient_in.timezone,
        family_doctor_id=patient_in.family_doctor_id, sms_consent=patient_in.sms_consent,
        sms_consent_at=now if patient_in.sms_consent else None,
        sms_consent_version=SMS_CONSENT_VERSION if patient_in.sms_consent else "",
    )
    session.add(patient)
    session.flush()
    if patient.sms_consent:
        session.add(ConsentRecord(patient_id=patient.id, kind=ConsentKind.sms_consent, channel=channel,
                                  version=SMS_CONSENT_VERSION, recorded_by=recorded_by))
        session.flush()
    return patient


def get_patient(*, session: Session, clinic_id: int, patient_id: int) -> Patient:
    """A patient of this clinic; any other clinic's patient is indistinguishable from a missing one."""
    patient = session.get(Patient, patient_id)
    if patient is None or patient.clinic_id != clinic_id:
        raise PatientNotFound()
    return patient


_WITH_CLINIC = select(Patient, Clinic).join(Clinic, Clinic.id == Patient.clinic_id)


def get_patient_and_clinic(*, session: Session, clinic_id: int, patient_id: int) -> tuple[Patient, Clinic]:
    """`get_patient` and the patient's clinic in one query (ingest needs both for every reading)."""
    row = session.execute(_WITH_CLINIC.where(Patient.id == patient_id, Patient.clinic_id == clinic_id)).first()
    if row is None:
        raise PatientNotFound()
    return row[0], row[1]


def find_patient_and_clinic_by_phone(*, session: Session, phone: str) -> tuple[Patient, Clinic] | None:
    """The active patient with this phone and their clinic, in one query (every inbound SMS asks)."""
    row = session.execute(_WITH_CLINIC.where(Patient.phone == phone, Patient.active.is_(True))).first()
    return None if row is None else (row[0], row[1])


def list_patients(
    *, session: Session, clinic_id: int, search: str = "", programme: Programme | None = None,
    family_doctor_id: int | None = None, page: int = 1, per_page: int = 25,
) -> tuple[list[Patient], int]:
    query = select(Patient).where(Patient.clinic_id == clinic_id, Patient.active.is_(True))
    if search.strip():
        term = f"%{search.strip()}%"
        query = query.where(or_(Patient.name.ilike(term), Patient.phone.like(term)))
    if programme == Programme.hypertension:
        query = query.where(Patient.has_hypertension.is_(True))
    elif programme == Programme.diabetes:
        query = query.where(Patient.has_diabetes.is_(True))
    if family_doctor_id is not None:
        query = query.where(Patient.family_doctor_id == family_doctor_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Patient.name, Patient.id).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def patient_timezone(*, patient: Patient, clinic: Clinic) -> ZoneInfo:
    return ZoneInfo(patient.timezone or clinic.timezone)


def to_patient_read(*, patient: Patient, clinic: Clinic) -> PatientRead:
    return PatientRead(
        id=patient.id, clinic_id=patient.clinic_id, name=patient.name, phone=patient.phone,
        language=patient.language, programmes=patient.programmes, glucose_unit=patient.glucose_unit,
        sms_consent=patient.sms_consent, sms_opted_out=patient.sms_opted_out,
        date_of_birth=patient.date_of_birth, family_doctor_id=patient.family_doctor_id,
        timezone=patient.timezone or clinic.timezone, created_at=patient.created_at,
    )


def record_sms_opt_out(*, session: Session, patient: Patient, keyword: str, channel: str = "sms") -> None:
    """Stops SMS to the patient; clinical follow-up (callbacks by phone) carries on unchanged."""
    if not patient.sms_opted_out:
        patient.sms_opted_out = True
        patient.sms_opted_out_at = utcnow()
    session.add(ConsentRecord(patient_id=patient.id, kind=ConsentKind.opt_out, channel=channel, keyword=keyword))
    session.flush()


def record_sms_opt_in(*, session: Session, patient: Patient, keyword: str, channel: str = "sms") -> None:
    patient.sms_opted_out = False
    patient.sms_opted_out_at = None
    session.add(ConsentRecord(patient_id=patient.id, kind=ConsentKind.opt_in, channel=channel, keyword=keyword))
    session.flush()


def link_caregiver(
    *, session: Session, patient: Patient, name: str, phone: str, relationship: str = "",
    language: str | None = None,
) -> Caregiver:
    e164 = normalise_phone(phone)
    if e164 is None:
        errors = FieldErrors()
        errors.add("phone", "Enter a valid mobile number, e.g. +8613712345678.")
        errors.raise_if_any()
    caregiver = session.scalar(select(Caregiver).where(Caregiver.phone == e164))
    if caregiver is None:
        caregiver = Caregiver(clinic_id=patient.clinic_id, name=name.strip(), phone=e164,
                              language=language or patient.language)
        session.add(caregiver)
        session.flush()
    link = session.scalar(select(CaregiverLink).where(CaregiverLink.caregiver_id == caregiver.id,
                                                      CaregiverLink.patient_id == patient.id))
    if link is None:
        session.add(CaregiverLink(caregiver_id=caregiver.id, patient_id=patient.id, relationship=relationship))
    else:
        link.revoked_at = None
    session.flush()
    return caregiver


def caregiver_patient_ids(*, session: Session, caregiver_id: int) -> frozenset[int]:
    rows = session.scalars(select(CaregiverLink.patient_id).where(
        CaregiverLink.caregiver_id == caregiver_id, CaregiverLink.revoked_at.is_(None)))
    return frozenset(rows)
