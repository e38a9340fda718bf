"""Signing in: staff passwords with lockout, API tokens, one-time SMS codes for patients and caregivers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from clinic.models import ApiToken, Caregiver, Clinic, LoginCode, Patient, StaffUser
from clinic.service import caregiver_patient_ids, normalise_phone
from core.audit import record_audit
from core.db import utcnow
from core.errors import DomainError, NotAuthenticated, RateLimited
from core.models import AuditAction, AuditEntry
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
TOKEN_STAMP_INTERVAL = timedelta(minutes=1)
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
    client_address: str = "",
) -> StaffUser:
    """Check a password. `max_failures` wrong passwords for one username from one address within
    `lockout_minutes` lock that pair until the oldest of them ages out. Counting per username and address
    (from the login_failed audit rows) keeps a guesser elsewhere from locking a colleague out of her desk."""
    username = normalise_username(username)
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    now = utcnow()
    since = now - timedelta(minutes=lockout_minutes)
    if user is not None and user.last_login_at and user.last_login_at > since:
        since = user.last_login_at  # a successful sign-in forgives the failures before it
    recent = session.scalars(
        select(AuditEntry.at).where(
            AuditEntry.action == AuditAction.login_failed, AuditEntry.actor_name == username,
            AuditEntry.client_address == client_address[:64], AuditEntry.detail == LoginFailed.code,
            AuditEntry.at > since,
        ).order_by(AuditEntry.at.desc()).limit(max_failures)
    ).all()
    if max_failures > 0 and len(recent) >= max_failures:
        unlocks_at = recent[-1] + timedelta(minutes=lockout_minutes)
        raise AccountLocked(max(1, int((unlocks_at - now).total_seconds() // 60) + 1))
    if user is None or not user.active or not verify_password(password, user.password_hash if user else None):
        raise LoginFailed()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.flush()
    return user


def normalise_username(username: str) -> str:
    return username.strip().lower()[:64]


def record_failed_login(*, session: Session, username: str, client_address: str, reason: str) -> None:
    """The audit row is also the failure count `authenticate_staff` reads for the lockout."""
    record_audit(session=session, action=AuditAction.login_failed, object_type="staff_user",
                 actor_kind="anonymous", actor_name=normalise_username(username), client_address=client_address,
                 detail=reason)


def create_api_token(*, session: Session, user: StaffUser, name: str = "") -> str:
    """Returns the token once; only its digest is stored."""
    token = new_token()
    session.add(ApiToken(user_id=user.id, name=name, digest=token_digest(token), prefix=token[:10]))
    session.flush()
    return token


def principal_for_token(*, session: Session, token: str) -> Principal | None:
    # One row of plain columns (token, user, clinic time zone): this runs on every API call, and loading three
    # ORM objects for it cost more Python than the rest of a small call.
    row = session.execute(
        select(ApiToken.id, ApiToken.last_used_at, StaffUser.id, StaffUser.role, StaffUser.clinic_id,
               StaffUser.display_name, StaffUser.language, Clinic.timezone)
        .join(StaffUser, StaffUser.id == ApiToken.user_id).join(Clinic, Clinic.id == StaffUser.clinic_id)
        .where(ApiToken.digest == token_digest(token), ApiToken.revoked_at.is_(None), StaffUser.active.is_(True))
    ).first()
    if row is None:
        return None
    token_id, last_used_at, user_id, role, clinic_id, name, language, timezone = row
    now = utcnow()
    # Stamped once a minute, not per call, and only when no other call is stamping it: the check runs in the
    # call's own transaction, so concurrent calls with one token would otherwise queue on its row.
    if last_used_at is None or now - last_used_at >= TOKEN_STAMP_INTERVAL:
        free = select(ApiToken.id).where(ApiToken.id == token_id).with_for_update(skip_locked=True)
        session.execute(update(ApiToken).where(ApiToken.id.in_(free)).values(last_used_at=now)
                        .execution_options(synchronize_session=False))
    return Principal(kind="staff", user_id=user_id, role=role, clinic_id=clinic_id, name=name, language=language,
                     via_token=True, timezone=timezone)


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
    principal = _load_principal(session, kind, user_id)
    return None if principal is None else with_timezone(session=session, principal=principal)


def with_timezone(*, session: Session, principal: Principal) -> Principal:
    """The principal with the time zone its pages are shown in: a patient's own, otherwise the clinic's."""
    own = session.get(Patient, principal.user_id).timezone if principal.kind == "patient" else None  # type: ignore[union-attr]
    clinic = session.get(Clinic, principal.clinic_id)
    return replace(principal, timezone=own or (clinic.timezone if clinic is not None else None))


def _load_principal(session: Session, kind: str, user_id: int) -> Principal | None:
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
