"""Escalating missed RCA deadlines: an analysis not started in time, one past its target date, an overdue action.

Each breach is announced once: the sweep claims it with a compare-and-set update (`… WHERE escalated_at IS NULL`),
so two workers running the sweep at once cannot both announce it. The people told get a short SMS that names
only the reference (no patient data); the history row and the `rca.escalated` event record who was told.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from clinic.models import Clinic, StaffUser
from core.db import utcnow
from core.events import record_event
from core.i18n import format_date, format_datetime
from core.messaging import queue_sms
from core.security import Role
from core.settings import REPO_ROOT
from rca.enums import ACTIVE_STATUSES, OPEN_ACTION_STATUSES, RcaStatus, RcaTeamRole
from rca.history import add_history
from rca.models import RcaAction, RootCauseAnalysis, TeamMember

BATCH = 500  # per kind and sweep; the next sweep takes the rest


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Plain text for SMS: no HTML escaping (the carrier shows characters as they are).
    return Environment(loader=FileSystemLoader(REPO_ROOT / "templates"), undefined=StrictUndefined,
                       autoescape=False, trim_blocks=True)


def sms_text(language: str, **params: object) -> str:
    lang = "zh-CN" if language.lower().startswith("zh") else "en"
    return _environment().get_template(f"sms/rca_escalation.{lang}.txt").render(**params).strip()


def _committee(session: Session, clinic_id: int) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).where(
        StaffUser.clinic_id == clinic_id, StaffUser.active.is_(True),
        StaffUser.role.in_([Role.committee.value, Role.admin.value])).order_by(StaffUser.id)))


def _facilitator(session: Session, analysis_id: int) -> StaffUser | None:
    return session.scalar(select(StaffUser).join(TeamMember, TeamMember.staff_id == StaffUser.id).where(
        TeamMember.analysis_id == analysis_id, TeamMember.role == RcaTeamRole.facilitator, StaffUser.active.is_(True)))


def _people(session: Session, analysis: RootCauseAnalysis, owner_id: int | None = None) -> list[StaffUser]:
    """Who hears about a breach: the action's owner and the facilitator; without a facilitator, the committee."""
    people: dict[int, StaffUser] = {}
    if owner_id is not None:
        owner = session.get(StaffUser, owner_id)
        if owner is not None and owner.active:
            people[owner.id] = owner
    facilitator = _facilitator(session, analysis.id)
    if facilitator is not None:
        people[facilitator.id] = facilitator
    if facilitator is None or owner_id is None:
        for member in _committee(session, analysis.clinic_id):
            people.setdefault(member.id, member)
    return list(people.values())


def _announce(session: Session, analysis: RootCauseAnalysis, *, timer: str, due_at: datetime,
              owner_id: int | None = None, action_id: int | None = None, due_date: date | None = None) -> None:
    clinic = session.get(Clinic, analysis.clinic_id)
    tz = ZoneInfo(clinic.timezone if clinic else "Asia/Shanghai")
    people = _people(session, analysis, owner_id)
    texted = []
    for person in people:
        if not person.phone:
            continue
        zh = person.language == "zh-CN"
        # An action is due on a day; the analysis clocks run to the minute.
        due = (format_date(due_date, person.language, fmt="M月d日" if zh else "d MMM") if due_date is not None
               else format_datetime(due_at, person.language, tz, fmt="M月d日 HH:mm" if zh else "d MMM HH:mm"))
        body = sms_text(person.language, ref=analysis.reference, timer=timer, due=due)
        queue_sms(session=session, phone=person.phone, body=body, purpose=f"rca_{timer}_overdue",
                  clinic_id=analysis.clinic_id)
        texted.append(person.id)
    detail: dict[str, Any] = {"timer": timer, "due_at": due_at.isoformat(), "notified": [p.id for p in people],
                              "texted": texted}
    if action_id is not None:
        detail["action_id"] = action_id
    add_history(session=session, analysis=analysis, kind=f"{timer}_overdue", detail=detail, touch=False)
    record_event(session=session, name="rca.escalated", clinic_id=analysis.clinic_id, payload={
        "analysis_id": analysis.id, "clinic_id": analysis.clinic_id, "timer": timer, "action_id": action_id,
        "notified_staff_ids": [p.id for p in people]})


def _claim(session: Session, row: Any, column: Any, now: datetime, *conditions: Any) -> bool:
    """Compare-and-set: mark the breach announced unless someone (or an earlier sweep) already did."""
    model = type(row)
    claimed = bool(session.execute(
        update(model).where(model.id == row.id, column.is_(None), *conditions).values({column.key: now})
        .execution_options(synchronize_session=False)).rowcount)
    if claimed:
        set_committed_value(row, column.key, now)  # the loaded row now matches the database
    return claimed


def escalate_overdue(*, session: Session, now: datetime | None = None) -> dict[str, int]:
    """One sweep over every clinic; returns how many breaches of each kind it announced."""
    now = now or utcnow()
    counts = {"start": 0, "finish": 0, "action": 0}
    late_start = session.scalars(select(RootCauseAnalysis).where(
        RootCauseAnalysis.status == RcaStatus.open, RootCauseAnalysis.start_due_at < now,
        RootCauseAnalysis.start_escalated_at.is_(None)).order_by(RootCauseAnalysis.id).limit(BATCH)).all()
    for analysis in late_start:
        if _claim(session, analysis, RootCauseAnalysis.start_escalated_at, now,
                  RootCauseAnalysis.status == RcaStatus.open):
            _announce(session, analysis, timer="start", due_at=analysis.start_due_at)
            counts["start"] += 1
    active = [s.value for s in ACTIVE_STATUSES]
    late_finish = session.scalars(select(RootCauseAnalysis).where(
        RootCauseAnalysis.status.in_(active), RootCauseAnalysis.due_at < now,
        RootCauseAnalysis.finish_escalated_at.is_(None)).order_by(RootCauseAnalysis.id).limit(BATCH)).all()
    for analysis in late_finish:
        if _claim(session, analysis, RootCauseAnalysis.finish_escalated_at, now,
                  RootCauseAnalysis.status.in_(active)):
            _announce(session, analysis, timer="finish", due_at=analysis.due_at)
            counts["finish"] += 1
    open_actions = [s.value for s in OPEN_ACTION_STATUSES]
    late_actions = session.scalars(select(RcaAction).where(
        RcaAction.status.in_(open_actions), RcaAction.due_at <= now, RcaAction.escalated_at.is_(None))
        .order_by(RcaAction.id).limit(BATCH)).all()
    for action in late_actions:
        if _claim(session, action, RcaAction.escalated_at, now, RcaAction.status.in_(open_actions)):
            analysis = session.get(RootCauseAnalysis, action.analysis_id)
            assert analysis is not None
            _announce(session, analysis, timer="action", due_at=action.due_at, owner_id=action.owner_id,
                      action_id=action.id, due_date=action.due_date)
            counts["action"] += 1
    return counts
