"""The follow-up policy admin page: tier due times, retry backoff, attempts, service hours, on-call doctor."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel import Session

from clinic.service import list_staff
from core.audit import record_audit
from core.errors import DomainError
from core.i18n import N_
from core.models import AuditAction
from core.security import Role
from core.web import client_address, principal_of, render, requires, tr
from followup.callbacks import get_policy, save_policy

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
WEEKDAYS = (("1", N_("Mon")), ("2", N_("Tue")), ("3", N_("Wed")), ("4", N_("Thu")), ("5", N_("Fri")),
            ("6", N_("Sat")), ("7", N_("Sun")))


class FollowupPolicyController(Controller):
    path = "/admin/followup-policy"
    include_in_schema = False
    guards = [requires(Role.admin)]

    @get("/", name="followup:policy", sync_to_thread=True)
    def show(self, request: Request[Any, Any, Any], db: Session) -> Template:
        principal = principal_of(request)
        policy = get_policy(session=db, clinic_id=principal.clinic_id)
        values = {k: getattr(policy, k) for k in type(policy).model_fields}
        values["service_day_start"] = policy.service_day_start.strftime("%H:%M")
        values["service_day_end"] = policy.service_day_end.strftime("%H:%M")
        values["service_weekdays"] = list(policy.service_weekdays)
        return self._form(db, principal.clinic_id, values=values, errors={},
                          saved=request.query_params.get("saved") == "1")

    @post("/", name="followup:policy-save", sync_to_thread=True)
    def save(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        principal = principal_of(request)
        try:
            save_policy(session=db, clinic_id=principal.clinic_id, data=data, updated_by=principal.user_id)
        except DomainError as exc:
            db.rollback()
            errors = {e.field: tr(request, e.message, **e.params) for e in exc.field_errors}
            values = dict(data)
            weekdays = data.get("service_weekdays") or []
            values["service_weekdays"] = weekdays if isinstance(weekdays, list) else [weekdays]
            return self._form(db, principal.clinic_id, values=values, errors=errors, saved=False,
                              status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.update, object_type="followup_policy",
                     object_id=principal.clinic_id, principal=principal, client_address=client_address(request))
        return Redirect("/admin/followup-policy?saved=1")

    def _form(self, db: Session, clinic_id: int, *, values: dict[str, Any], errors: dict[str, str], saved: bool,
              status_code: int = 200) -> Template:
        staff = list_staff(session=db, clinic_id=clinic_id, roles={Role.doctor, Role.nurse, Role.admin})
        return render("followup/callback_policy.html", status_code=status_code, context={
            "values": values, "errors": errors, "saved": saved, "weekdays": WEEKDAYS,
            "clinicians": [s for s in staff if s.role in (Role.doctor, Role.nurse)], "staff": staff,
        })
