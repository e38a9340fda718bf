"""Jobs of the PDCA domain: remind a cycle's owner when its planned day has passed and it is still in Plan."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from clinic.models import Clinic, StaffUser
from core.db import unit_of_work, utcnow
from core.i18n import format_date
from core.jobs import periodic_actor, runtime
from core.messaging import queue_sms
from core.settings import REPO_ROOT
from pdca.complaint_watch import watch_clinic
from pdca.enums import CycleStage
from pdca.models import Cycle

log = logging.getLogger(__name__)

# Staff are texted in their working day only (local time of their clinic).
WORKING_HOURS = (9, 18)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Plain text for SMS: no HTML escaping.
    return Environment(loader=FileSystemLoader(REPO_ROOT / "templates"), undefined=StrictUndefined,
                       autoescape=False, trim_blocks=True, keep_trailing_newline=False)


def reminder_text(*, language: str, ref: str, day: str) -> str:
    lang = "zh-CN" if language.lower().startswith("zh") else "en"
    return _environment().get_template(f"sms/pdca_cycle_due.{lang}.txt").render(ref=ref, day=day).strip()


def remind_cycle_owners(*, engine: Engine, now: datetime | None = None) -> int:
    """Text each owner (who has a phone) of a cycle still in Plan after its planned day, once per planned day.

    The claim is a compare-and-set on `reminded_at`, so two sweeps never text twice; changing the planned
    day clears it (pdca.service.cycles)."""
    now = now or utcnow()
    with Session(engine) as session:
        # A coarse cut in UTC; the clinic's own calendar decides below.
        rows = session.execute(
            select(Cycle.id, Cycle.plan_when, Clinic.timezone)
            .join(Clinic, Clinic.id == Cycle.clinic_id)
            .where(Cycle.stage == CycleStage.plan.value, Cycle.plan_when.is_not(None),
                   Cycle.plan_when < (now + timedelta(days=1)).date(), Cycle.reminded_at.is_(None),
                   Cycle.owner_id.is_not(None))
            .limit(500)
        ).all()
    sent = 0
    for cycle_id, plan_when, timezone in rows:
        local = now.astimezone(ZoneInfo(timezone))
        if plan_when >= local.date() or not WORKING_HOURS[0] <= local.hour < WORKING_HOURS[1]:
            continue
        try:
            with unit_of_work(engine) as session:
                sent += _remind(session, cycle_id, now)
        except Exception:  # one bad row must not stop the sweep; the next run tries again
            log.exception("could not remind the owner of cycle %s", cycle_id)
    return sent


def _remind(session: Session, cycle_id: int, now: datetime) -> int:
    claimed = session.execute(
        update(Cycle).where(Cycle.id == cycle_id, Cycle.reminded_at.is_(None), Cycle.stage == CycleStage.plan.value)
        .values(reminded_at=now).execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return 0
    cycle = session.get(Cycle, cycle_id)
    owner = session.get(StaffUser, cycle.owner_id) if cycle is not None and cycle.owner_id else None
    if cycle is None or owner is None or not owner.phone or not owner.active or cycle.plan_when is None:
        return 0
    clinic = session.get(Clinic, cycle.clinic_id)
    language = owner.language or (clinic.language if clinic else "zh-CN")
    day = format_date(cycle.plan_when, language, fmt="M月d日" if language == "zh-CN" else "d MMM")
    queue_sms(session=session, phone=owner.phone, body=reminder_text(language=language, ref=f"C-{cycle.id}", day=day),
              purpose="pdca_cycle_due", clinic_id=cycle.clinic_id)
    return 1


@periodic_actor("pdca.remind_cycle_owners", "20 * * * *")
def remind_cycle_owners_hourly() -> None:
    remind_cycle_owners(engine=runtime.engine)


# Hourly on the 1st and 2nd: every clinic's month has ended by then whatever its time zone; repeats are no-ops.
@periodic_actor("pdca.prepare_monthly_reviews", "40 * 1,2 * *")
def prepare_monthly_reviews_on_the_first() -> None:
    from pdca.review_schedule import prepare_monthly_reviews

    prepare_monthly_reviews(engine=runtime.engine)


@periodic_actor("pdca.watch_complaint_rates", "40 5 * * *")
def watch_complaint_rates_daily() -> None:
    """Each clinic's complaint categories on their monthly u charts; one clinic's failure does not stop the rest."""
    with Session(runtime.engine) as session:
        clinic_ids = list(session.scalars(select(Clinic.id)))
    for clinic_id in clinic_ids:
        try:
            with unit_of_work(runtime.engine) as session:
                clinic = session.get(Clinic, clinic_id)
                if clinic is not None:
                    watch_clinic(session=session, clinic=clinic)
        except Exception:
            log.exception("could not watch the complaint rates of clinic %s", clinic_id)

