"""Missing-data sweep: a reminder SMS once per silence, then a routine callback once per silence.

The sweep runs hourly and is idempotent: a reminder is an outbox job keyed by (rule, patient, last reading),
and a gap that already opened a callback of the rule opens no other, so running it again, or on two
schedulers at once, sends nothing twice. Reminders go out only in the clinic's local daytime.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic.models import Clinic, Patient
from clinic.service import patient_timezone
from core.db import unit_of_work, utcnow
from core.jobs import enqueue, outbox_actor, periodic_actor, runtime
from core.messaging import queue_sms
from core.models import OutboxJob
from followup.callbacks import open_callback
from followup.dates import days_between, gap_key, in_sending_window
from followup.enums import ReadingKind, RuleOutcome, RuleType
from followup.models import Callback, Reading
from followup.replies import TEMPLATE_DIR, language_of
from followup.rulebook import ActiveRule, active_rules
from followup.rules import MissingDataParams, RuleDefinition, missing_data_due

log = logging.getLogger(__name__)
REMINDER_PURPOSE = "reminder"


@dataclass
class SweepResult:
    reminders: list[int] = field(default_factory=list)  # patient ids a reminder was queued for
    callbacks: list[int] = field(default_factory=list)  # callback ids opened


@periodic_actor("followup.sweep_missing_data", "7 * * * *")
def sweep_missing_data() -> None:
    """Every clinic, each in its own transaction, so one clinic's failure does not hold up the others."""
    now = utcnow()
    with unit_of_work(runtime.engine) as session:
        clinic_ids = list(session.scalars(select(Clinic.id).order_by(Clinic.id)))
    for clinic_id in clinic_ids:
        try:
            with unit_of_work(runtime.engine) as session:
                clinic = session.get(Clinic, clinic_id)
                if clinic is not None:
                    sweep_clinic_missing_data(session=session, clinic=clinic, now=now)
        except Exception:
            log.exception("missing-data sweep failed for clinic %s; the next run retries", clinic_id)


def sweep_clinic_missing_data(*, session: Session, clinic: Clinic, now: datetime) -> SweepResult:
    """Apply each active missing-data rule of the clinic to its programme patients."""
    result = SweepResult()
    for active in active_rules(session=session, clinic=clinic):
        if active.definition.type is RuleType.missing_data:
            _apply_rule(session, clinic, active, now, result)
    return result


def _apply_rule(session: Session, clinic: Clinic, active: ActiveRule, now: datetime, result: SweepResult) -> None:
    rule = active.definition
    params = rule.params
    assert isinstance(params, MissingDataParams)
    earliest = min(d for d in (params.reminder_after, params.callback_after) if d is not None)
    may_text = in_sending_window(now, ZoneInfo(clinic.timezone))
    last = _last_reading_subquery(clinic.id, rule.kind)
    candidates = session.execute(
        select(Patient, last.c.at)
        .outerjoin(last, last.c.patient_id == Patient.id)
        .where(Patient.clinic_id == clinic.id, Patient.active.is_(True), _programme_filter(rule.kind),
               Patient.created_at <= now - earliest,
               or_(last.c.at.is_(None), last.c.at <= now - earliest))
        .order_by(Patient.id)
    ).all()
    if not candidates:
        return
    opened_after = dict(session.execute(
        select(Callback.patient_id, func.max(Callback.opened_at))
        .where(Callback.clinic_id == clinic.id, Callback.rule_code == rule.code)
        .group_by(Callback.patient_id)
    ).all())
    for patient, last_reading in candidates:
        gap_start = last_reading or patient.created_at
        tz = patient_timezone(patient=patient, clinic=clinic)
        action = missing_data_due(rule, last_reading_at=gap_start, now=now, tz=tz)
        if action is None:
            continue
        if action.outcome is RuleOutcome.callback:
            already = opened_after.get(patient.id)
            if already is not None and already >= gap_start:
                continue  # this silence has had its callback (open, or worked and closed)
            callback, opened = open_callback(
                session=session, patient=patient, rule_code=rule.code, rule_version=active.version,
                severity=action.severity, due_at=action.due_at, reason_zh=action.reason.zh_cn,
                reason_en=action.reason.en,
            )
            if opened:
                result.callbacks.append(callback.id)  # type: ignore[arg-type]
        elif may_text and patient.may_receive_sms and _queue_reminder(session, rule, patient, gap_start):
            result.reminders.append(patient.id)  # type: ignore[arg-type]


def _last_reading_subquery(clinic_id: int, kind: ReadingKind | None) -> object:
    query = (select(Reading.patient_id.label("patient_id"), func.max(Reading.taken_at).label("at"))
             .where(Reading.clinic_id == clinic_id, Reading.voided_at.is_(None)))
    if kind is not None:
        query = query.where(Reading.kind == kind)
    return query.group_by(Reading.patient_id).subquery("last_reading")


def _programme_filter(kind: ReadingKind | None) -> object:
    """Who is expected to send readings of `kind`: a BP rule asks hypertension patients, and so on."""
    if kind is ReadingKind.blood_pressure:
        return Patient.has_hypertension.is_(True)
    if kind is ReadingKind.glucose:
        return Patient.has_diabetes.is_(True)
    return or_(Patient.has_hypertension.is_(True), Patient.has_diabetes.is_(True))


def _queue_reminder(session: Session, rule: RuleDefinition, patient: Patient, since: datetime) -> bool:
    """An outbox job keyed by the gap; True only when this call created it."""
    key = gap_key(rule_code=rule.code, patient_id=patient.id, since=since)  # type: ignore[arg-type]
    if session.scalar(select(OutboxJob.id).where(OutboxJob.dedupe_key == key)) is not None:
        return False
    try:
        with session.begin_nested():  # a concurrent sweep that queued the same gap first wins
            enqueue(session=session, actor_name="followup.send_missing_data_reminder", dedupe_key=key,
                    payload={"patient_id": patient.id, "rule_code": rule.code, "since": since.isoformat()})
    except IntegrityError:
        return False
    return True


@outbox_actor("followup.send_missing_data_reminder")
def send_missing_data_reminder(*, session: Session, patient_id: int, rule_code: str, since: str) -> None:
    """Text the reminder unless the patient has since sent a reading or may no longer receive SMS."""
    patient = session.get(Patient, patient_id)
    if patient is None or not patient.active or not patient.may_receive_sms or patient.phone is None:
        return
    gap_start = datetime.fromisoformat(since)
    newer = session.scalar(select(Reading.id).where(Reading.patient_id == patient.id, Reading.voided_at.is_(None),
                                                    Reading.taken_at > gap_start).limit(1))
    if newer is not None:
        return
    clinic = session.get(Clinic, patient.clinic_id)
    assert clinic is not None
    tz = patient_timezone(patient=patient, clinic=clinic)
    body = reminder_text(language=patient.language, days=days_between(gap_start, utcnow(), tz))
    queue_sms(session=session, phone=patient.phone, body=body, purpose=REMINDER_PURPOSE, clinic_id=clinic.id,
              patient_id=patient.id)


def reminder_text(*, language: str, days: int) -> str:
    """templates/sms/reminder.<lang>.txt: asks for a reading, names no condition or programme (§0.10)."""
    return _environment().get_template(f"sms/reminder.{language_of(language)}.txt").render(days=days).strip()


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=False, undefined=StrictUndefined)
