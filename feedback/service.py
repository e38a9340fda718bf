"""Complaints and concerns: intake from every channel, who may see and act on an item, and the inbox queries."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic.enums import RuleProfile
from clinic.models import Clinic, Patient, StaffUser
from clinic.service import normalise_phone
from core.db import utcnow
from core.errors import FieldErrors, NotFound
from core.i18n import LANGUAGES
from core.security import STAFF_ROLES, Principal, Role, mask_phone
from feedback.clusters import check_cluster
from feedback.enums import (
    OPEN_STATUSES,
    Category,
    Channel,
    Complexity,
    FeedbackKind,
    FeedbackStatus,
    Severity,
)
from feedback.history import add_history
from feedback.models import DESCRIPTION_MAX, FeedbackItem, FeedbackRead
from feedback.notify import escalate
from feedback.policy import deadlines, get_policy, owner_for

MANAGER_ROLES = frozenset({Role.admin, Role.committee})
_REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud over the phone


class ItemNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Feedback item not found.")


def new_reference() -> str:
    """Random, so a reference number reveals nothing about how many complaints a clinic receives."""
    chars = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"FB-{chars[:4]}-{chars[4:]}"


def phone_region(clinic: Clinic) -> str:
    return "CN" if clinic.profile == RuleProfile.cn else "US"


def create_item(
    *, session: Session, clinic: Clinic, kind: FeedbackKind, category: Category, channel: Channel,
    description: str, submitted_by_kind: str, submitted_by_id: int | None = None,
    principal: Principal | None = None, severity: Severity = Severity.medium,
    complexity: Complexity = Complexity.simple, patient: Patient | None = None, contact_name: str = "",
    contact_phone: str = "", contact_language: str | None = None, contact_consent: bool = False,
    subject_staff_id: int | None = None, lead_department: str = "", departments: Sequence[str] = (),
    survey_response_id: int | None = None, sms_message_id: int | None = None,
    source_detail: dict[str, Any] | None = None,
) -> FeedbackItem:
    """Store a new item with its owner and deadlines; escalate possible harm; look for a common problem."""
    now = utcnow()
    policy = get_policy(session=session, clinic=clinic)
    ack_due, resolve_due = deadlines(session=session, clinic=clinic, policy=policy, received_at=now,
                                     complexity=complexity)
    item = FeedbackItem(
        reference=new_reference(), clinic_id=clinic.id, kind=kind, category=category, channel=channel,
        severity=severity, complexity=complexity, patient_id=patient.id if patient else None,
        contact_name=contact_name.strip()[:120], contact_phone=contact_phone,
        contact_language=contact_language or (patient.language if patient else clinic.language),
        contact_consent=contact_consent, submitted_by_kind=submitted_by_kind, submitted_by_id=submitted_by_id,
        subject_staff_id=subject_staff_id, description=description.strip()[:DESCRIPTION_MAX],
        lead_department=lead_department.strip()[:80], departments=[d.strip()[:80] for d in departments if d.strip()],
        owner_id=owner_for(session=session, clinic_id=clinic.id, category=category), received_at=now,
        ack_due_at=ack_due, resolve_due_at=resolve_due, next_due_at=ack_due,
        survey_response_id=survey_response_id, sms_message_id=sms_message_id, source_detail=source_detail or {},
    )
    for _ in range(3):  # a reference collision is astronomically rare; try a fresh one rather than fail
        try:
            with session.begin_nested():
                session.add(item)
                session.flush()
            break
        except IntegrityError:
            if session.scalar(select(FeedbackItem.id).where(FeedbackItem.reference == item.reference)) is None:
                raise
            item.reference = new_reference()
    add_history(session=session, item=item, kind="created", principal=principal,
                actor_kind=submitted_by_kind, to_status=FeedbackStatus.received,
                detail={"channel": str(channel), "owner_id": item.owner_id, "severity": str(severity)})
    if severity == Severity.high:
        item.escalated_at = now
        escalate(session=session, item=item, clinic=clinic, policy=policy, reason="high_severity")
    check_cluster(session=session, item=item, policy=policy, now=now)
    session.flush()
    return item


# --- validation shared by the forms and the API ------------------------------------------------------------


def choice(enum: Any, raw: Any, errors: FieldErrors, field: str, message: str) -> Any:
    value = str(raw or "").strip()
    if value in {member.value for member in enum}:
        return enum(value)
    errors.add(field, message)
    return None


def clean_description(raw: Any, errors: FieldErrors, field: str = "description") -> str:
    text = str(raw or "").strip()
    if not text:
        errors.add(field, "Tell us what happened.")
    elif len(text) > DESCRIPTION_MAX:
        errors.add(field, "Please keep it under %(max)s characters.", max=DESCRIPTION_MAX)
    return text


def clean_phone(clinic: Clinic, raw: Any, errors: FieldErrors, *, required: bool, field: str = "phone") -> str:
    text = str(raw or "").strip()[:32]
    if not text:
        if required:
            errors.add(field, "Enter a mobile number so we can reply to you.")
        return ""
    phone = normalise_phone(text, default_region=phone_region(clinic))
    if phone is None:
        errors.add(field, "Enter a valid mobile number, e.g. +8613712345678.")
        return ""
    return phone


def clinic_staff(session: Session, clinic_id: int, raw: Any, errors: FieldErrors, field: str) -> int | None:
    text = str(raw or "").strip()
    if not text:
        return None
    staff = session.get(StaffUser, int(text)) if text.isdigit() else None
    if staff is None or staff.clinic_id != clinic_id or staff.role not in STAFF_ROLES:
        errors.add(field, "Choose a staff member of this clinic.")
        return None
    return staff.id


def clinic_patient(session: Session, clinic_id: int, raw: Any, errors: FieldErrors, field: str) -> Patient | None:
    text = str(raw or "").strip()
    if not text:
        return None
    patient = session.get(Patient, int(text)) if text.isdigit() else None
    if patient is None or patient.clinic_id != clinic_id:
        errors.add(field, "Choose a patient of this clinic.")
        return None
    return patient


def language_choice(raw: Any, default: str) -> str:
    value = str(raw or "")
    return value if value in LANGUAGES else default


def recent_duplicate(*, session: Session, clinic_id: int, description: str, patient_id: int | None,
                     contact_phone: str, within: timedelta = timedelta(minutes=10)) -> FeedbackItem | None:
    """The same text from the same person a moment ago: a double tap or a refresh, not a second complaint."""
    query = select(FeedbackItem).where(FeedbackItem.clinic_id == clinic_id,
                                       FeedbackItem.received_at > utcnow() - within,
                                       FeedbackItem.description == description.strip()[:DESCRIPTION_MAX])
    if patient_id is not None:
        query = query.where(FeedbackItem.patient_id == patient_id)
    elif contact_phone:
        query = query.where(FeedbackItem.contact_phone == contact_phone)
    else:
        return None
    return session.scalar(query.order_by(FeedbackItem.id.desc()).limit(1))


def items_today_from_phone(*, session: Session, clinic_id: int, phone: str) -> int:
    return session.scalar(select(func.count(FeedbackItem.id)).where(
        FeedbackItem.clinic_id == clinic_id, FeedbackItem.contact_phone == phone,
        FeedbackItem.received_at > utcnow() - timedelta(days=1))) or 0


# --- who may see and act ---------------------------------------------------------------------------------


def is_manager(principal: Principal) -> bool:
    return principal.role in MANAGER_ROLES


def can_view(principal: Principal, item: FeedbackItem) -> bool:
    if item.clinic_id != principal.clinic_id or not principal.is_staff:
        return False
    return is_manager(principal) or principal.user_id in (item.owner_id, item.subject_staff_id)


def can_act(principal: Principal, item: FeedbackItem) -> bool:
    """The committee and admins act on every item; an owner on their own, unless the item is about them."""
    if not can_view(principal, item):
        return False
    return is_manager(principal) or (item.owner_id == principal.user_id
                                     and item.subject_staff_id != principal.user_id)


def get_item(*, session: Session, principal: Principal, item_id: int) -> FeedbackItem:
    """An item the caller may see; any other (another clinic's, or not theirs) is indistinguishable from none."""
    item = session.get(FeedbackItem, item_id)
    if item is None or not can_view(principal, item):
        raise ItemNotFound()
    return item


@dataclass(frozen=True)
class InboxFilter:
    status: str = "open"  # "open", "all" or a FeedbackStatus value
    category: str = ""
    overdue: bool = False
    owner: str = ""  # "", "me", "committee" or a staff id
    kind: str = ""


def inbox_query(*, principal: Principal, filters: InboxFilter, now: datetime) -> Select[Any]:
    query = select(FeedbackItem).where(FeedbackItem.clinic_id == principal.clinic_id)
    if not is_manager(principal):
        query = query.where(or_(FeedbackItem.owner_id == principal.user_id,
                                FeedbackItem.subject_staff_id == principal.user_id))
    if filters.status == "open":
        query = query.where(FeedbackItem.status.in_([s.value for s in OPEN_STATUSES]))
    elif filters.status in FeedbackStatus.__members__:
        query = query.where(FeedbackItem.status == filters.status)
    if filters.category in Category.__members__:
        query = query.where(FeedbackItem.category == filters.category)
    if filters.kind in FeedbackKind.__members__:
        query = query.where(FeedbackItem.kind == filters.kind)
    if filters.overdue:
        query = query.where(FeedbackItem.next_due_at < now)
    if filters.owner == "me":
        query = query.where(FeedbackItem.owner_id == principal.user_id)
    elif filters.owner == "committee":
        query = query.where(FeedbackItem.owner_id.is_(None))
    elif filters.owner.isdigit():
        query = query.where(FeedbackItem.owner_id == int(filters.owner))
    return query


def list_items(*, session: Session, principal: Principal, filters: InboxFilter, page: int = 1, per_page: int = 25,
               now: datetime | None = None) -> tuple[list[FeedbackItem], int]:
    """Soonest deadline first; finished items (no deadline) after the open ones, newest first."""
    query = inbox_query(principal=principal, filters=filters, now=now or utcnow())
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(FeedbackItem.next_due_at.is_(None), FeedbackItem.next_due_at,
                                          FeedbackItem.received_at.desc(), FeedbackItem.id.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def items_for_patient_user(*, session: Session, principal: Principal, limit: int = 50) -> list[FeedbackItem]:
    """What a signed-in patient or caregiver sent, or was sent about the patients they look after."""
    conditions = [(FeedbackItem.submitted_by_kind == principal.kind) & (FeedbackItem.submitted_by_id
                                                                        == principal.user_id)]
    if principal.patient_ids:
        conditions.append(FeedbackItem.patient_id.in_(sorted(principal.patient_ids)))
    return list(session.scalars(select(FeedbackItem).where(
        FeedbackItem.clinic_id == principal.clinic_id, or_(*conditions))
        .order_by(FeedbackItem.received_at.desc()).limit(limit)))


def staff_names(*, session: Session, clinic_id: int) -> dict[int, str]:
    return {s.id: s.display_name for s in session.scalars(select(StaffUser).where(StaffUser.clinic_id == clinic_id))}


def to_read(item: FeedbackItem, *, now: datetime | None = None) -> FeedbackRead:
    moment = now or utcnow()
    return FeedbackRead(
        id=item.id, reference=item.reference, kind=item.kind, category=item.category, channel=item.channel,
        severity=item.severity, complexity=item.complexity, status=item.status, patient_id=item.patient_id,
        contact_name=item.contact_name, contact_phone=mask_phone(item.contact_phone),
        subject_staff_id=item.subject_staff_id, owner_id=item.owner_id, description=item.description,
        lead_department=item.lead_department, departments=list(item.departments), received_at=item.received_at,
        acknowledged_at=item.acknowledged_at, resolved_at=item.resolved_at, closed_at=item.closed_at,
        ack_due_at=item.ack_due_at, resolve_due_at=item.resolve_due_at, next_due_at=item.next_due_at,
        overdue=item.next_due_at is not None and moment > item.next_due_at,
        ack_breached_at=item.ack_breached_at, resolve_breached_at=item.resolve_breached_at,
        resolution=item.resolution, patient_response=item.patient_response,
        response_sent_at=item.response_sent_at, survey_response_id=item.survey_response_id,
        sms_message_id=item.sms_message_id,
    )
