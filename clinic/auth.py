"""Signing in: staff passwords with lockout, API tokens, one-time SMS codes for patients and caregivers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from clinic.models import ApiToken, Caregiver, LoginCode, Patient, StaffUser
from clinic.service import caregiver_patient_ids, normalise_phone
from core.db import utcnow
from core.errors import DomainError, NotAuthenticated, RateLimited
from core.security import (
    Principal,
    Role,
    code_digest,
    new_login_code,
    new_token,
    token_digest,
    verify_password,
)

CODE_LIFETIME = timedelta(minutes=10)
CODE_MAX_ATTEMPTS = 5
CODES_PER_HOUR = 5


class LoginFailed(NotAuthenticated):
    def __init__(self) -> None:
        super().__init__("Wrong username or password.")


class AccountLocked(DomainError):
    status_code = 423
    code = "locked"

    def __init__(self, minutes: int) -> None:
        super().__init__("Too many failed attempts. Try again in %(minutes)s minutes.", minutes=minutes)


class CodeInvalid(NotAuthenticated):
    def __init__(self) -> None:
        super().__init__("The code is wrong or has expired. Ask for a new one.")


def staff_principal(user: StaffUser, *, via_token: bool = False) -> Principal:
    return Principal(kind="staff", user_id=user.id, role=user.role, clinic_id=user.clinic_id,
                     name=user.display_name, language=user.language, via_token=via_token)


def authenticate_staff(
    *, session: Session, username: str, password: str, max_failures: int, lockout_minutes: int,
) -> StaffUser:
    """Check a password; repeated failures lock the account for a while (counted in the database)."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
    now = utcnow()
    if user is not None and user.locked_until and user.locked_until > now:
        raise AccountLocked(max(1, int((user.locked_until - now).total_seconds() // 60) + 1))
    if user is None or not user.active or not verify_password(password, user.password_hash if user else None):
        if user is not None:
            # Increment in SQL so concurrent guesses cannot both read the old count.
            session.execute(update(StaffUser).where(StaffUser.id == user.id)
                            .values(failed_logins=StaffUser.failed_logins + 1))
            session.refresh(user)
            if user.failed_logins >= max_failures:
                user.locked_until = now + timedelta(minutes=lockout_minutes)
                user.failed_logins = 0
            session.flush()
        raise LoginFailed()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.flush()
    return user


def create_api_token(*, session: Session, user: StaffUser, name: str = "") -> str:
    """Returns the token once; only its digest is stored."""
    token = new_token()
    session.add(ApiToken(user_id=user.id, name=name, digest=token_digest(token), prefix=token[:10]))
    session.flush()
    return token


def principal_for_token(*, session: Session, token: str) -> Principal | None:
    row = session.execute(
        select(ApiToken, StaffUser).join(StaffUser, StaffUser.id == ApiToken.user_id)
        .where(ApiToken.digest == token_digest(token), ApiToken.revoked_at.is_(None), StaffUser.active.is_(True))
    ).first()
    if row is None:
        return None
    api_token, user = row
    api_token.last_used_at = utcnow()
    return staff_principal(user, via_token=True)


@dataclass(frozen=True)
class CodeRequest:
    """What to send after a code was issued; `phone` is None when the number is not registered."""

    phone: str | None
    code: str | None
    language: str
    clinic_id: int | None = None
    patient_id: int | None = None


def issue_login_code(*, session: Session, raw_phone: str, secret: str) -> CodeRequest:
    phone = normalise_phone(raw_phone)
    if phone is None:
        return CodeRequest(None, None, "zh-CN")
    patient = session.scalar(select(Patient).where(Patient.phone == phone, Patient.active.is_(True)))
    caregiver = session.scalar(select(Caregiver).where(Caregiver.phone == phone))
    if patient is None and caregiver is None:
        return CodeRequest(None, None, "zh-CN")
    since = utcnow() - timedelta(hours=1)
    recent = session.scalars(select(LoginCode.id).where(LoginCode.phone == phone, LoginCode.created_at > since)).all()
    if len(recent) >= CODES_PER_HOUR:
        raise RateLimited("Too many codes requested. Try again in an hour.")
    code = new_login_code()
    session.add(LoginCode(phone=phone, digest=code_digest(code, secret=secret, phone=phone),
                          expires_at=utcnow() + CODE_LIFETIME))
    session.flush()
    holder = patient or caregiver
    assert holder is not None
    return CodeRequest(phone, code, holder.language, holder.clinic_id, patient.id if patient else None)


def verify_login_code(*, session: Session, raw_phone: str, code: str, secret: str) -> Principal:
    phone = normalise_phone(raw_phone)
    if phone is None:
        raise CodeInvalid()
    login_code = session.scalar(
        select(LoginCode).where(LoginCode.phone == phone, LoginCode.used_at.is_(None),
                                LoginCode.expires_at > utcnow())
        .order_by(LoginCode.id.desc())
    )
    if login_code is None or login_code.attempts >= CODE_MAX_ATTEMPTS:
        raise CodeInvalid()
    if login_code.digest != code_digest(code.strip(), secret=secret, phone=phone):
        login_code.attempts += 1
        session.flush()
        raise CodeInvalid()
    login_code.used_at = utcnow()
    session.flush()
    patient = session.scalar(select(Patient).where(Patient.phone == phone, Patient.active.is_(True)))
    if patient is not None:
        return patient_principal(patient)
    caregiver = session.scalar(select(Caregiver).where(Caregiver.phone == phone))
    if caregiver is None:
        raise CodeInvalid()
    return caregiver_principal(caregiver, patient_ids=caregiver_patient_ids(session=session,
                                                                              caregiver_id=caregiver.id))


def patient_principal(patient: Patient) -> Principal:
    return Principal(kind="patient", user_id=patient.id, role=Role.patient, clinic_id=patient.clinic_id,
                     name=patient.name, language=patient.language, patient_ids=frozenset({patient.id}))


def caregiver_principal(caregiver: Caregiver, *, patient_ids: frozenset[int]) -> Principal:
    return Principal(kind="caregiver", user_id=caregiver.id, role=Role.caregiver, clinic_id=caregiver.clinic_id,
                     name=caregiver.name, language=caregiver.language, patient_ids=patient_ids)


def load_principal(*, session: Session, kind: str, user_id: int) -> Principal | None:
    """Re-read the user each request, so a deactivated account or revoked grant takes effect at once."""
    if kind == "staff":
        user = session.get(StaffUser, user_id)
        return staff_principal(user) if user is not None and user.active else None
    if kind == "patient":
        patient = session.get(Patient, user_id)
        return patient_principal(patient) if patient is not None and patient.active else None
    if kind == "caregiver":
        caregiver = session.get(Caregiver, user_id)
        if caregiver is None:
            return None
        return caregiver_principal(caregiver, patient_ids=caregiver_patient_ids(session=session,
                                                                                  caregiver_id=caregiver.id))
    return None
