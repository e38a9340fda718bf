"""The monthly reviews the schedule prepares: on the 1st, each clinic's review of the month that has just ended
(in the clinic's own calendar), queued for the report renderer once — a run that finds the month's review
already archived or on its way leaves it alone, however often it fires."""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from clinic.models import Clinic
from core.db import unit_of_work, utcnow
from core.reports import MONTHLY_REVIEW, latest_report, request_report
from followup.dates import months_before

log = logging.getLogger(__name__)


def last_month_ended(now: datetime, tz: ZoneInfo) -> date:
    """The first day of the month before the clinic's current local month."""
    return months_before(now.astimezone(tz).date().replace(day=1), 1)


def prepare_monthly_reviews(*, engine: Engine, now: datetime | None = None) -> int:
    """Queue every clinic's review of its last ended month, in the clinic's language; returns how many were
    queued. One clinic failing does not stop the others; the next run tries it again."""
    now = now or utcnow()
    with Session(engine) as session:
        clinics = session.execute(select(Clinic.id, Clinic.timezone, Clinic.language).order_by(Clinic.id)).all()
    queued = 0
    for clinic_id, timezone, language in clinics:
        period = last_month_ended(now, ZoneInfo(timezone)).strftime("%Y-%m")
        try:
            with unit_of_work(engine) as session:
                if latest_report(session=session, clinic_id=clinic_id, kind=MONTHLY_REVIEW, period=period,
                                 language=language) is not None:
                    continue
                request_report(session=session, kind=MONTHLY_REVIEW, clinic_id=clinic_id, params={"month": period},
                               language=language)
                queued += 1
        except Exception:
            log.exception("could not queue the %s monthly review of clinic %s", period, clinic_id)
    return queued
