"""Clinic settings for complaints (deadlines, routing, working calendar) and the committee's measures page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlmodel import Session

from clinic.models import Clinic
from clinic.service import list_staff
from core.audit import record_audit
from core.db import utcnow
from core.errors import DomainError
from core.models import AuditAction
from core.security import Role
from core.web import client_address, principal_of, render, requires
from feedback.enums import LABELS, Category
from feedback.metrics import monthly_measures
from feedback.policy import (
    DAY_FIELDS,
    add_calendar_day,
    day_ends_at,
    get_policy,
    list_calendar,
    remove_calendar_day,
    routes_for,
    update_policy,
    update_routes,
)
from feedback.routes.common import Form, clinic_of, field_messages, text


class FeedbackSettingsController(Controller):
    path = "/feedback/settings"
    include_in_schema = False
    guards = [requires(Role.admin)]

    @get("/", name="feedback:settings", sync_to_thread=True)
    def settings_page(self, request: Request[Any, Any, Any], db: Session) -> Template:
        principal = principal_of(request)
        return self._page(db, clinic_of(db, principal), done=request.query_params.get("done", ""))

    def _page(self, db: Session, clinic: Clinic, *, done: str = "", policy_values: dict[str, Any] | None = None,
              policy_errors: dict[str, str] | None = None, route_errors: dict[str, str] | None = None,
              day_values: dict[str, Any] | None = None, day_errors: dict[str, str] | None = None,
              status_code: int = 200) -> Template:
        policy = get_policy(session=db, clinic=clinic)
        if policy_values is None:
            policy_values = {name: str(getattr(policy, name)) for name in (
                *DAY_FIELDS, "due_soon_hours", "rca_threshold", "rca_window_days")}
            policy_values["day_ends_at"] = day_ends_at(policy).strftime("%H:%M")
            policy_values["supervisor_id"] = str(policy.supervisor_id or "")
        today = utcnow().astimezone(ZoneInfo(clinic.timezone)).date()
        return render("feedback/settings.html", status_code=status_code, context={
            "clinic": clinic, "policy": policy, "values": policy_values, "errors": policy_errors or {},
            "routes": {c.value: str(o) for c, o in routes_for(session=db, clinic_id=clinic.id).items()},
            "route_errors": route_errors or {}, "categories": list(Category), "labels": LABELS,
            "staff": list_staff(session=db, clinic_id=clinic.id),
            "days": list_calendar(session=db, clinic_id=clinic.id, since=today - timedelta(days=31)),
            "day_values": day_values or {}, "day_errors": day_errors or {}, "done": done,
        })

    def _audit(self, db: Session, request: Request[Any, Any, Any], detail: str) -> None:
        principal = principal_of(request)
        record_audit(session=db, action=AuditAction.update, object_type="feedback_policy",
                     object_id=principal.clinic_id, principal=principal, client_address=client_address(request),
                     detail=detail)

    @post("/", name="feedback:settings-save", sync_to_thread=True)
    def save(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        principal = principal_of(request)
        clinic = clinic_of(db, principal)
        values = {name: text(data, name, 20) for name in (*DAY_FIELDS, "due_soon_hours", "rca_threshold",
                                                          "rca_window_days", "day_ends_at", "supervisor_id")}
        try:
            update_policy(session=db, clinic=clinic, values=values, staff_id=principal.user_id)
        except DomainError as exc:
            db.rollback()
            return self._page(db, clinic, policy_values=values, policy_errors=field_messages(request, exc),
                              status_code=exc.status_code)
        self._audit(db, request, "deadlines")
        return Redirect("/feedback/settings?done=policy")

    @post("/routes", name="feedback:settings-routes", sync_to_thread=True)
    def save_routes(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        principal = principal_of(request)
        clinic = clinic_of(db, principal)
        values = {f"route_{c.value}": text(data, f"route_{c.value}", 12) for c in Category}
        try:
            update_routes(session=db, clinic=clinic, values=values)
        except DomainError as exc:
            db.rollback()
            return self._page(db, clinic, route_errors=field_messages(request, exc), status_code=exc.status_code)
        self._audit(db, request, "routing")
        return Redirect("/feedback/settings?done=routes")

    @post("/calendar", name="feedback:settings-calendar", sync_to_thread=True)
    def add_day(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        principal = principal_of(request)
        clinic = clinic_of(db, principal)
        values = {name: text(data, name, 60) for name in ("day", "name", "is_workday")}
        try:
            add_calendar_day(session=db, clinic_id=clinic.id, values=values)
        except DomainError as exc:
            db.rollback()
            return self._page(db, clinic, day_values=values, day_errors=field_messages(request, exc),
                              status_code=exc.status_code)
        self._audit(db, request, f"calendar add {values['day']}")
        return Redirect("/feedback/settings?done=calendar")

    @post("/calendar/{day_id:int}/delete", name="feedback:settings-calendar-delete", sync_to_thread=True)
    def remove_day(self, request: Request[Any, Any, Any], db: Session, day_id: int) -> Redirect:
        principal = principal_of(request)
        remove_calendar_day(session=db, clinic_id=principal.clinic_id, day_id=day_id)
        self._audit(db, request, f"calendar remove {day_id}")
        return Redirect("/feedback/settings?done=calendar")


class FeedbackMetricsController(Controller):
    path = "/feedback/measures"
    include_in_schema = False
    guards = [requires(Role.admin, Role.committee)]

    @get("/", name="feedback:measures", sync_to_thread=True)
    def measures(self, request: Request[Any, Any, Any], db: Session, month: str = "") -> Template:
        principal = principal_of(request)
        clinic = clinic_of(db, principal)
        rows = monthly_measures(session=db, clinic=clinic, months=12)
        totals = [r for r in rows if r.category is None]
        months = [r.month.isoformat()[:7] for r in totals]
        chosen = month[:7] if month[:7] in months else months[-1]
        by_category = [r for r in rows if r.category is not None and r.month.isoformat()[:7] == chosen]
        record_audit(session=db, action=AuditAction.view, object_type="feedback_measures", principal=principal,
                     client_address=client_address(request), detail=f"month={chosen}")
        return render("feedback/measures.html", context={
            "totals": list(reversed(totals)), "by_category": by_category, "months": list(reversed(months)),
            "chosen": chosen, "labels": LABELS})
