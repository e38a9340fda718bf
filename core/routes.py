"""Infrastructure pages: health, language switch, home, the audit log and the development SMS log."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect, Template
from sqlalchemy import func, select, text
from sqlmodel import Session

from core import i18n
from core.audit import list_audit
from core.db import get_engine
from core.models import AuditAction, SmsMessage
from core.security import STAFF_ROLES, Role
from core.web import Page, page_number, principal_of, render, requires, safe_next


@get("/healthz", name="core:health", sync_to_thread=True, exclude_from_auth=True)
def health(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    checks = {"database": "ok", "broker": "ok"}
    try:
        with get_engine(request.app.state.settings).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    broker = request.app.state.broker
    try:
        client = getattr(broker, "client", None)
        if client is not None:
            client.ping()
        elif hasattr(broker, "connection"):
            broker.connection  # noqa: B018 - opening the connection is the check
    except Exception as exc:
        checks["broker"] = f"unreachable: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return Response({"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503)


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


@get("/admin/audit", name="core:audit-log", guards=[requires(Role.admin)], sync_to_thread=True)
def audit_log(request: Request[Any, Any, Any], db: Session, page: str | None = None,
              patient_id: int | None = None, action: str | None = None) -> Template:
    principal = principal_of(request)
    chosen = AuditAction(action) if action in AuditAction.__members__ else None
    number = page_number(page)
    entries, total = list_audit(session=db, clinic_id=principal.clinic_id, page=number, patient_id=patient_id,
                                action=chosen)
    return render("core/audit.html", context={
        "entries": entries, "page": Page(number, 50, total), "actions": list(AuditAction),
        "chosen_action": action or "", "patient_id": patient_id,
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
