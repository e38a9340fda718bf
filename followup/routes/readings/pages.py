"""Reading pages: patients and caregivers at /me/patients/{id}/readings, staff at /patients/{id}/readings.

Both sides share one flow: history (charts and table for a period), a one-kind-at-a-time form, a POST that
stores through `record_readings` and runs the clinic's rules like an SMS would, then a redirect to a
confirmation that echoes what was stored in the words of the SMS reply. The form carries a one-time
token used as the readings' external id, so a double tap or a re-sent form stores nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel import Session

from clinic.models import Clinic, Patient
from clinic.service import PatientNotFound, get_patient, patient_timezone
from core.audit import record_audit
from core.errors import ValidationFailed
from core.models import AuditAction
from core.security import CLINICAL_ROLES, STAFF_ROLES, Principal, Role
from core.web import client_address, page_number, principal_of, render, requires, tr
from followup.enums import ReadingKind, ReadingSource
from followup.flows import evaluate_readings
from followup.models import Callback
from followup.replies import ReplyKind
from followup.routes.readings import views
from followup.routes.readings.form import (
    CONTEXTS,
    GLUCOSE_UNITS,
    PATIENT_DAYS_BACK,
    STAFF_DAYS_BACK,
    WEIGHT_UNITS,
    allowed_days,
    form_defaults,
    kinds_for,
    parse_kind,
    parse_submission,
)
from followup.service import Entry, clinic_of, record_readings

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
FLASH = "followup_saved"  # session key: token → what the confirmation page shows
FLASH_KEEP = 5


@dataclass(frozen=True)
class Desk:
    """Who is entering and from which pages: the patient's own (or a caregiver's) or a staff member's."""

    principal: Principal
    patient: Patient
    clinic: Clinic
    base: str  # the history page; the form, POST and confirmation hang below it
    back: str
    staff: bool

    @property
    def days_back(self) -> int:
        return STAFF_DAYS_BACK if self.staff else PATIENT_DAYS_BACK

    @property
    def entry(self) -> Entry:
        source = ReadingSource.staff if self.staff else ReadingSource.web
        return Entry(source=source, kind=self.principal.kind, user_id=self.principal.user_id)

    @property
    def audited_views(self) -> bool:
        # Staff and family members looking at someone's health data leave a trace; a patient's own look does not.
        return self.principal.kind != "patient"


def _own_desk(db: Session, principal: Principal, patient_id: int) -> Desk:
    """Patients see themselves, caregivers the patients linked to them; anyone else is simply not found."""
    patient = db.get(Patient, patient_id) if patient_id in principal.patient_ids else None
    if patient is None or not patient.active:
        raise PatientNotFound()
    return Desk(principal, patient, clinic_of(session=db, patient=patient), f"/me/patients/{patient.id}/readings",
                "/me", staff=False)


def _staff_desk(db: Session, principal: Principal, patient_id: int) -> Desk:
    patient = get_patient(session=db, clinic_id=principal.clinic_id, patient_id=patient_id)
    return Desk(principal, patient, clinic_of(session=db, patient=patient), f"/patients/{patient.id}/readings",
                f"/patients/{patient.id}", staff=True)


def _audit(request: Request[Any, Any, Any], db: Session, desk: Desk, action: AuditAction, object_type: str,
           object_id: object, detail: str = "") -> None:
    record_audit(session=db, action=action, object_type=object_type, object_id=object_id, principal=desk.principal,
                 clinic_id=desk.patient.clinic_id, patient_id=desk.patient.id, client_address=client_address(request),
                 detail=detail)


def _words(request: Request[Any, Any, Any], desk: Desk) -> views.Words:
    return views.Words(request.state.get("language") or "zh-CN", patient_timezone(patient=desk.patient,
                                                                                   clinic=desk.clinic))


