"""Builders for the RCA tests: analyses made through the real services, a signed-in committee member, and the
upstream things an analysis starts from (a common-problem suggestion with its complaints, a callback)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from clinic.auth import staff_principal
from clinic.models import Clinic, Patient, StaffUser
from core.db import utcnow
from core.security import Principal
from feedback.enums import Category, Channel, FeedbackKind
from feedback.models import FeedbackItem, RcaSuggestion
from feedback.service import create_item
from followup.callbacks import open_callback
from followup.enums import Severity
from followup.models import Callback
from rca import service
from rca.enums import RcaSource, RcaTeamRole
from rca.models import RcaAction, RootCauseAnalysis
from tests.factories import login_staff, make_clinic, make_staff


def clinic_today() -> date:
    """Today where the test clinics are (Asia/Shanghai): due dates are local days, not the server's."""
    return utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()


def principal(user: StaffUser) -> Principal:
    return staff_principal(user)


def committee_member(session: Session, clinic: Clinic | None = None, **overrides: Any) -> StaffUser:
    return make_staff(session, clinic or make_clinic(session), role="committee", **overrides)


def signed_in(client: Any, session: Session, role: str = "committee", clinic: Clinic | None = None,
              **overrides: Any) -> tuple[Clinic, StaffUser]:
    clinic = clinic or make_clinic(session)
    user = make_staff(session, clinic, role=role, **overrides)
    session.commit()
    assert login_staff(client, user.username).status_code in (302, 303)
    return clinic, user


def make_analysis(session: Session, clinic: Clinic, by: StaffUser, *, triggered_at: datetime | None = None,
                  **overrides: Any) -> RootCauseAnalysis:
    values: dict[str, Any] = {"title": "Long waits at the follow-up clinic",
                              "problem_statement": "Patients wait over 90 minutes on Monday mornings.",
                              "source": RcaSource.manual}
    values.update(overrides)
    return service.create_analysis(session=session, clinic=clinic, principal=principal(by),
                                   triggered_at=triggered_at, **values)


def with_facilitator(session: Session, analysis: RootCauseAnalysis, by: StaffUser,
                     facilitator: StaffUser | None = None) -> StaffUser:
    clinic = session.get(Clinic, analysis.clinic_id)
    assert clinic is not None
    facilitator = facilitator or make_staff(session, clinic, role="committee")
    service.add_team_member(session=session, analysis=analysis, principal=principal(by), staff_id=facilitator.id,
                            role=RcaTeamRole.facilitator)
    return facilitator


def make_action(session: Session, analysis: RootCauseAnalysis, by: StaffUser, **overrides: Any) -> RcaAction:
    clinic = session.get(Clinic, analysis.clinic_id)
    assert clinic is not None
    values: dict[str, Any] = {"description": "Separate queue for stable returning patients",
                              "strength": "stronger", "owner_id": by.id,
                              "due_date": (clinic_today() + timedelta(days=30)).isoformat(),
                              "measure": "Complaints about waiting per 1,000 patients, monthly"}
    values.update(overrides)
    return service.add_action(session=session, analysis=analysis, clinic=clinic, principal=principal(by), **values)


def make_suggestion(session: Session, clinic: Clinic, count: int = 3) -> tuple[RcaSuggestion, list[FeedbackItem]]:
    """Complaints about waiting, made through the feedback domain's intake, which suggests an RCA at three."""
    items = [create_item(session=session, clinic=clinic, kind=FeedbackKind.complaint, category=Category.waiting_time,
                         channel=Channel.phone, description=f"Waited two hours to see the doctor ({n}).",
                         submitted_by_kind="staff") for n in range(count)]
    suggestion = session.scalar(select(RcaSuggestion).where(RcaSuggestion.clinic_id == clinic.id))
    if suggestion is None:  # the clinic's threshold is higher than `count`: suggest it the way feedback does
        now = utcnow()
        suggestion = RcaSuggestion(clinic_id=clinic.id, category=Category.waiting_time,
                                   cluster_key=f"waiting_time:{items[0].id}", item_ids=[i.id for i in items],
                                   threshold=count, window_days=30, first_received_at=now, last_received_at=now)
        session.add(suggestion)
        session.flush()
    return suggestion, items


def make_callback(session: Session, patient: Patient, *, due_at: datetime | None = None) -> Callback:
    callback, _ = open_callback(session=session, patient=patient, rule_code="bp_high", rule_version=1,
                                severity=Severity.same_day, due_at=due_at or utcnow() - timedelta(hours=2),
                                reason_zh="血压 185/100", reason_en="Blood pressure 185/100")
    return callback
