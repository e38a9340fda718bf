"""The hourly reminder: a cycle still in Plan after its planned day texts its owner once, in working hours."""

from datetime import UTC, datetime

from sqlalchemy import select

from core.models import SmsMessage
from pdca.service import update_cycle
from pdca.tasks import remind_cycle_owners
from tests.factories import make_clinic, make_pdca_cycle, make_pdca_project, make_staff

# 10:00 in Shanghai on 2026-03-02, a Monday: after the cycles' planned day (2026-01-05).
MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def sms_to(session, phone: str) -> list[SmsMessage]:
    return list(session.scalars(select(SmsMessage).where(SmsMessage.phone == phone)))


def test_the_owner_of_a_late_cycle_is_texted_once(session, engine):
    clinic = make_clinic(session)
    owner = make_staff(session, clinic, role="committee", phone="+8613900000001", language="zh-CN")
    cycle = make_pdca_cycle(session, make_pdca_project(session, clinic, owner), owner)
    session.commit()
    assert remind_cycle_owners(engine=engine, now=MORNING) == 1
    assert remind_cycle_owners(engine=engine, now=MORNING) == 0
    (message,) = sms_to(session, owner.phone)
    assert message.purpose == "pdca_cycle_due" and f"C-{cycle.id}" in message.body and "1月5日" in message.body


def test_no_text_at_night_or_before_the_planned_day_has_passed(session, engine):
    clinic = make_clinic(session)
    owner = make_staff(session, clinic, role="committee", phone="+8613900000002")
    make_pdca_cycle(session, make_pdca_project(session, clinic, owner), owner)
    make_pdca_cycle(session, make_pdca_project(session, clinic, owner), owner, plan_when="2026-03-02")
    session.commit()
    assert remind_cycle_owners(engine=engine, now=datetime(2026, 3, 2, 14, 0, tzinfo=UTC)) == 0  # 22:00 local
    assert remind_cycle_owners(engine=engine, now=MORNING) == 1  # only the cycle planned for January


def test_a_new_planned_day_earns_a_new_reminder(session, engine):
    clinic = make_clinic(session)
    owner = make_staff(session, clinic, role="committee", phone="+8613900000003")
    cycle = make_pdca_cycle(session, make_pdca_project(session, clinic, owner), owner)
    session.commit()
    remind_cycle_owners(engine=engine, now=MORNING)
    session.refresh(cycle)
    update_cycle(session=session, cycle=cycle, values={"plan_when": "2026-02-01"}, today=MORNING.date())
    session.commit()
    assert cycle.reminded_at is None
    assert remind_cycle_owners(engine=engine, now=MORNING) == 1