def _base_context(request: Request[Any, Any, Any], desk: Desk) -> dict[str, Any]:
    mine = desk.principal.kind == "patient"
    words = _words(request, desk)
    return {"patient": desk.patient, "clinic": desk.clinic, "desk": desk, "tz": words.tz, "language": words.language,
            "heading": tr(request, "My readings") if mine else tr(request, "Readings: %(name)s",
                                                                  name=desk.patient.name),
            "may_enter": not desk.staff or desk.principal.role in CLINICAL_ROLES,
            "kinds": kinds_for([str(p) for p in desk.patient.programmes]), "kind_labels": views.KIND_LABELS}


def history_page(request: Request[Any, Any, Any], db: Session, desk: Desk, days: str, kind: str,
                 page: str | None) -> Template:
    period, number, chosen = views.parse_days(days), page_number(page), parse_kind(kind)
    context = views.history(session=db, patient=desk.patient, words=_words(request, desk), days=period, kind=chosen,
                            page=number)
    if desk.audited_views:
        _audit(request, db, desk, AuditAction.view, "readings", desk.patient.id,
               f"days={period} kind={chosen or 'all'} page={number} count={len(context['rows'])}")
    settings = request.app.state.settings
    return render("followup/readings.html", context={
        **_base_context(request, desk), **context, "sms_number": settings.twilio_from})


def form_page(request: Request[Any, Any, Any], db: Session, desk: Desk, kind: ReadingKind | None,
              values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
              status_code: int = 200) -> Template:
    words = _words(request, desk)
    if kind is not None:  # what was sent back wins (even emptied); defaults fill fields not sent, like a radio
        values = {**form_defaults(kind=kind, glucose_unit=str(desk.patient.glucose_unit), tz=words.tz),
                  **(values or {})}
    days = allowed_days(tz=words.tz, days_back=desk.days_back)
    if desk.staff and status_code == 200:
        _audit(request, db, desk, AuditAction.view, "reading_form", desk.patient.id)
    return render("followup/reading_form.html", status_code=status_code, context={
        **_base_context(request, desk), "kind": kind, "values": values or {}, "errors": errors or {},
        "days": days, "glucose_units": GLUCOSE_UNITS, "weight_units": WEIGHT_UNITS, "contexts": CONTEXTS,
        "context_labels": views.CONTEXT_LABELS, "unit_labels": views.UNIT_LABELS})


def store_reading(request: Request[Any, Any, Any], db: Session, desk: Desk, data: dict[str, Any]) -> Any:
    words = _words(request, desk)
    try:
        submission = parse_submission(data, glucose_unit=str(desk.patient.glucose_unit), tz=words.tz,
                                      days_back=desk.days_back)
    except ValidationFailed as exc:
        values = {k: (v[-1] if isinstance(v, list) and v else v) for k, v in data.items() if k != "_csrf_token"}
        errors = {e.field: tr(request, e.message, **e.params) for e in exc.field_errors}
        return form_page(request, db, desk, parse_kind(values.get("kind")), values=values, errors=errors,
                         status_code=exc.status_code)
    saved_url = f"{desk.base}/saved/{submission.token}"
    flashes = dict(request.session.get(FLASH) or {})
    if submission.token in flashes or views.readings_for_token(session=db, patient_id=desk.patient.id,
                                                               token=submission.token):
        return Redirect(saved_url, status_code=303)  # the same form again: already stored and evaluated
    stored = record_readings(session=db, patient=desk.patient, readings=submission.readings,
                             taken_at=submission.taken_at, entry=desk.entry,
                             external_ids=[f"web:{submission.token}:{i}" for i in range(len(submission.readings))])
    evaluation = evaluate_readings(session=db, patient=desk.patient, clinic=desk.clinic, readings=stored)
    for reading in stored:
        _audit(request, db, desk, AuditAction.create, "reading", reading.id, f"{reading.kind} via {desk.entry.source}")
    flashes[submission.token] = {"patient_id": desk.patient.id, "reply": views.reply_kind_for(evaluation.tier).value,
                                 "callbacks": [c.id for c in evaluation.callbacks]}
    request.set_session({**request.session, FLASH: dict(list(flashes.items())[-FLASH_KEEP:])})
    return Redirect(saved_url, status_code=303)


