"""Sign-in and sign-out: staff with username and password, patients and caregivers with an SMS code."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel import Session

from clinic.auth import (
    authenticate_staff,
    issue_login_code,
    record_failed_login,
    staff_principal,
    verify_login_code,
)
from core.audit import record_audit
from core.errors import DomainError
from core.i18n import gettext
from core.messaging import queue_sms
from core.models import AuditAction
from core.settings import Settings
from core.web import client_address, remember_principal, render, safe_next, tr

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
# A per-address ceiling on sign-in attempts; per-account lockout is counted in the database.
login_rate_limit = RateLimitConfig(rate_limit=("minute", 20), store="rate_limit_login")



class AuthController(Controller):
    path = "/"
    tags = ["auth"]
    include_in_schema = False

    @get("/login", name="clinic:login", sync_to_thread=False)
    def login_page(self, next: str | None = None) -> Template:  # noqa: A002
        return render("clinic/login.html", context={"next": safe_next(next), "error": "", "username": ""})

    @post("/login", name="clinic:login-submit", sync_to_thread=True, middleware=[login_rate_limit.middleware])
    def login_submit(self, request: Request[Any, Any, Any], db: Session, settings: Settings, data: Form) -> Any:
        username = str(data.get("username", ""))[:64]
        try:
            user = authenticate_staff(
                session=db, username=username, password=str(data.get("password", ""))[:200],
                max_failures=settings.login_max_failures, lockout_minutes=settings.login_lockout_minutes,
                client_address=client_address(request),
            )
        except DomainError as exc:
            record_failed_login(session=db, username=username, client_address=client_address(request),
                                reason=exc.code)
            db.commit()  # the failure count must survive the error response
            return render("clinic/login.html", status_code=exc.status_code, context={
                "next": safe_next(data.get("next")), "username": username,
                "error": tr(request, exc.message, **exc.params)})
        principal = staff_principal(user)
        record_audit(session=db, action=AuditAction.login, object_type="staff_user", object_id=user.id,
                     principal=principal, client_address=client_address(request))
        remember_principal(request, principal)
        return Redirect(safe_next(data.get("next")))

    @post("/logout", name="clinic:logout", sync_to_thread=True)
    def logout(self, request: Request[Any, Any, Any], db: Session) -> Redirect:
        user = request.scope.get("user")
        if user is not None:
            record_audit(session=db, action=AuditAction.logout, object_type=user.kind, object_id=user.user_id,
                         principal=user, client_address=client_address(request))
        request.clear_session()
        return Redirect("/login")

    @get("/login/code", name="clinic:code-login", sync_to_thread=False)
    def code_page(self) -> Template:
        return render("clinic/code_login.html", context={"phone": "", "error": "", "sent": False})

    @post("/login/code", name="clinic:code-request", sync_to_thread=True, middleware=[login_rate_limit.middleware])
    def code_request(self, request: Request[Any, Any, Any], db: Session, settings: Settings, data: Form) -> Template:
        phone = str(data.get("phone", ""))[:32]
        try:
            issued = issue_login_code(session=db, raw_phone=phone, secret=settings.resolved_secret_key())
        except DomainError as exc:
            return render("clinic/code_login.html", status_code=exc.status_code, context={
                "phone": phone, "sent": False, "error": tr(request, exc.message, **exc.params)})
        if issued.phone and issued.code:
            queue_sms(session=db, phone=issued.phone, purpose="login_code", throttle=False,
                      clinic_id=issued.clinic_id, patient_id=issued.patient_id,
                      body=gettext(issued.language, "Your CareLoop sign-in code is %(code)s. It expires in 10 "
                                                    "minutes. Do not share it.", code=issued.code))
        # The same answer whether or not the number is registered, so the form cannot be used to probe.
        return render("clinic/code_login.html", context={"phone": phone, "sent": True, "error": ""})

    @post("/login/verify", name="clinic:code-verify", sync_to_thread=True, middleware=[login_rate_limit.middleware])
    def code_verify(self, request: Request[Any, Any, Any], db: Session, settings: Settings, data: Form) -> Any:
        phone = str(data.get("phone", ""))[:32]
        try:
            principal = verify_login_code(session=db, raw_phone=phone, code=str(data.get("code", ""))[:12],
                                          secret=settings.resolved_secret_key())
        except DomainError as exc:
            db.commit()  # keep the attempt count
            return render("clinic/code_login.html", status_code=exc.status_code, context={
                "phone": phone, "sent": True, "error": tr(request, exc.message, **exc.params)})
        record_audit(session=db, action=AuditAction.login, object_type=principal.kind, object_id=principal.user_id,
                     principal=principal, client_address=client_address(request))
        remember_principal(request, principal)
        return Redirect("/me")
