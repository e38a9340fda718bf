"""The patient's side: the feedback form (signed in or anonymous), the thank-you page, and 'my feedback'."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlmodel import Session

from clinic.models import Clinic, Patient
from core.errors import DomainError
from core.security import Principal, Role
from core.web import principal_of, render, requires, tr
from feedback.enums import LABELS, Category
from feedback.intake import submit_web_feedback
from feedback.routes.common import Form, field_messages, text
from feedback.service import items_for_patient_user


def _intake_identifier(request: Request[Any, Any, Any]) -> str:
    # Litestar keys its history by identifier alone: without a prefix, sign-in attempts and feedback would share
    # one counter (and the per-minute sign-in limit would trim this per-hour history).
    return "feedback-intake:" + get_remote_address(request)


# Anonymous intake is open to the internet: a per-address ceiling keeps it from being used to flood the inbox.
intake_rate_limit = RateLimitConfig(rate_limit=("hour", 20), store="rate_limit_intake",
                                    identifier_for_request=_intake_identifier)


def _patient_user(request: Request[Any, Any, Any]) -> Principal | None:
    user = request.scope.get("user")
    return user if user is not None and user.role in (Role.patient, Role.caregiver) else None


def _clinic_for(db: Session, request: Request[Any, Any, Any], code: str | None) -> Clinic | None:
    """The signed-in person's clinic; for visitors the clinic named in the link (posters carry
    /feedback/new?clinic=CODE), or the only clinic there is. None means the visitor must choose."""
    user = _patient_user(request)
    if user is not None:
        return db.get(Clinic, user.clinic_id)
    if code:
        clinic = db.scalar(select(Clinic).where(Clinic.code == code[:32]))
        if clinic is None:
            raise NotFoundException()
        return clinic
    clinics = db.scalars(select(Clinic).limit(2)).all()
    return clinics[0] if len(clinics) == 1 else None


class FeedbackIntakeController(Controller):
    path = "/feedback"
    include_in_schema = False

    @get("/new", name="feedback:new", sync_to_thread=True)
    def new_feedback(self, request: Request[Any, Any, Any], db: Session, clinic: str | None = None) -> Any:
        if request.scope.get("user") is not None and _patient_user(request) is None:
            return Redirect("/feedback/record")  # staff record complaints on their own form
        chosen = _clinic_for(db, request, clinic)
        if chosen is None:
            return render("feedback/choose_clinic.html", context={
                "clinics": db.scalars(select(Clinic).order_by(Clinic.name)).all()})
        return self._form(db, request, chosen, values={}, errors={})

    @post("/new", name="feedback:submit", sync_to_thread=True, middleware=[intake_rate_limit.middleware])
    def submit(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Template:
        if request.scope.get("user") is not None and _patient_user(request) is None:
            raise PermissionDeniedException("Staff record complaints on the staff form.")
        clinic = _clinic_for(db, request, text(data, "clinic", 32) or None)
        if clinic is None:
            raise NotFoundException()
        values = {name: text(data, name) for name in ("category", "description", "harm", "name", "phone",
                                                      "consent", "patient_id")}
        try:
            item = submit_web_feedback(session=db, clinic=clinic, values=values, principal=_patient_user(request),
                                       language=request.state.language)
        except DomainError as exc:
            db.rollback()
            errors = field_messages(request, exc) or {"form": tr(request, exc.message, **exc.params)}
            return self._form(db, request, clinic, values=values, errors=errors, status_code=exc.status_code)
        return render("feedback/thanks.html", context={
            "reference": item.reference, "clinic": clinic, "signed_in": _patient_user(request) is not None})

    def _form(self, db: Session, request: Request[Any, Any, Any], clinic: Clinic, *, values: dict[str, Any],
              errors: dict[str, str], status_code: int = 200) -> Template:
        user = _patient_user(request)
        patients = []
        if user is not None and user.role == Role.caregiver:
            patients = [p for p in (db.get(Patient, pid) for pid in sorted(user.patient_ids)) if p is not None]
        return render("feedback/new.html", status_code=status_code, context={
            "clinic": clinic, "values": values, "errors": errors, "categories": list(Category), "labels": LABELS,
            "anonymous": user is None, "patients": patients})

    @get("/mine", name="feedback:mine", guards=[requires(Role.patient, Role.caregiver)], sync_to_thread=True)
    def mine(self, request: Request[Any, Any, Any], db: Session) -> Template:
        principal = principal_of(request)
        clinic = db.get(Clinic, principal.clinic_id)
        return render("feedback/mine.html", context={
            "items": items_for_patient_user(session=db, principal=principal), "labels": LABELS,
            "tz": clinic.timezone if clinic else None})
