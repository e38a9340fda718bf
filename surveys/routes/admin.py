"""Survey administration: the clinic's survey settings (admin) and the questionnaire templates with their
versions, editor and preview (admin and committee)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel import Session

from clinic.models import Clinic
from core.audit import record_audit
from core.errors import DomainError
from core.i18n import normalise_language
from core.models import AuditAction
from core.security import Role
from core.web import client_address, principal_of, render, requires
from surveys.enums import DIMENSION_LABELS, QUESTION_TYPE_LABELS, SCALE_LABELS, TRIGGER_LABELS, Dimension
from surveys.routes.helpers import field_messages, one, questions_from_form
from surveys.service import (
    count_versions,
    create_template_version,
    current_template,
    current_templates,
    get_settings,
    template_versions,
    update_settings,
)

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
EDITORS = (Role.admin, Role.committee)


class SurveyAdminController(Controller):
    path = "/surveys"
    include_in_schema = False

    @get("/settings", name="surveys:settings", guards=[requires(Role.admin)], sync_to_thread=True)
    def settings_page(self, request: Request[Any, Any, Any], db: Session, saved: str = "") -> Template:
        principal = principal_of(request)
        current = get_settings(session=db, clinic_id=principal.clinic_id)
        return self._settings(db, principal.clinic_id, values=current.model_dump(), errors={}, saved=bool(saved))

    @post("/settings", name="surveys:settings-save", guards=[requires(Role.admin)], sync_to_thread=True)
    def save_settings(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        principal = principal_of(request)
        values = {k: one(v) for k, v in data.items()}
        try:
            saved = update_settings(session=db, clinic_id=principal.clinic_id, values=values,
                                    staff_id=principal.user_id)
        except DomainError as exc:
            db.rollback()
            shown = {**values, "after_callback": "after_callback" in values}
            return self._settings(db, principal.clinic_id, values=shown, errors=field_messages(request, exc),
                                  saved=False, status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.update, object_type="survey_settings", object_id=saved.id,
                     principal=principal, client_address=client_address(request))
        return Redirect("/surveys/settings?saved=1")

    def _settings(self, db: Session, clinic_id: int, *, values: dict[str, Any], errors: dict[str, str],
                  saved: bool, status_code: int = 200) -> Template:
        return render("surveys/settings.html", status_code=status_code, context={
            "values": values, "errors": errors, "saved": saved,
            "templates": current_templates(session=db, clinic_id=clinic_id),
        })

    @get("/templates", name="surveys:templates", guards=[requires(*EDITORS)], sync_to_thread=True)
    def templates(self, request: Request[Any, Any, Any], db: Session) -> Template:
        principal = principal_of(request)
        return render("surveys/templates.html", context={
            "templates": current_templates(session=db, clinic_id=principal.clinic_id),
            "versions": count_versions(session=db, clinic_id=principal.clinic_id),
            "settings": get_settings(session=db, clinic_id=principal.clinic_id), "trigger_labels": TRIGGER_LABELS,
        })

    @get("/templates/{code:str}", name="surveys:template", guards=[requires(*EDITORS)], sync_to_thread=True)
    def template(self, request: Request[Any, Any, Any], db: Session, code: str, version: int | None = None,
                 saved: str = "") -> Template:
        principal = principal_of(request)
        versions = template_versions(session=db, clinic_id=principal.clinic_id, code=code)
        shown = next((v for v in versions if v.version == version), versions[0])
        return render("surveys/template_detail.html", context={
            "template": shown, "versions": versions, "questions": shown.question_defs(),
            "latest": versions[0], "saved": saved, "dimension_labels": DIMENSION_LABELS,
            "type_labels": QUESTION_TYPE_LABELS, "scale_labels": SCALE_LABELS,
            "tz": getattr(db.get(Clinic, principal.clinic_id), "timezone", None),
        })

    @get("/templates/{code:str}/preview", name="surveys:template-preview", guards=[requires(*EDITORS)],
         sync_to_thread=True)
    def preview(self, request: Request[Any, Any, Any], db: Session, code: str, language: str = "") -> Template:
        principal = principal_of(request)
        template = current_template(session=db, clinic_id=principal.clinic_id, code=code)
        lang = normalise_language(language or request.state.get("language"), default="zh-CN")
        request.state.language = lang  # the whole page in the previewed language, as the patient sees it
        return render("surveys/public.html", context={
            "template": template, "questions": template.question_defs(), "clinic": db.get(Clinic, principal.clinic_id),
            "token": "", "lang": lang, "values": {}, "errors": {}, "preview": True,
        })

    @get("/templates/{code:str}/edit", name="surveys:template-edit", guards=[requires(*EDITORS)],
         sync_to_thread=True)
    def edit(self, request: Request[Any, Any, Any], db: Session, code: str) -> Template:
        principal = principal_of(request)
        latest = current_template(session=db, clinic_id=principal.clinic_id, code=code)
        values: dict[str, Any] = {"title_zh": latest.title_zh, "title_en": latest.title_en,
                                  "intro_zh": latest.intro_zh, "intro_en": latest.intro_en, "note": ""}
        return self._editor(latest, values=values, errors={}, questions=latest.questions)

    @post("/templates/{code:str}/edit", name="surveys:template-save", guards=[requires(*EDITORS)],
          sync_to_thread=True)
    def save(self, request: Request[Any, Any, Any], db: Session, code: str, data: Form) -> Any:
        principal = principal_of(request)
        latest = current_template(session=db, clinic_id=principal.clinic_id, code=code)
        edited = questions_from_form(data, latest.question_defs())
        values = {k: one(data.get(k)) for k in ("title_zh", "title_en", "intro_zh", "intro_en", "note")}
        try:
            created = create_template_version(
                session=db, clinic_id=principal.clinic_id, code=code, questions=[dict(q) for q in edited],
                staff_id=principal.user_id, **values)
        except DomainError as exc:
            db.rollback()
            return self._editor(latest, values={**values, **{k: v for k, v in data.items() if k.endswith("_new")}},
                                errors=field_messages(request, exc), questions=edited, status_code=exc.status_code)
        if created is None:
            return Redirect(f"/surveys/templates/{code}?saved=unchanged")
        record_audit(session=db, action=AuditAction.create, object_type="survey_template", object_id=created.id,
                     principal=principal, client_address=client_address(request),
                     detail=f"{code} v{created.version}")
        return Redirect(f"/surveys/templates/{code}?saved={created.version}")

    def _editor(self, latest: Any, *, values: dict[str, Any], errors: dict[str, str],
                questions: list[dict[str, Any]], status_code: int = 200) -> Template:
        return render("surveys/template_edit.html", status_code=status_code, context={
            "template": latest, "values": values, "errors": errors,
            "questions": [q for q in questions if q.get("_field") != "new"],
            "dimensions": list(Dimension), "dimension_labels": DIMENSION_LABELS,
            "type_labels": QUESTION_TYPE_LABELS, "scale_labels": SCALE_LABELS,
        })
