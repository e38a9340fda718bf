"""Authentication plumbing: who is asking (Principal), password and token hashing, role guards.

Who the users are lives in `clinic/`; this module only knows the shape of an authenticated principal.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.i18n import N_

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against a real hash when the username is unknown keeps response times alike (no user probing).
    Made on first use, not at import: a command that checks no password (an import) should not pay for it."""
    return _hasher.hash("not-a-real-password")


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
    timezone: str | None = None  # the clinic's (a patient's own when set): pages show times in it
    # Patients see themselves; caregivers see the patients who granted them access.
    patient_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def may_see_patient(self, patient_id: int) -> bool:
        return self.is_staff or patient_id in self.patient_ids


MIN_PASSWORD_LENGTH = 10
# The passwords guessed first (common lists, keyboard walks, and this product's and clinics' obvious words);
# compared lower-cased. A short list on purpose: length does most of the work.
COMMON_PASSWORDS = frozenset({
    "password", "password1", "password12", "password123", "passw0rd", "p@ssw0rd", "1234567890", "0123456789",
    "12345678910", "123456789a", "a123456789", "1234567890a", "qwertyuiop", "qwerty1234", "qwerty12345",
    "1q2w3e4r5t", "1qaz2wsx3edc", "zxcvbnm123", "asdfghjkl1", "iloveyou12", "iloveyou123", "admin12345",
    "administrator", "welcome123", "welcome1234", "letmein123", "changeme123", "abc1234567", "abcdefghij",
    "aaaaaaaaaa", "1111111111", "0000000000", "8888888888", "woaini1314", "woaini520", "5201314520",
    "careloop123", "careloop2026", "doctor1234", "nurse12345", "hospital123", "clinic1234", "trustno1234",
})


def password_problem(password: str, *, username: str) -> tuple[str, dict[str, object]] | None:
    """Why a new staff password is not good enough (a message id and its parameters), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return N_("Use a password of at least %(n)s characters."), {"n": MIN_PASSWORD_LENGTH}
    if password.strip().lower() == username.strip().lower():
        return N_("The password must not be the username."), {}
    if password.strip().lower() in COMMON_PASSWORDS:
        return N_("This password is too common. Choose another."), {}
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    dummy = _dummy_hash()  # made before either branch, so the first check costs the same for known and unknown users
    try:
        return _hasher.verify(password_hash or dummy, password) and password_hash is not None
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
