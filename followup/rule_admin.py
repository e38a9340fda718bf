"""What a clinic admin does with rules: list them, read their history, save or (de)activate a version, and
preview what a candidate rule would have fired over the last 30 days, one page of patients at a time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlmodel import Session

from clinic.models import Clinic, Patient, StaffUser
from clinic.service import patient_timezone
from core.errors import Conflict, FieldError, NotFound, ValidationFailed
from followup.enums import ReadingKind, RuleType
from followup.models import ClinicRule, Reading
from followup.rulebook import ensure_default_rules, save_rule
from followup.rules import (
    ConsecutiveDaysParams,
    KOfNParams,
    MissingDataParams,
    PersistentParams,
    PreviewHit,
    ReadingFact,
    RuleDefinition,
    WindowMeanParams,
    preview,
)
from followup.service import as_fact

PREVIEW_DAYS = 30
PREVIEW_PATIENTS_PER_PAGE = 50
# [DESIGN] "K of the last N" without a time limit could reach back through years; a preview reads at most
# this much history before its 30 days (the live rule reads only the last N readings, so nothing is lost).
K_OF_N_HISTORY_CAP = timedelta(days=90)
RESERVED_CODES = frozenset({"new"})  # /admin/rules/new is the creation page


class RuleNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Rule not found.")


@dataclass(frozen=True)
class RuleVersion:
    """One stored version, with the rule it holds and who saved it (None: the profile's default)."""

    row: ClinicRule
    rule: RuleDefinition
    editor: str | None


@dataclass(frozen=True)
class PreviewPage:
    hits: list[PreviewHit]
    patients: dict[int, Patient]
    number: int
    per_page: int
    total_patients: int
    start: datetime
    end: datetime
    previewable: bool  # False for symptom rules, which read messages rather than readings


def list_rules(*, session: Session, clinic: Clinic) -> list[RuleVersion]:
    """The newest version of every rule of the clinic (active or not), in the order they were first stored."""
    ensure_default_rules(session=session, clinic=clinic)
    newest = (select(ClinicRule.code, func.max(ClinicRule.version).label("version"),
                     func.min(ClinicRule.id).label("first"))
              .where(ClinicRule.clinic_id == clinic.id).group_by(ClinicRule.code).subquery())
    rows = session.execute(
        select(ClinicRule, StaffUser.display_name)
        .join(newest, (ClinicRule.code == newest.c.code) & (ClinicRule.version == newest.c.version))
        .outerjoin(StaffUser, StaffUser.id == ClinicRule.created_by)
        .where(ClinicRule.clinic_id == clinic.id).order_by(newest.c.first)
    ).all()
    return [RuleVersion(row, RuleDefinition.from_dict(row.definition), editor) for row, editor in rows]


def rule_history(*, session: Session, clinic: Clinic, code: str) -> list[RuleVersion]:
    """Every version of one rule, newest first; a code the clinic does not have is a 404."""
    ensure_default_rules(session=session, clinic=clinic)
    rows = session.execute(
        select(ClinicRule, StaffUser.display_name).outerjoin(StaffUser, StaffUser.id == ClinicRule.created_by)
        .where(ClinicRule.clinic_id == clinic.id, ClinicRule.code == code).order_by(ClinicRule.version.desc())
    ).all()
    if not rows:
        raise RuleNotFound()
    return [RuleVersion(row, RuleDefinition.from_dict(row.definition), editor) for row, editor in rows]


def current_version(*, session: Session, clinic: Clinic, code: str) -> RuleVersion:
    return rule_history(session=session, clinic=clinic, code=code)[0]


def save_rule_version(
    *, session: Session, clinic: Clinic, data: dict[str, Any], created_by: int | None, base_version: int | None,
) -> ClinicRule:
    """Store `data` as the next version of its code. `base_version` is the version the admin started from
    (None for a new rule): if someone saved in between, refuse rather than silently overwrite their change.
    An inactive rule stays inactive when edited; (de)activation is its own step."""
    code = str(data.get("code", "")) if isinstance(data, dict) else ""
    ensure_default_rules(session=session, clinic=clinic)
    latest = session.scalar(select(ClinicRule).where(ClinicRule.clinic_id == clinic.id, ClinicRule.code == code)
                            .order_by(ClinicRule.version.desc()).limit(1))
    if base_version is None:
        if code.lower() in RESERVED_CODES or latest is not None:
            raise ValidationFailed("Please correct the highlighted fields.", field_errors=[
                FieldError("code", "A rule with this code already exists; choose another code.")])
    elif latest is None:
        raise RuleNotFound()
    elif latest.version != base_version:
        raise Conflict("Someone saved version %(version)s of this rule while you were editing. Open the rule "
                       "again to see their change.", version=latest.version)
    row = save_rule(session=session, clinic=clinic, data=data, created_by=created_by)
    if latest is not None and not latest.active:
        row.active = False
        session.flush()
    return row


def set_rule_active(*, session: Session, clinic: Clinic, code: str, active: bool, created_by: int | None) -> ClinicRule:
    """(De)activation is a new version with the same definition, so history shows who switched it and when."""
    latest = current_version(session=session, clinic=clinic, code=code).row
    if latest.active == active:
        return latest
    row = ClinicRule(clinic_id=clinic.id, code=code, version=latest.version + 1, definition=dict(latest.definition),
                     active=active, created_by=created_by)
    session.add(row)
    session.flush()
    return row


def preview_rule(
    *, session: Session, clinic: Clinic, rule: RuleDefinition, now: datetime, page: int = 1,
    per_page: int = PREVIEW_PATIENTS_PER_PAGE, days: int = PREVIEW_DAYS,
) -> PreviewPage:
    """Replay `rule` over the last `days` days for one page of patients: those with readings of the rule's
    kind in the period (for a missing-data rule, every programme patient). Their readings, and the history
    the rule's window needs before the period, come from one query."""
    end, start = now, now - timedelta(days=days)
    number = max(1, page)
    if rule.type is RuleType.symptom:
        return PreviewPage([], {}, number, per_page, 0, start, end, previewable=False)
    if rule.type is RuleType.missing_data:
        ids_query = (select(Patient.id).where(Patient.clinic_id == clinic.id, Patient.active.is_(True),
                                              Patient.created_at < end, _programme(rule.kind)))
    else:
        ids_query = select(Reading.patient_id).where(*_reading_filter(clinic, rule, start, end)).distinct()
    total = session.scalar(select(func.count()).select_from(ids_query.subquery())) or 0
    ids = list(session.scalars(ids_query.order_by(ids_query.selected_columns[0])
                               .offset((number - 1) * per_page).limit(per_page)))
    patients = {p.id: p for p in session.scalars(select(Patient).where(Patient.id.in_(ids)))} if ids else {}
    facts: dict[int, list[ReadingFact]] = {pid: [] for pid in ids}
    if ids:
        since = start - _history_needed(rule)
        rows = session.scalars(
            select(Reading).where(Reading.patient_id.in_(ids), *_reading_filter(clinic, rule, since, end))
            .order_by(Reading.patient_id, Reading.taken_at, Reading.id))
        for reading in rows:
            facts[reading.patient_id].append(_fact(reading))
    if rule.type is RuleType.missing_data:
        for pid, found in facts.items():
            if not found:  # no reading within reach: the silence is counted from enrolment (or the reach)
                anchor = max(patients[pid].created_at, start - _history_needed(rule))
                facts[pid] = [ReadingFact(id=-pid, kind=rule.kind or ReadingKind.glucose, taken_at=anchor)]
    tz = {pid: patient_timezone(patient=p, clinic=clinic) for pid, p in patients.items()}
    hits = preview(rule, readings_by_patient=facts, tz_by_patient=tz, start=start, end=end)
    hits.sort(key=lambda h: (patients[h.patient_id].name, h.patient_id, h.started_at))
    return PreviewPage(hits, patients, number, per_page, total, start, end, previewable=True)


def _fact(reading: Reading) -> ReadingFact:
    """The reading as the rules see it, with the value as the patient wrote it: the NUMERIC(8,2) column
    hands back 11.00 for 11.0, which the preview's reasons would otherwise quote."""
    fact = as_fact(reading)
    return fact if fact.value is None else replace(fact, value=fact.value.normalize())


def _reading_filter(clinic: Clinic, rule: RuleDefinition, since: datetime, until: datetime) -> list[Any]:
    conditions: list[Any] = [Reading.clinic_id == clinic.id, Reading.voided_at.is_(None), Reading.taken_at >= since,
                             Reading.taken_at < until]
    if rule.kind is not None:
        conditions.append(Reading.kind == rule.kind)
    if rule.contexts:
        conditions.append(Reading.context.in_([str(c) for c in rule.contexts]))
    return conditions


def _programme(kind: ReadingKind | None) -> Any:
    if kind is ReadingKind.blood_pressure:
        return Patient.has_hypertension.is_(True)
    if kind is ReadingKind.glucose:
        return Patient.has_diabetes.is_(True)
    return or_(Patient.has_hypertension.is_(True), Patient.has_diabetes.is_(True))


def _history_needed(rule: RuleDefinition) -> timedelta:
    """How far before the preview period the rule's window can reach."""
    p = rule.params
    if isinstance(p, ConsecutiveDaysParams):
        return timedelta(days=p.days + 1)
    if isinstance(p, KOfNParams):
        return min(p.within, K_OF_N_HISTORY_CAP) if p.within is not None else K_OF_N_HISTORY_CAP
    if isinstance(p, WindowMeanParams | PersistentParams):
        return p.within
    if isinstance(p, MissingDataParams):
        return max(d for d in (p.reminder_after, p.callback_after) if d is not None)
    return timedelta(0)


def code_taken(*, session: Session, clinic: Clinic, code: str) -> bool:
    ensure_default_rules(session=session, clinic=clinic)
    return code.lower() in RESERVED_CODES or session.scalar(
        select(ClinicRule.id).where(ClinicRule.clinic_id == clinic.id, ClinicRule.code == code).limit(1)) is not None
