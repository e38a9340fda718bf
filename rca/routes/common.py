"""What the RCA pages share: who may edit, auditing of patient data, the diagram, and the overview's context."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel import Session

from clinic.models import Clinic, Patient, StaffUser
from clinic.service import list_staff
from core.audit import record_audit
from core.db import utcnow
from core.errors import DomainError
from core.i18n import N_, gettext
from core.models import AuditAction
from core.security import Principal, Role
from core.web import client_address, principal_of, render, tr
from rca import flows, service
from rca.enums import (
    ACTION_STATUS_LABELS,
    CATEGORY_CHARS,
    CAUSATION_RULES,
    LABELS,
    SAC_MATRIX,
    STRENGTH_EXAMPLES,
    ActionStrength,
    CausalDirection,
    FishboneCategory,
    RcaActionStatus,
    RcaStatus,
    RcaTeamRole,
    SacProbability,
    SacSeverity,
    allowed_transitions,
)
from rca.fishbone import Bone, BoneCause, FishboneTexts, render_fishbone
from rca.history import KIND_LABELS, history_of
from rca.models import Cause, RootCauseAnalysis
from rca.timers import clocks

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
EDITORS = (Role.admin, Role.committee)

# Confirmations after a change; the redirect names one of these keys, never free text.
NOTICES: dict[str, str] = {
    "created": N_("The analysis is open. Add the team, then start the analysis within the start deadline."),
    "details": N_("Problem and triage saved."), "status": N_("The analysis moved to its next stage."),
    "team": N_("Team updated."), "timeline": N_("Timeline updated."), "whys": N_("5 whys updated."),
    "causes": N_("Fishbone causes updated."), "statements": N_("Causal statements updated."),
    "actions": N_("Actions updated."), "settings": N_("RCA deadlines saved."),
}


def is_editor(principal: Principal) -> bool:
    return principal.role in EDITORS


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def clinic_of(db: Session, principal: Principal) -> Clinic:
    clinic = db.get(Clinic, principal.clinic_id)
    assert clinic is not None
    return clinic


def audit(db: Session, request: Request[Any, Any, Any], analysis: RootCauseAnalysis, action: AuditAction,
          detail: str = "") -> None:
    """An audit row per patient the analysis is about; an analysis about no patient holds no patient data."""
    principal = principal_of(request)
    for patient_id in service.patient_ids_of(session=db, analysis=analysis):
        record_audit(session=db, action=action, object_type="rca_analysis", object_id=analysis.id,
                     patient_id=patient_id, principal=principal, client_address=client_address(request),
                     detail=detail)


def field_messages(request: Request[Any, Any, Any], exc: DomainError) -> dict[str, str]:
    """Field-level messages; an error about no field in particular goes under `_form`."""
    messages = {e.field: tr(request, e.message, **e.params) for e in exc.field_errors}
    if not messages:
        messages["_form"] = tr(request, exc.message, **exc.params)
    return messages


def category_label(category: FishboneCategory | str, language: str) -> str:
    """'人（人员）' in Chinese, where teams know the bones by their one-character 6M names; 'People' in English."""
    bone = FishboneCategory(category)
    label = gettext(language, LABELS[bone.value])
    return f"{CATEGORY_CHARS[bone]}（{label}）" if language == "zh-CN" else label


def fishbone_svg(analysis: RootCauseAnalysis, causes: list[Cause], language: str, id_prefix: str) -> str:
    bones = [Bone(category_label(c, language), [BoneCause(x.text, x.is_root) for x in causes
                                               if FishboneCategory(x.category) == c]) for c in FishboneCategory]
    texts = FishboneTexts(
        title=gettext(language, "Fishbone diagram: %(title)s", title=analysis.title),
        description=gettext(language, "Cause-and-effect diagram of the problem, with causes grouped in six "
                                      "categories: people, machines, materials, methods, environment and "
                                      "measurement."),
        root_cause=gettext(language, "Root cause"), empty=gettext(language, "No causes yet"),
        problem=gettext(language, "Problem:"))
    return render_fishbone(problem=analysis.title, bones=bones, texts=texts, id_prefix=id_prefix)


def form_error_page(request: Request[Any, Any, Any], db: Session, analysis_id: int, section: str,
                    exc: DomainError, data: dict[str, Any]) -> Template:
    """The overview again, with the failed form's values and its messages next to the fields."""
    db.rollback()
    principal = principal_of(request)
    analysis = service.get_analysis(session=db, clinic_id=principal.clinic_id, analysis_id=analysis_id)
    context = overview_context(db, request, analysis, failed=section, errors=field_messages(request, exc),
                               values=data)
    return render("rca/detail.html", context=context, status_code=exc.status_code)


