"""The patients JSON API under /api/v1 (bearer tokens, clinic-scoped)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import Parameter
from pydantic import BaseModel
from sqlmodel import Session

from clinic.enums import Programme
from clinic.models import Clinic, PatientCreate, PatientRead
from clinic.service import create_patient, get_patient, list_patients, to_patient_read
from core.audit import record_audit
from core.models import AuditAction
from core.security import CLINICAL_ROLES, STAFF_ROLES
from core.web import client_address, principal_of, requires


class PatientList(BaseModel):
    items: list[PatientRead]
    total: int
    page: int
    per_page: int


class PatientApiController(Controller):
    path = "/api/v1/patients"
    tags = ["patients"]

    @post("/", guards=[requires(*CLINICAL_ROLES)], sync_to_thread=True, status_code=201,
          summary="Register a patient in the token's clinic")
    def create(self, request: Request[Any, Any, Any], db: Session, data: PatientCreate) -> PatientRead:
        principal = principal_of(request)
        clinic = db.get(Clinic, principal.clinic_id)
        patient = create_patient(session=db, clinic=clinic, patient_in=data, channel="api",
                                 recorded_by=principal.user_id)
        record_audit(session=db, action=AuditAction.create, object_type="patient", object_id=patient.id,
                     patient_id=patient.id, principal=principal, client_address=client_address(request))
        return to_patient_read(patient=patient, clinic=clinic)

    @get("/", guards=[requires(*STAFF_ROLES)], sync_to_thread=True, summary="List the clinic's patients")
    def list(
        self, request: Request[Any, Any, Any], db: Session, q: str = "", programme: Programme | None = None,
        page: int = Parameter(default=1, ge=1, le=100_000), per_page: int = Parameter(default=50, ge=1, le=200),
    ) -> PatientList:
        principal = principal_of(request)
        clinic = db.get(Clinic, principal.clinic_id)
        rows, total = list_patients(session=db, clinic_id=principal.clinic_id, search=q[:60], programme=programme,
                                    page=page, per_page=per_page)
        record_audit(session=db, action=AuditAction.view, object_type="patient_list", principal=principal,
                     client_address=client_address(request), detail=f"api page={page} count={len(rows)}")
        return PatientList(items=[to_patient_read(patient=p, clinic=clinic) for p in rows], total=total,
                           page=page, per_page=per_page)

    @get("/{patient_id:int}", guards=[requires(*STAFF_ROLES)], sync_to_thread=True, summary="One patient")
    def read(self, request: Request[Any, Any, Any], db: Session, patient_id: int) -> PatientRead:
        principal = principal_of(request)
        patient = get_patient(session=db, clinic_id=principal.clinic_id, patient_id=patient_id)
        record_audit(session=db, action=AuditAction.view, object_type="patient", object_id=patient.id,
                     patient_id=patient.id, principal=principal, client_address=client_address(request))
        return to_patient_read(patient=patient, clinic=db.get(Clinic, principal.clinic_id))
