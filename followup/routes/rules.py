"""Clinic admin pages for follow-up rules: list, edit or create with field-level errors, preview what the
rule would have fired over the last 30 days, then save as a new version; (de)activate; version history."""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel import Session

from clinic.models import Clinic
from core.audit import record_audit
from core.db import utcnow
from core.errors import Conflict, FieldError, ValidationFailed
from core.models import AuditAction
from core.security import Principal, Role
from core.web import client_address, principal_of, render, requires
from followup.enums import Comparison, DayValue, DuePolicy, GlucoseContext, ReadingKind, RuleType, Severity
from followup.routes import rule_form
from followup.routes.rule_form import (
    CONTEXT_LABELS,
    DAY_VALUE_LABELS,
    DUE_POLICY_LABELS,
    DURATION_UNITS,
    KIND_LABELS,
    OP_HELP,
    OP_LABELS,
    SEVERITY_LABELS,
    TYPE_LABELS,
)
from followup.rule_admin import (
    code_taken,
    current_version,
    list_rules,
    preview_rule,
    rule_history,
    save_rule_version,
    set_rule_active,
)
from followup.rules import PLACEHOLDERS, UNITS_BY_KIND, RuleDefinition, RuleInvalid

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
_KINDLESS = (RuleType.missing_data, RuleType.symptom)


def _one(form: dict[str, Any], name: str) -> str:
    value = form.get(name, "")
    return str(value[-1] if isinstance(value, list) else value).strip()


def _clinic(db: Session, principal: Principal) -> Clinic:
    clinic = db.get(Clinic, principal.clinic_id)
    assert clinic is not None
    return clinic


def _labels() -> dict[str, Any]:
    return {
        "type_labels": TYPE_LABELS, "kind_labels": KIND_LABELS, "severity_labels": SEVERITY_LABELS,
        "op_labels": OP_LABELS, "op_help": OP_HELP, "day_value_labels": DAY_VALUE_LABELS,
        "context_labels": CONTEXT_LABELS, "due_policy_labels": DUE_POLICY_LABELS, "duration_units": DURATION_UNITS,
        "severities": list(Severity), "comparisons": list(Comparison), "day_values": list(DayValue),
        "due_policies": list(DuePolicy), "contexts": list(GlucoseContext), "rule_types": list(RuleType),
        "kinds": list(ReadingKind),
    }


class _Invalid(Exception):
    """The submitted rule cannot be previewed or saved; carries the form to show again."""

    def __init__(self, values: dict[str, Any], errors: list[FieldError], *, json_mode: bool = False) -> None:
        super().__init__()
        self.values, self.errors, self.status, self.json_mode = values, errors, 422, json_mode