def apply_edit(request: Request[Any, Any, Any], db: Session, analysis_id: int, section: str, data: dict[str, Any],
               change: Callable[[RootCauseAnalysis, Clinic, Principal], Any]) -> Any:
    """Run one change on the caller's analysis, then redirect with a confirmation (or show the form's errors)."""
    principal = principal_of(request)
    analysis = service.get_analysis(session=db, clinic_id=principal.clinic_id, analysis_id=analysis_id)
    try:
        change(analysis, clinic_of(db, principal), principal)
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return form_error_page(request, db, analysis_id, section, exc, data)
    audit(db, request, analysis, AuditAction.update, detail=section)
    return Redirect(f"/rca/{analysis_id}?done={section}#{section}")


def overview_context(db: Session, request: Request[Any, Any, Any], analysis: RootCauseAnalysis, *,
                     failed: str = "", errors: dict[str, str] | None = None,
                     values: dict[str, Any] | None = None, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    principal = principal_of(request)
    language = request.state.get("language") or principal.language
    clinic = clinic_of(db, principal)
    causes = service.causes_of(session=db, analysis_id=analysis.id)
    actions = service.actions_of(session=db, analysis_id=analysis.id)
    staff = list_staff(session=db, clinic_id=clinic.id)
    staff_names = {s.id: s.display_name for s in staff}
    for action in actions:  # owners who have since left keep their name on the page
        if action.owner_id not in staff_names:
            owner = db.get(StaffUser, action.owner_id)
            staff_names[action.owner_id] = owner.display_name if owner else "?"
    items = flows.linked_items(session=db, analysis=analysis, language=language)
    patient_ids = sorted({i.patient_id for i in items if i.patient_id} | ({analysis.patient_id} - {None}))
    editable = is_editor(principal) and RcaStatus(analysis.status) not in (RcaStatus.closed, RcaStatus.excluded)
    done = str(request.query_params.get("done", ""))
    return {
        "analysis": analysis, "clinic": clinic, "tz": ZoneInfo(clinic.timezone), "now": now,
        "clocks": clocks(status=analysis.status, start_due_at=analysis.start_due_at, due_at=analysis.due_at,
                         started_at=analysis.started_at, completed_at=analysis.completed_at, now=now),
        "is_editor": is_editor(principal), "editable": editable,
        "transitions": allowed_transitions(RcaStatus(analysis.status)) if is_editor(principal) else [],
        "team": service.team_of(session=db, analysis_id=analysis.id), "staff": staff, "staff_names": staff_names,
        "timeline": service.timeline_of(session=db, analysis_id=analysis.id),
        "chains": service.chains_of(session=db, analysis_id=analysis.id),
        "causes": causes, "cause_text": {c.id: c.text for c in causes},
        "causes_by_category": {c: [x for x in causes if FishboneCategory(x.category) == c] for c in FishboneCategory},
        "root_causes": [c for c in causes if c.is_root],
        "statements": service.statements_of(session=db, analysis_id=analysis.id),
        "actions": actions, "overdue": {a.id: service.is_overdue(a, now) for a in actions},
        "weak_plan": service.weak_plan(analysis=analysis, actions=actions),
        "items": items, "patients": flows.patients_by_id(session=db, clinic_id=clinic.id, ids=patient_ids),
        "patient": db.get(Patient, analysis.patient_id) if analysis.patient_id else None,
        "history": history_of(session=db, analysis_id=analysis.id, limit=100), "kind_labels": KIND_LABELS,
        "fishbone": fishbone_svg(analysis, causes, language, f"fishbone-{analysis.id}"),
        "category_label": lambda c: category_label(c, language),
        "failed": failed, "errors": errors or {}, "values": values or {},
        "notice": NOTICES.get(done, ""),
        **choices(),
    }


def choices() -> dict[str, Any]:
    return {
        "labels": LABELS, "action_status_labels": ACTION_STATUS_LABELS, "categories": list(FishboneCategory),
        "team_roles": list(RcaTeamRole), "strengths": list(ActionStrength), "strength_examples": STRENGTH_EXAMPLES,
        "action_statuses": list(RcaActionStatus),
        "directions": list(CausalDirection), "severities": list(SacSeverity), "probabilities": list(SacProbability),
        "sac_matrix": SAC_MATRIX, "rules": CAUSATION_RULES, "statuses": list(RcaStatus),
    }
