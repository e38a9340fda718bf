"""Watching each complaint category's monthly rate on a u chart (items per registered patient).

A rate that rises beyond the upper limit, or a long run above the centre line that reaches the latest months,
offers the committee a root-cause analysis with that month's items attached (issue: "or the category's monthly
rate shows a signal"). Count clusters ("3 in 30 days") are feedback's own; this is the slower, statistical half,
and it lives here because the SPC engine is PDCA's. Only upward signals matter: fewer complaints is not a problem
to analyse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from clinic.models import Clinic
from core.db import utcnow
from feedback.clusters import offer_rca_for_signal
from feedback.enums import Category
from feedback.metrics import monthly_measures
from feedback.models import RcaSuggestion
from followup.dates import Granularity, local_midnight, next_period_start
from pdca.spc import Rule, control_chart

HISTORY_MONTHS = 24
# Limits from fewer months than this flag noise; a new clinic is watched once it has the history.
MIN_BASELINE_MONTHS = 8
# One item in a quiet category can sit beyond a zero-width limit; it takes two to call it a rise.
MIN_ITEMS = 2
JUDGED = 2  # the last complete month and the month so far; earlier months were judged on earlier days
UPWARD_RULES = frozenset({Rule.outside_limits, Rule.long_run, Rule.shift})


def rising_months(*, counts: Sequence[int], patients: Sequence[int]) -> list[int]:
    """Indexes among the last JUDGED months whose rate signals upward against the months before them."""
    n = len(counts)
    baseline_months = sum(1 for i in range(n - JUDGED) if patients[i] > 0)
    if n <= JUDGED or baseline_months < MIN_BASELINE_MONTHS:
        return []
    chart = control_chart(
        chart_type="u",
        values=[c if p > 0 else None for c, p in zip(counts, patients, strict=True)],
        denominators=[p if p > 0 else None for p in patients],
        freeze=n - JUDGED,  # judge the latest months against limits they did not help set
    )
    judged = range(n - JUDGED, n)
    rising = {i for signal in chart.signals if signal.direction > 0 and signal.rule in UPWARD_RULES
              for i in signal.indexes if i in judged}
    return sorted(i for i in rising if counts[i] >= MIN_ITEMS)


def watch_clinic(*, session: Session, clinic: Clinic, now: datetime | None = None) -> list[RcaSuggestion]:
    """Check every category of one clinic; returns the suggestions made (each category and month at most once)."""
    now = now or utcnow()
    rows = monthly_measures(session=session, clinic=clinic, months=HISTORY_MONTHS, now=now)
    months = sorted({row.month for row in rows})
    patients = {row.month: row.patients for row in rows if row.category is None}
    items = {(row.month, row.category): row.items for row in rows if row.category is not None}
    tz = ZoneInfo(clinic.timezone)
    made = []
    for category in Category:
        counts = [items.get((month, category), 0) for month in months]
        if not any(counts[-JUDGED:]):
            continue
        for index in rising_months(counts=counts, patients=[patients[m] for m in months]):
            start = months[index]
            suggestion = offer_rca_for_signal(
                session=session, clinic_id=clinic.id, category=category, period=start.strftime("%Y-%m"),
                since=local_midnight(start, tz),
                until=local_midnight(next_period_start(start, Granularity.month), tz))
            if suggestion is not None:
                made.append(suggestion)
    return made

