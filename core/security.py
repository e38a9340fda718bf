"""Authentication plumbing: who is asking (Principal), password and token hashing, role guards.

Who the users are lives in `clinic/`; this module only knows the shape of an authenticated principal.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.i18n import N_

_hasher = PasswordHasher()
# Verifying against a real hash when the username is unknown keeps response times alike (no user probing).
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class Role(StrEnum):
    admin = "admin"
    doctor = "doctor"
    nurse = "nurse"
    committee = "committee"
    patient = "patient"
    caregiver = "caregiver"


# Display names for templates, which show a role as _(role.value | capitalize).
ROLE_LABELS = (N_("Admin"), N_("Doctor"), N_("Nurse"), N_("Committee"), N_("Patient"), N_("Caregiver"))

STAFF_ROLES = frozenset({Role.admin, Role.doctor, Role.nurse, Role.committee})
CLINICAL_ROLES = frozenset({Role.admin, Role.doctor, Role.nurse})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request or API call."""

    kind: str  # "staff", "patient" or "caregiver"
    user_id: int
    role: Role
    clinic_id: int
    name: str
    language: str
    via_token: bool = False
    # Patients see themselves; caregivers see the patients who granted them access.
    patient_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def may_see_patient(self, patient_id: int) -> bool:
        return self.is_staff or patient_id in self.patient_ids


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return "cl_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """API tokens and one-time codes are stored as digests, never as given."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_login_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def code_digest(code: str, *, secret: str, phone: str) -> str:
    return hmac.new(secret.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def mask_phone(phone: str | None) -> str:
    """+8613712345678 → +86137****5678: enough to recognise, not enough to dial."""
    if not phone:
        return ""
    if len(phone) <= 7:
        return phone[:2] + "*" * (len(phone) - 2)
    return phone[:-8] + "****" + phone[-4:]
