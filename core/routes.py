"""Infrastructure pages: health, language switch, home, the audit log and the development SMS log."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.params import Parameter
from litestar.response import Redirect, Template
from sqlalchemy import func, select
from sqlmodel import Session

from core import i18n
from core.audit import list_audit
from core.i18n import N_
from core.models import AuditAction, SmsMessage
from core.security import STAFF_ROLES, Role
from core.web import Page, page_number, principal_of, render, requires, safe_next


@get("/healthz", name="core:health", sync_to_thread=False, exclude_from_auth=True)
def health() -> dict[str, str]:
    """Liveness: the process answers. It touches neither the database nor the broker, so an orchestrator does not
    restart every web process when PostgreSQL blips; whether to send traffic is /readyz's question."""
    return {"status": "ok"}


@get("/lang/{code:str}", name="core:language", sync_to_thread=False)
def switch_language(code: str, next: str | None = None) -> Redirect:  # noqa: A002 - query name
    response = Redirect(safe_next(next))
    response.set_cookie("lang", i18n.normalise_language(code), max_age=365 * 24 * 3600, samesite="lax",
                        httponly=True)
    return response


@get("/", name="core:home", sync_to_thread=False)
def home(request: Request[Any, Any, Any]) -> Redirect:
    user = request.scope.get("user")
    if user is None:
        return Redirect("/login")
    if user.role in (Role.patient, Role.caregiver):
        return Redirect("/me")
    return Redirect("/callbacks" if user.role in (Role.admin, Role.doctor, Role.nurse) else "/patients")


# What the audit log shows for each action, in the reader's language (the stored value stays the enum's).
ACTION_LABELS = {
    AuditAction.view: N_("Viewed"), AuditAction.create: N_("Created"), AuditAction.update: N_("Changed"),
    AuditAction.delete: N_("Deleted"), AuditAction.export: N_("Exported"), AuditAction.login: N_("Signed in"),
    AuditAction.login_failed: N_("Sign-in failed"), AuditAction.logout: N_("Signed out"),
    AuditAction.sms_sent: N_("SMS sent"), AuditAction.sms_received: N_("SMS received"),
    AuditAction.security: N_("Security event"),
}
WHO_LABELS = {"admin": N_("Admin"), "doctor": N_("Doctor"), "nurse": N_("Nurse"), "committee": N_("Committee"),
              "patient": N_("Patient"), "caregiver": N_("Caregiver"), "system": N_("System")}


@get("/admin/audit", name="core:audit-log", guards=[requires(Role.admin)], sync_to_thread=True)
def audit_log(request: Request[Any, Any, Any], db: Session, page: str | None = None,
              patient: str | None = Parameter(query="patient_id", default=None),
              action: str | None = None) -> Template:
    principal = principal_of(request)
    # The filter form sends an empty box as "patient_id=": that means every patient, not a bad request.
    patient_id = int(patient) if patient and patient.strip().isdigit() else None
    chosen = AuditAction(action) if action in AuditAction.__members__ else None
    number = page_number(page)
    entries, total = list_audit(session=db, clinic_id=principal.clinic_id, page=number, patient_id=patient_id,
                                action=chosen)
    return render("core/audit.html", context={
        "entries": entries, "page": Page(number, 50, total), "actions": list(AuditAction),
        "chosen_action": action or "", "patient_id": patient_id, "action_labels": ACTION_LABELS,
        "who_labels": WHO_LABELS,
    })


@get("/dev/sms", name="core:dev-sms", guards=[requires(*STAFF_ROLES)], sync_to_thread=True)
def development_sms(request: Request[Any, Any, Any], db: Session, page: str | None = None) -> Template:
    """What the development transport 'sent': lets a tester read codes and replies without a phone."""
    principal = principal_of(request)
    number = page_number(page)
    query = select(SmsMessage).where(SmsMessage.clinic_id == principal.clinic_id)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    messages = db.scalars(query.order_by(SmsMessage.id.desc()).offset((number - 1) * 50).limit(50)).all()
    return render("core/dev_sms.html", context={
        "messages": messages, "page": Page(number, 50, total),
        "is_development": request.app.state.sms_gateway.name == "development",
    })


HANDLERS = [health, switch_language, home, audit_log, development_sms]
