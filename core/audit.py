"""The append-only audit log: one row for every staff view or change of patient data, login and SMS."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, insert, select
from sqlmodel import Session

from core.db import utcnow
from core.models import AuditAction, AuditEntry
from core.security import Principal

_INSERT_AUDIT = insert(AuditEntry.__table__)  # type: ignore[attr-defined]


def record_audit(
    *, session: Session, action: AuditAction, object_type: str, object_id: object = "",
    principal: Principal | None = None, clinic_id: int | None = None, patient_id: int | None = None,
    client_address: str = "", detail: str = "", actor_kind: str | None = None, actor_name: str = "",
) -> None:
    # A plain INSERT, not an ORM object and a flush: almost every request writes one, and the row is never read
    # back in the same unit of work (the ORM path cost about a millisecond of Python per request).
    if actor_kind is None:
        actor_kind = principal.kind + ("-api" if principal.via_token else "") if principal else "system"
    session.execute(_INSERT_AUDIT, {
        "at": utcnow(), "actor_kind": actor_kind,
        "actor_id": principal.user_id if principal else None,
        "actor_name": principal.name if principal else actor_name,
        "actor_role": principal.role.value if principal else "",
        "clinic_id": clinic_id if clinic_id is not None else (principal.clinic_id if principal else None),
        "action": action, "object_type": object_type, "object_id": str(object_id), "patient_id": patient_id,
        "client_address": client_address[:64], "detail": detail[:500],
    })


def record_patient_audits(
    *, session: Session, action: AuditAction, object_type: str, clinic_id: int, actor_kind: str, actor_name: str,
    details: Mapping[int, str],
) -> None:
    """One row per patient (patient id → detail), as record_audit writes them for a job without a principal, in
    one multi-row INSERT: a bulk job (an import touching thousands of patients) builds no ORM object per row."""
    if not details:
        return
    at = utcnow()
    session.execute(_INSERT_AUDIT, [
        {"at": at, "actor_kind": actor_kind, "actor_id": None, "actor_name": actor_name, "actor_role": "",
         "clinic_id": clinic_id, "action": action, "object_type": object_type, "object_id": "",
         "patient_id": patient_id, "client_address": "", "detail": detail[:500]}
        for patient_id, detail in details.items()])


def list_audit(
    *, session: Session, clinic_id: int, page: int = 1, per_page: int = 50,
    patient_id: int | None = None, action: AuditAction | None = None,
) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry).where(AuditEntry.clinic_id == clinic_id)
    if patient_id is not None:
        query = query.where(AuditEntry.patient_id == patient_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(AuditEntry.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(rows), total
