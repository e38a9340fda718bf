"""Staff survey pages: results (committee and admin see the clinic, doctors their own patients), the CSV
export, and inviting a patient after a visit."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel import Session

from clinic.models import Clinic, Patient
from clinic.service import list_patients, list_staff
from core.audit import record_audit
from core.errors import DomainError
from core.models import AuditAction
from core.security import CLINICAL_ROLES, STAFF_ROLES, Role
from core.web import Page, client_address, page_number, principal_of, render, requires, tr
from surveys.enums import DIMENSION_LABELS, INVITATION_STATUS_LABELS, TRIGGER_LABELS
from surveys.export import export_responses_csv
from surveys.flows import invite_after_visit
from surveys.invitations import list_invitations
from surveys.models import SurveyInvitation
from surveys.results import compute_results, list_comments
from surveys.routes.helpers import one, results_filter, scope_doctor
from surveys.routes.views import results_charts
from surveys.service import current_templates, get_settings, template_codes

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
RESULT_ROLES = (Role.admin, Role.committee, Role.doctor)



class SurveyPagesController(Controller):
    path = "/surveys"
    include_in_schema = False

    @get("/", name="surveys:results", guards=[requires(*STAFF_ROLES)], sync_to_thread=True)
    def results(self, request: Request[Any, Any, Any], db: Session) -> Any:
        principal = principal_of(request)
        if principal.role not in RESULT_ROLES:
            return Redirect("/surveys/invite")  # nurses invite patients; results are for the committee
        clinic = db.get(Clinic, principal.clinic_id)
        assert clinic is not None
        params = dict(request.query_params)
        templates = current_templates(session=db, clinic_id=clinic.id)
        chosen = results_filter(clinic_id=clinic.id, timezone=clinic.timezone,
                                codes=[t.code for t in templates], params=params,
                                doctor_id=scope_doctor(request, params))
        results = compute_results(session=db, query=chosen.query)
        number = page_number(one(params.get("page")))
        comments, total = list_comments(session=db, query=chosen.query, page=number)
        record_audit(session=db, action=AuditAction.view, object_type="survey_results", principal=principal,
                     client_address=client_address(request),
                     detail=f"{chosen.querystring} comments_page={number}")
        template = next((t for t in templates if t.code == chosen.query.template_code), None)
        return render("surveys/results.html", context={
            "results": results, "filter": chosen, "templates": templates, "template": template,
            "charts": results_charts(request, results), "comments": comments,
            "comment_page": Page(number, 20, total), "is_doctor": principal.role == Role.doctor,
            "doctors": [] if principal.role == Role.doctor else list_staff(
                session=db, clinic_id=clinic.id, roles={Role.doctor, Role.nurse}),
            "questions": {q.question.key: q.question for q in results.questions},
            "may_invite": principal.role in CLINICAL_ROLES, "dimension_labels": DIMENSION_LABELS,
        })

    @get("/export.csv", name="surveys:export", guards=[requires(*RESULT_ROLES)], sync_to_thread=True)
    def export(self, request: Request[Any, Any, Any], db: Session) -> Response[bytes]:
        principal = principal_of(request)
        clinic = db.get(Clinic, principal.clinic_id)
        assert clinic is not None
        params = dict(request.query_params)
        chosen = results_filter(clinic_id=clinic.id, timezone=clinic.timezone,
                                codes=template_codes(session=db, clinic_id=clinic.id), params=params,
                                doctor_id=scope_doctor(request, params))
        text, count = export_responses_csv(session=db, query=chosen.query, timezone=clinic.timezone)
        record_audit(session=db, action=AuditAction.export, object_type="survey_responses", principal=principal,
                     client_address=client_address(request), detail=f"{chosen.querystring} rows={count}")
        q = chosen.query
        filename = f"survey-{q.template_code}-{q.date_from}-{q.date_to}.csv"
        return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
        })

    @get("/invite", name="surveys:invite", guards=[requires(*CLINICAL_ROLES)], sync_to_thread=True)
    def invite_page(self, request: Request[Any, Any, Any], db: Session, q: str = "",
                    page: str | None = None, sent: str | None = None) -> Template:
        return self._invite_page(request, db, q=q[:60], page=page_number(page), sent=sent, errors={}, values={})

    @post("/invite", name="surveys:invite-send", guards=[requires(*CLINICAL_ROLES)], sync_to_thread=True)
    def invite(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        principal = principal_of(request)
        raw_id = one(data.get("patient_id"))
        try:
            invitation = invite_after_visit(
                session=db, clinic_id=principal.clinic_id, patient_id=int(raw_id) if raw_id.isdigit() else 0,
                template_code=one(data.get("template")), staff_id=principal.user_id)
        except DomainError as exc:
            db.rollback()
            message = tr(request, exc.message, **exc.params)
            return self._invite_page(request, db, q=one(data.get("q"))[:60], page=1, sent=None,
                                     errors={"patient_id": message, "for": raw_id}, values=data,
                                     status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.create, object_type="survey_invitation",
                     object_id=invitation.id, patient_id=invitation.patient_id, principal=principal,
                     client_address=client_address(request))
        return Redirect(f"/surveys/invite?sent={invitation.id}")

    def _invite_page(self, request: Request[Any, Any, Any], db: Session, *, q: str, page: int, sent: str | None,
                     errors: dict[str, str], values: dict[str, Any], status_code: int = 200) -> Template:
        principal = principal_of(request)
        clinic_id = principal.clinic_id
        patients, total = list_patients(session=db, clinic_id=clinic_id, search=q, page=page,
                                        per_page=10) if q else ([], 0)
        recent, _ = list_invitations(session=db, clinic_id=clinic_id, per_page=15)
        confirmed: tuple[SurveyInvitation, Patient] | None = None
        if sent and sent.isdigit():
            invitation = db.get(SurveyInvitation, int(sent))
            if invitation is not None and invitation.clinic_id == clinic_id:
                patient = db.get(Patient, invitation.patient_id)
                confirmed = (invitation, patient) if patient is not None else None
        record_audit(session=db, action=AuditAction.view, object_type="survey_invitation_list",
                     principal=principal, client_address=client_address(request),
                     detail=f"search={bool(q)} matches={len(patients)} recent={len(recent)}")
        return render("surveys/invite.html", status_code=status_code, context={
            "q": q, "patients": patients, "page": Page(page, 10, total), "recent": recent, "confirmed": confirmed,
            "errors": errors, "values": values, "templates": current_templates(session=db, clinic_id=clinic_id),
            "settings": get_settings(session=db, clinic_id=clinic_id), "status_labels": INVITATION_STATUS_LABELS,
            "trigger_labels": TRIGGER_LABELS, "tz": _clinic_zone(db, clinic_id),
        })


def _clinic_zone(db: Session, clinic_id: int) -> str | None:
    """Send times show in the clinic's own time zone, whatever the server's."""
    clinic = db.get(Clinic, clinic_id)
    return clinic.timezone if clinic is not None else None