class RuleAdminController(Controller):
    path = "/admin/rules"
    include_in_schema = False
    guards = [requires(Role.admin)]

    @get("/", name="followup:rules", sync_to_thread=True)
    def rules(self, request: Request[Any, Any, Any], db: Session) -> Template:
        clinic = _clinic(db, principal_of(request))
        lang = request.state.language
        rows = [{"version": v, "rule": v.rule, "title": v.rule.title.get(lang),
                 "summary": rule_form.condition_summary(v.rule, lang), "due": rule_form.due_summary(v.rule, lang)}
                for v in list_rules(session=db, clinic=clinic)]
        return render("followup/rules.html", context={
            "rows": rows, "tz": clinic.timezone, "changed": request.query_params.get("changed", ""),
            "change": request.query_params.get("change", ""), **_labels()})

    @get("/new", name="followup:rule-new", sync_to_thread=True)
    def new_rule(self, request: Request[Any, Any, Any], db: Session, type: str = "",  # noqa: A002 - query name
                 kind: str = "", copy: str = "") -> Template:
        clinic = _clinic(db, principal_of(request))
        if copy:
            source = current_version(session=db, clinic=clinic, code=copy[:40])
            values = rule_form.form_values(source.rule.to_dict())
            values["code"] = ""
            return self._form(request, values=values, errors=[], code=None)
        errors = []
        if type and type not in RuleType.__members__:
            errors.append(FieldError("type", "Choose what kind of rule to create."))
        elif type and type not in _KINDLESS and kind not in ReadingKind.__members__:
            errors.append(FieldError("kind", "Choose which readings the rule reads."))
        if not type or errors:
            return render("followup/rule_new.html", status_code=422 if errors else 200, context={
                "errors": self._messages(request, errors), "chosen_type": type, "chosen_kind": kind, **_labels()})
        values = {"type": type, "kind": "" if type == RuleType.symptom else kind, "severity": Severity.follow_up.value,
                  "due_value": "1", "due_unit": "days", "due_policy": DuePolicy.after.value, "advanced_json": ""}
        return self._form(request, values=values, errors=[], code=None)

    @post("/new/preview", name="followup:rule-new-preview", sync_to_thread=True)
    def preview_new(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Template:
        return self._preview(request, db, data, code=None)

    @post("/new/edit", name="followup:rule-new-edit", sync_to_thread=True)
    def edit_new(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Template:
        return self._back_to_form(request, data, code=None)

    @post("/new/save", name="followup:rule-new-save", sync_to_thread=True)
    def save_new(self, request: Request[Any, Any, Any], db: Session, data: Form) -> Any:
        return self._save(request, db, data, code=None)

    @get("/{code:str}", name="followup:rule", sync_to_thread=True)
    def edit(self, request: Request[Any, Any, Any], db: Session, code: str) -> Template:
        clinic = _clinic(db, principal_of(request))
        current = current_version(session=db, clinic=clinic, code=code)
        values = rule_form.form_values(current.rule.to_dict())
        values["base_version"] = str(current.row.version)
        return self._form(request, values=values, errors=[], code=code, current=current,
                          saved=request.query_params.get("saved", ""))

    @post("/{code:str}/preview", name="followup:rule-preview", sync_to_thread=True)
    def preview(self, request: Request[Any, Any, Any], db: Session, code: str, data: Form) -> Template:
        current = current_version(session=db, clinic=_clinic(db, principal_of(request)), code=code)  # else 404
        return self._preview(request, db, data, code=code, current=current)

    @post("/{code:str}/edit", name="followup:rule-edit-again", sync_to_thread=True)
    def edit_again(self, request: Request[Any, Any, Any], db: Session, code: str, data: Form) -> Template:
        current = current_version(session=db, clinic=_clinic(db, principal_of(request)), code=code)
        return self._back_to_form(request, data, code=code, current=current)

    @post("/{code:str}/save", name="followup:rule-save", sync_to_thread=True)
    def save(self, request: Request[Any, Any, Any], db: Session, code: str, data: Form) -> Any:
        return self._save(request, db, data, code=code)

    @post("/{code:str}/activate", name="followup:rule-activate", sync_to_thread=True)
    def activate(self, request: Request[Any, Any, Any], db: Session, code: str) -> Redirect:
        return self._set_active(request, db, code, active=True)

    @post("/{code:str}/deactivate", name="followup:rule-deactivate", sync_to_thread=True)
    def deactivate(self, request: Request[Any, Any, Any], db: Session, code: str) -> Redirect:
        return self._set_active(request, db, code, active=False)

    @get("/{code:str}/history", name="followup:rule-history", sync_to_thread=True)
    def history(self, request: Request[Any, Any, Any], db: Session, code: str) -> Template:
        clinic = _clinic(db, principal_of(request))
        lang = request.state.language
        versions = [{"version": v, "summary": rule_form.condition_summary(v.rule, lang),
                     "due": rule_form.due_summary(v.rule, lang),
                     "json": json.dumps(v.row.definition, ensure_ascii=False, indent=2)}
                    for v in rule_history(session=db, clinic=clinic, code=code)]
        return render("followup/rule_history.html", context={
            "code": code, "versions": versions, "title": versions[0]["version"].rule.title.get(lang),
            "tz": clinic.timezone, **_labels()})

    # --- steps shared by new and existing rules ------------------------------------------------------------

    def _form(self, request: Request[Any, Any, Any], *, values: dict[str, Any], errors: list[FieldError],
              code: str | None, current: Any = None, saved: str = "", status_code: int = 200,
              json_mode: bool = False) -> Template:
        rule_type, kind = str(values.get("type", "")), str(values.get("kind") or "")
        messages = self._messages(request, errors, json_mode)
        placed = rule_form.form_fields(rule_type, kind)
        return render("followup/rule_form.html", status_code=status_code, context={
            "values": values, "errors": messages, "code": code, "current": current, "saved": saved,
            "other_errors": [m for f, m in messages.items() if f not in placed],
            "rule_type": rule_type, "kind": kind, "units": UNITS_BY_KIND.get(ReadingKind(kind), ()) if kind else (),
            "placeholders": sorted(PLACEHOLDERS.get(RuleType(rule_type), ())) if rule_type in RuleType.__members__
            else [], "action": f"/admin/rules/{code or 'new'}", **_labels(),
        })

    def _messages(self, request: Request[Any, Any, Any], errors: list[FieldError],
                  json_mode: bool = False) -> dict[str, str]:
        """Field → message in the admin's language; in JSON mode every problem is shown at the JSON box,
        prefixed with its path, because that is what the admin edited."""
        messages: dict[str, str] = {}
        for error in errors:
            text = rule_form.engine_message(error.message, error.params, request.state.language)
            field = "advanced_json" if json_mode else rule_form.field_for(error.field)
            if json_mode and error.field and error.field != "advanced_json":
                text = f"{error.field}: {text}"
            messages[field] = f"{messages[field]} {text}" if field in messages else text
        return messages

    def _submitted(self, data: dict[str, Any], code: str | None) -> RuleDefinition:
        """The rule a form describes: its structured fields, its advanced JSON (when ticked), or the hidden
        JSON of a preview page. Raises _Invalid with the values to show again."""
        hidden = _one(data, "definition")
        if hidden or data.get("use_advanced"):
            raw = hidden or _one(data, "advanced_json")
            values = {**_values_from_json(raw), "base_version": _one(data, "base_version")} if hidden else _echo(data)
            json_mode = not hidden
            try:
                definition = json.loads(raw)
            except ValueError as exc:
                raise _Invalid(values, [FieldError("advanced_json", "This is not valid JSON: %(error)s",
                                                   {"error": str(exc)})], json_mode=True) from exc
            if not isinstance(definition, dict):
                raise _Invalid(values, [FieldError("advanced_json", "Write the rule as one JSON object.")],
                               json_mode=True)
            if code is not None and definition.get("code") != code:
                raise _Invalid(values, [FieldError("advanced_json", "The code of a saved rule cannot change; "
                                                                    "create a new rule instead.")], json_mode=True)
            try:
                return RuleDefinition.from_dict(definition)
            except RuleInvalid as exc:
                raise _Invalid(values, [FieldError(e.field, e.message) for e in exc.errors],
                               json_mode=json_mode) from exc
        values = _echo(data)
        definition, found = rule_form.definition_from_form(
            data, code=code if code is not None else _one(data, "code"), rule_type=_one(data, "type"),
            kind=_one(data, "kind"))
        local = {e.field for e in found.errors}
        try:
            rule = RuleDefinition.from_dict(definition)
        except RuleInvalid as exc:
            engine = [FieldError(e.field, e.message) for e in exc.errors if rule_form.field_for(e.field) not in local]
            raise _Invalid(values, [*found.errors, *engine]) from exc
        if found.errors:
            raise _Invalid(values, found.errors)
        return rule

    def _preview(self, request: Request[Any, Any, Any], db: Session, data: dict[str, Any], code: str | None,
                 current: Any = None) -> Template:
        principal = principal_of(request)
        clinic = _clinic(db, principal)
        try:
            rule = self._submitted(data, code)
            if code is None and code_taken(session=db, clinic=clinic, code=rule.code):
                hidden = _one(data, "definition")
                raise _Invalid(_values_from_json(hidden) if hidden else _echo(data),  # a new rule: no base version
                               [FieldError("code", "A rule with this code already exists; choose another code.")])
        except _Invalid as exc:
            return self._form(request, values=exc.values, errors=exc.errors, code=code, current=current,
                              status_code=exc.status, json_mode=exc.json_mode)
        number = int(_one(data, "page")) if _one(data, "page").isdigit() else 1
        result = preview_rule(session=db, clinic=clinic, rule=rule, now=utcnow(), page=number)
        record_audit(session=db, action=AuditAction.view, object_type="rule_preview", object_id=rule.code,
                     principal=principal, client_address=client_address(request),
                     detail=f"page={result.number} patients={len(result.patients)} episodes={len(result.hits)}")
        lang = request.state.language
        by_patient: dict[int, list[Any]] = {}
        for hit in result.hits:
            by_patient.setdefault(hit.patient_id, []).append(hit)
        pages = max(1, -(-result.total_patients // result.per_page))
        return render("followup/rule_preview.html", context={
            "rule": rule, "code": code, "summary": rule_form.condition_summary(rule, lang),
            "due": rule_form.due_summary(rule, lang), "title": rule.title.get(lang), "result": result,
            "groups": [(result.patients[pid], hits) for pid, hits in by_patient.items()],
            "definition": json.dumps(rule.to_dict(), ensure_ascii=False), "base_version": _one(data, "base_version"),
            "pages": pages, "action": f"/admin/rules/{code or 'new'}", "tz": clinic.timezone,
            "first_patient": (result.number - 1) * result.per_page + 1 if result.total_patients else 0,
            "last_patient": min(result.number * result.per_page, result.total_patients), **_labels(),
        })

    def _back_to_form(self, request: Request[Any, Any, Any], data: dict[str, Any], *, code: str | None,
                      current: Any = None) -> Template:
        try:
            definition = json.loads(_one(data, "definition"))
            values = rule_form.form_values(RuleDefinition.from_dict(definition).to_dict())
        except (ValueError, RuleInvalid):
            raise ValidationFailed("The rule could not be read back; open it again from the list.") from None
        values["base_version"] = _one(data, "base_version")
        return self._form(request, values=values, errors=[], code=code, current=current)

    def _save(self, request: Request[Any, Any, Any], db: Session, data: dict[str, Any], code: str | None) -> Any:
        principal = principal_of(request)
        clinic = _clinic(db, principal)
        current = current_version(session=db, clinic=clinic, code=code) if code is not None else None
        base = _one(data, "base_version")
        try:
            rule = self._submitted(data, code)
            row = save_rule_version(
                session=db, clinic=clinic, data=rule.to_dict(), created_by=principal.user_id,
                base_version=None if current is None else (int(base) if base.isdigit() else current.row.version))
        except _Invalid as exc:
            return self._form(request, values=exc.values, errors=exc.errors, code=code, current=current,
                              status_code=exc.status, json_mode=exc.json_mode)
        except (ValidationFailed, Conflict) as exc:
            db.rollback()
            hidden = _one(data, "definition")
            values = {**(_values_from_json(hidden) if hidden else _echo(data)), "base_version": base}
            errors = exc.field_errors or [FieldError("", exc.message, dict(exc.params))]
            return self._form(request, values=values, errors=errors, code=code, current=current,
                              status_code=exc.status_code)
        record_audit(session=db, action=AuditAction.create if code is None else AuditAction.update,
                     object_type="clinic_rule", object_id=row.id, principal=principal,
                     client_address=client_address(request), detail=f"{row.code} v{row.version}")
        return Redirect(f"/admin/rules/{row.code}?saved={row.version}")

    def _set_active(self, request: Request[Any, Any, Any], db: Session, code: str, *, active: bool) -> Redirect:
        principal = principal_of(request)
        row = set_rule_active(session=db, clinic=_clinic(db, principal), code=code, active=active,
                              created_by=principal.user_id)
        record_audit(session=db, action=AuditAction.update, object_type="clinic_rule", object_id=row.id,
                     principal=principal, client_address=client_address(request),
                     detail=f"{code} v{row.version} {'activated' if active else 'deactivated'}")
        return Redirect(f"/admin/rules?changed={code}&change={'on' if active else 'off'}")


def _echo(data: dict[str, Any]) -> dict[str, Any]:
    """The submitted form, to show again: one value per field, lists for the tick boxes."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "_csrf_token":
            continue
        if key in ("contexts", "meter_flags"):
            values[key] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        else:
            values[key] = _one(data, key)
    return values


def _values_from_json(raw: str) -> dict[str, Any]:
    """Form values for a rule held as JSON; JSON the form cannot show goes to the advanced box."""
    try:
        return rule_form.form_values(RuleDefinition.from_dict(json.loads(raw)).to_dict())
    except (ValueError, TypeError, RuleInvalid, KeyError):
        return {"advanced_json": raw, "use_advanced": "on"}


HANDLERS: list[object] = [RuleAdminController]
