"""Demo complaints and concerns: a waiting-time cluster (which raises an RCA suggestion), an overdue item, a
complaint about a doctor, a survey concern, an anonymous web complaint and one already answered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from clinic.auth import staff_principal
from clinic.models import StaffUser
from core.db import utcnow
from core.security import Role
from feedback.enums import Action, Category, Channel, Complexity, FeedbackKind, FeedbackStatus, Severity
from feedback.models import FeedbackItem
from feedback.policy import deadlines, get_policy
from feedback.service import create_item
from feedback.workflow import transition

TEXTS = {
    "zh-CN": {
        "wait1": "上午八点挂号，十点半才看上病，等了两个多小时。", "wait2": "取药排队太久，窗口只开了一个。",
        "wait3": "预约了九点，结果等到十一点。", "attitude": "医生看病很匆忙，问问题时有点不耐烦。",
        "survey": "电话随访时没说清楚下次什么时候来复查。", "anon": "卫生间没有扶手，老人上厕所很不方便。",
        "bill": "这次检查收费比上次多了30元，不知道为什么。",
        "resolution": "核对收费明细：本次多了一项尿常规检查，收费无误。",
        "reply": "您好，多出的30元是本次新增的尿常规检查费用，收费无误。如有疑问请致电本中心。",
    },
    "en": {
        "wait1": "Checked in at 8 and was seen at 10:30, more than two hours of waiting.",
        "wait2": "The pharmacy queue was very long; only one window was open.",
        "wait3": "My appointment was at 9 but I waited until 11.",
        "attitude": "The doctor seemed rushed and impatient with my questions.",
        "survey": "On the follow-up call nobody told me when to come back for my check-up.",
        "anon": "There is no grab rail in the toilet; it is hard for older people.",
        "bill": "I was charged $30 more than last time and do not know why.",
        "resolution": "Checked the bill: a urine test was added this time; the charge is correct.",
        "reply": "Hello, the extra $30 is for the urine test done this time; the charge is correct. Call us with any "
                 "questions.",
    },
}


def _backdate(session: Session, clinic: Any, item: FeedbackItem, days: int) -> None:
    item.received_at = utcnow() - timedelta(days=days)
    policy = get_policy(session=session, clinic=clinic)
    item.ack_due_at, item.resolve_due_at = deadlines(session=session, clinic=clinic, policy=policy,
                                                     received_at=item.received_at, complexity=item.complexity)
    item.next_due_at = item.ack_due_at if item.status == FeedbackStatus.received else item.resolve_due_at
    session.flush()


def seed(*, session: Session, clinics: list[Any]) -> None:
    for demo in clinics:
        if len(demo.patients) >= 6:
            _seed_clinic(session, demo)


def _seed_clinic(session: Session, demo: Any) -> None:
    clinic, patients = demo.clinic, demo.patients
    text = TEXTS["zh-CN" if clinic.language == "zh-CN" else "en"]
    committee = session.scalar(select(StaffUser).where(StaffUser.clinic_id == clinic.id,
                                                       StaffUser.role == Role.committee))

    def add(key: str, patient_index: int | None, **values: Any) -> FeedbackItem:
        patient = patients[patient_index] if patient_index is not None else None
        base: dict[str, Any] = {"kind": FeedbackKind.complaint, "category": Category.waiting_time,
                                "channel": Channel.web, "submitted_by_kind": "patient",
                                "submitted_by_id": patient.id if patient else None}
        return create_item(session=session, clinic=clinic, description=text[key], patient=patient,
                           **{**base, **values})

    overdue = add("wait1", 0, channel=Channel.phone, submitted_by_kind="staff")
    _backdate(session, clinic, overdue, 6)
    add("wait2", 1, channel=Channel.sms, submitted_by_kind="sms")
    add("wait3", 2)
    add("attitude", 3, category=Category.attitude, subject_staff_id=demo.doctors[0].id if demo.doctors else None)
    add("survey", 4, kind=FeedbackKind.concern, category=Category.follow_up, channel=Channel.survey,
        severity=Severity.low, submitted_by_kind="survey")
    add("anon", None, category=Category.environment, submitted_by_kind="anonymous",
        contact_name="张女士" if clinic.language == "zh-CN" else "Ms. Evans",
        contact_phone="+8613800000123" if clinic.language == "zh-CN" else "+13125550188",
        complexity=Complexity.complex)
    answered = add("bill", 5, category=Category.billing)
    if committee is not None:
        transition(session=session, item=answered, clinic=clinic, action=Action.resolve,
                   principal=staff_principal(committee), resolution=text["resolution"],
                   patient_response=text["reply"], notify_patient=False)