def saved_page(request: Request[Any, Any, Any], db: Session, desk: Desk, token: str) -> Template:
    readings = views.readings_for_token(session=db, patient_id=desk.patient.id, token=token) if (
        len(token) == 32 and token.isalnum()) else []
    if not readings:
        raise PatientNotFound()
    flash = (request.session.get(FLASH) or {}).get(token) or {}
    if flash.get("patient_id") != desk.patient.id:
        flash = {}  # a bookmarked confirmation in another session: echo the values, no stale instruction
    reply = ReplyKind(flash.get("reply", ReplyKind.recorded.value))
    words = _words(request, desk)
    callbacks = [c for c in (db.get(Callback, i) for i in flash.get("callbacks", [])) if c is not None]
    if desk.audited_views:
        _audit(request, db, desk, AuditAction.view, "reading", ",".join(str(r.id) for r in readings))
    return render("followup/reading_saved.html", context={
        **_base_context(request, desk), "readings": views.table_rows(session=db, readings=readings, words=words),
        "message": views.confirmation_text(readings, reply=reply, language=words.language,
                                           emergency_number=desk.clinic.emergency_number),
        "urgent": reply in views.ACTION_REPLIES, "callbacks": callbacks if desk.staff else [],
        "severity_labels": views.SEVERITY_LABELS,
        "kind": readings[0].kind})


class MyReadingsController(Controller):
    path = "/me/patients/{patient_id:int}/readings"
    guards = [requires(Role.patient, Role.caregiver)]
    include_in_schema = False

    @get("/", name="followup:my-readings", sync_to_thread=True)
    def history(self, request: Request[Any, Any, Any], db: Session, patient_id: int, days: str = "",
                kind: str = "", page: str | None = None) -> Template:
        return history_page(request, db, _own_desk(db, principal_of(request), patient_id), days, kind, page)

    @get("/new", name="followup:my-reading-new", sync_to_thread=True)
    def new(self, request: Request[Any, Any, Any], db: Session, patient_id: int, kind: str = "") -> Template:
        return form_page(request, db, _own_desk(db, principal_of(request), patient_id), parse_kind(kind))

    @post("/", name="followup:my-reading-create", sync_to_thread=True, status_code=200)
    def create(self, request: Request[Any, Any, Any], db: Session, patient_id: int, data: Form) -> Any:
        return store_reading(request, db, _own_desk(db, principal_of(request), patient_id), data)

    @get("/saved/{token:str}", name="followup:my-reading-saved", sync_to_thread=True)
    def saved(self, request: Request[Any, Any, Any], db: Session, patient_id: int, token: str) -> Template:
        return saved_page(request, db, _own_desk(db, principal_of(request), patient_id), token)


class PatientReadingsController(Controller):
    path = "/patients/{patient_id:int}/readings"
    guards = [requires(*STAFF_ROLES)]
    include_in_schema = False

    @get("/", name="followup:patient-readings", sync_to_thread=True)
    def history(self, request: Request[Any, Any, Any], db: Session, patient_id: int, days: str = "",
                kind: str = "", page: str | None = None) -> Template:
        return history_page(request, db, _staff_desk(db, principal_of(request), patient_id), days, kind, page)

    @get("/new", name="followup:patient-reading-new", guards=[requires(*CLINICAL_ROLES)], sync_to_thread=True)
    def new(self, request: Request[Any, Any, Any], db: Session, patient_id: int, kind: str = "") -> Template:
        return form_page(request, db, _staff_desk(db, principal_of(request), patient_id), parse_kind(kind))

    @post("/", name="followup:patient-reading-create", guards=[requires(*CLINICAL_ROLES)], sync_to_thread=True,
          status_code=200)
    def create(self, request: Request[Any, Any, Any], db: Session, patient_id: int, data: Form) -> Any:
        return store_reading(request, db, _staff_desk(db, principal_of(request), patient_id), data)

    @get("/saved/{token:str}", name="followup:patient-reading-saved", sync_to_thread=True)
    def saved(self, request: Request[Any, Any, Any], db: Session, patient_id: int, token: str) -> Template:
        return saved_page(request, db, _staff_desk(db, principal_of(request), patient_id), token)
