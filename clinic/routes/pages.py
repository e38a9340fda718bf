"""Staff pages for patients and staff administration, and the patient's own home page."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel import Session

from clinic.enums import GlucoseUnit, Programme
from clinic.models import Clinic, Patient, PatientCreate, StaffUser
from clinic.service import create_patient, create_staff_user, get_patient, list_patients, list_staff
from core.audit import record_audit
from core.errors import DomainError, FieldError, ValidationFailed
from core.models import AuditAction
from core.security import CLINICAL_ROLES, STAFF_ROLES, Role
from core.web import Page, client_address, page_number, principal_of, render, requires, tr

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _field_messages(request: Request[Any, Any, Any], exc: DomainError) -> dict[str, str]:
    return {e.field: tr(request, e.message, **e.params) for e in exc.field_errors}


class PatientPagesController(Controller):
    path = "/"
    include_in_schema = False

    @get("/patients", name="clinic:patients", guards=[requires(*STAFF_ROLES)], sync_to_thread=True)
    def patients(self, request: Request[Any, Any, Any], db: Session, q: str = "", programme: str = "",
                 mine: bool = False, page: str | None = None) -> Template:
        principal = principal_of(request)
        number = page_number(page)
        chosen = Programme(programme) if programme in Programme.__members__ else None
        rows, total = list_patients(session=db, clinic_id=principal.clinic_id, search=q[:60], programme=chosen,
                                    family_doctor_id=principal.user_id if mine else None, page=number)
        record_audit(session=db, action=AuditAction.view, object_type="patient_list", principal=principal,
                     client_address=client_address(request), detail=f"page={number} count={len(rows)}")
        return render("clinic/patients.html", context={
            "patients": rows, "page": Page(number, 25, total), "q": q, "programme": programme, "mine": mine,
            "programmes": list(Programme),
        })

    @get("/patients/new", name="clinic:patient-new", guards=[requires(*CLINICAL_ROLES)], sync_to_thread=True)
    def new_patient(self, request: Request[Any, Any, Any], db: Session) -> Template:
        principal = principal_of(request)
        return self._form(db, principal.clinic_id, values={}, errors={})

    @post("/patients/new", name="clinic:patient-create", guards=[requires(*CLINICAL_ROLES)], sync_to_thread=True)
    def create(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        principal = principal_of(request)
        clinic = db.get(Clinic, principal.clinic_id)
        try:
            patient_in = PatientCreate(
                name=str(data.get("name", ""))[:200], phone=str(data.get("phone", "")).strip() or None,
                language=str(data.get("language", "zh-CN")),
                programmes=[Programme(p) for p in _as_list(data.get("programmes")) if p in Programme.__members__],
                glucose_unit=GlucoseUnit(data.get("glucose_unit") or GlucoseUnit.mmol_l.value)
                if data.get("glucose_unit") in {u.value for u in GlucoseUnit} or not data.get("glucose_unit")
                else GlucoseUnit.mmol_l,
                sms_consent=data.get("sms_consent") in ("on", "true", "1"),
                date_of_birth=_parse_date(data.get("date_of_birth")),
                family_doctor_id=int(data["family_doctor_id"]) if str(data.get("family_doctor_id", "")).isdigit()
                else None,
            )
            patient = create_patient(session=db, clinic=clinic, patient_in=patient_in, channel="staff",
                                     recorded_by=principal.user_id)
        except DomainError as exc:
            db.rollback()
            return self._form(db, principal.clinic_id, values=data, errors=_field_messages(request, exc),
                              status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.create, object_type="patient", object_id=patient.id,
                     patient_id=patient.id, principal=principal, client_address=client_address(request))
        return Redirect(f"/patients/{patient.id}")

    def _form(self, db: Session, clinic_id: int, *, values: Any, errors: dict[str, str],
              status_code: int = 200) -> Template:
        doctors = list_staff(session=db, clinic_id=clinic_id, roles={Role.doctor, Role.nurse})
        return render("clinic/patient_form.html", status_code=status_code, context={
            "values": values, "errors": errors, "doctors": doctors, "programmes": list(Programme),
            "units": list(GlucoseUnit),
        })

    @get("/patients/{patient_id:int}", name="clinic:patient", guards=[requires(*STAFF_ROLES)], sync_to_thread=True)
    def patient(self, request: Request[Any, Any, Any], db: Session, patient_id: int) -> Template:
        principal = principal_of(request)
        patient = get_patient(session=db, clinic_id=principal.clinic_id, patient_id=patient_id)
        record_audit(session=db, action=AuditAction.view, object_type="patient", object_id=patient.id,
                     patient_id=patient.id, principal=principal, client_address=client_address(request))
        doctor = db.get(StaffUser, patient.family_doctor_id) if patient.family_doctor_id else None
        return render("clinic/patient_detail.html", context={"patient": patient, "doctor": doctor})

    @get("/me", name="clinic:me", guards=[requires(Role.patient, Role.caregiver)], sync_to_thread=True)
    def me(self, request: Request[Any, Any, Any], db: Session) -> Template:
        principal = principal_of(request)
        patients = [p for p in (db.get(Patient, pid) for pid in sorted(principal.patient_ids)) if p is not None]
        return render("clinic/me.html", context={"patients": patients})


def _parse_date(raw: Any) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError as exc:
        raise ValidationFailed("Please correct the highlighted fields.", field_errors=[
            FieldError("date_of_birth", "Enter a date as YYYY-MM-DD.")]) from exc


class StaffAdminController(Controller):
    path = "/admin/staff"
    include_in_schema = False
    guards = [requires(Role.admin)]

    @get("/", name="clinic:staff", sync_to_thread=True)
    def staff(self, request: Request[Any, Any, Any], db: Session) -> Template:
        principal = principal_of(request)
        return render("clinic/staff.html", context={
            "staff": list_staff(session=db, clinic_id=principal.clinic_id), "values": {}, "errors": {},
            "roles": sorted(STAFF_ROLES), "saved": request.query_params.get("saved", "")})

    @post("/", name="clinic:staff-create", sync_to_thread=True)
    def add_staff(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        principal = principal_of(request)
        clinic = db.get(Clinic, principal.clinic_id)
        try:
            user = create_staff_user(
                session=db, clinic=clinic, username=str(data.get("username", ""))[:80],
                password=str(data.get("password", ""))[:200], role=str(data.get("role", "")),
                display_name=str(data.get("display_name", ""))[:120] or None,
                language=str(data.get("language", "")) or None,
            )
        except DomainError as exc:
            db.rollback()
            errors = _field_messages(request, exc) or {"username": tr(request, exc.message, **exc.params)}
            return render("clinic/staff.html", status_code=exc.status_code, context={
                "staff": list_staff(session=db, clinic_id=principal.clinic_id), "values": data, "errors": errors,
                "roles": sorted(STAFF_ROLES), "saved": ""})
        record_audit(session=db, action=AuditAction.create, object_type="staff_user", object_id=user.id,
                     principal=principal, client_address=client_address(request),
                     detail=f"{user.username} ({user.role.value})")
        return Redirect(f"/admin/staff?saved={user.username}")
