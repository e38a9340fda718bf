"""Follow-up quality indicators, computed in SQL per clinic (optionally per doctor) and week or month.

Definitions (each returns one point per period, oldest first, zero-filled, so charts get every period):
- closed on time: callbacks whose due time fell in the period and has passed; numerator: closed at or
  before their due time. A callback still open past its due time counts as late.
- median minutes to first attempt: callbacks opened in the period that had at least one call attempt.
- reached rate: callbacks closed in the period; numerator: closed with outcome "reached".
- return to care: reached call attempts in the period whose 15 days have passed; numerator: the patient has
  a reading (sent or staff-entered at a visit) within 15 days after the call.
- BP controlled (Simple, anchor-systems.md §1.4): hypertension patients registered before the last 3 months
  of the period, not lost to follow-up (registered over 12 months ago with no visit in the last 12);
  numerator: the latest BP of the last 3 months is <140 and <90. No BP in those months counts as not
  controlled.
- glucose controlled: the same denominator for diabetes patients; numerator: the latest fasting glucose of
  the last 3 months is <7.0 mmol/L or <126 mg/dL, in the unit it was sent in (a meter HI/LO is not).
"The last 3 months" of a period end the period: for May they are March, April and May. The doctor of a
callback is its assignee, else the patient's family doctor; of a patient, the family doctor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Interval,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session

from clinic.models import Clinic, Patient
from core.db import UTCDateTime, utcnow
from followup.dates import Granularity, Period, local_midnight, months_before, recent_periods, utc_offsets
from followup.enums import GlucoseContext, ReadingKind
from followup.models import Callback, CallbackEvent, CallbackStatus, Reading

__all__ = [
    "Granularity", "IndicatorRow", "Median", "Period", "Rate", "bp_controlled", "callbacks_closed_on_time",
    "glucose_controlled", "indicator_table", "median_minutes_to_first_attempt", "reached_rate", "return_to_care",
]

REACHED = "reached"
RETURN_WINDOW = timedelta(days=15)
BP_CONTROLLED_BELOW = (140, 90)  # Simple: systolic <140 and diastolic <90
FASTING_CONTROLLED_BELOW = {"mmol/L": Decimal("7.0"), "mg/dL": Decimal("126")}  # 规范 控制满意; Simple <126


@dataclass(frozen=True)
class Rate:
    """A proportion for a p-chart: numerator of denominator; value is None when nothing was counted."""

    period: Period
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Median:
    period: Period
    count: int
    value: float | None  # minutes


@dataclass(frozen=True)
class IndicatorRow:
    period: Period
    closed_on_time: Rate
    first_attempt: Median
    reached: Rate
    returned: Rate
    bp_controlled: Rate
    glucose_controlled: Rate


# --- SQL building blocks ---------------------------------------------------------------------------------


class _Scope:
    """The clinic, its time zone, the periods asked for, and the dialect the SQL must speak."""

    def __init__(self, session: Session, clinic: Clinic, periods: Sequence[Period], doctor_id: int | None,
                 now: datetime | None) -> None:
        if not periods:
            raise ValueError("ask for at least one period")
        self.session, self.clinic, self.periods, self.doctor_id = session, clinic, list(periods), doctor_id
        self.tz = ZoneInfo(clinic.timezone)
        self.now = now or utcnow()
        self.start = local_midnight(self.periods[0].start, self.tz)
        self.end = local_midnight(self.periods[-1].end, self.tz)
        self.postgres = session.get_bind().dialect.name == "postgresql"
        # Periods come from followup.dates (whole weeks from Monday, or whole months); a month is never 7 days.
        first = self.periods[0]
        self.granularity = Granularity.month if (first.end - first.start).days > 7 else Granularity.week

    def bucket(self, column: ColumnElement[datetime]) -> ColumnElement[str]:
        """The period (its local start date as YYYY-MM-DD) a UTC timestamp falls in."""
        if self.postgres:
            local = func.timezone(self.tz.key, column)
            return func.to_char(func.date_trunc(self.granularity.value, local), "YYYY-MM-DD")
        # SQLite has no time zones: shift by the offset in force at that instant (exact across DST changes).
        offsets = utc_offsets(self.tz, self.start, self.end)
        modifiers = [f"{'+' if minutes >= 0 else '-'}{abs(minutes)} minutes" for _, minutes in offsets]
        if len(offsets) == 1:
            modifier: ColumnElement[str] = literal(modifiers[0])
        else:
            modifier = case(*[(column < at, text) for (at, _), text in zip(offsets[1:], modifiers, strict=False)],
                            else_=modifiers[-1])
        local = func.datetime(column, modifier)
        if self.granularity is Granularity.month:
            return func.strftime("%Y-%m-01", local)
        return func.date(local, "-6 days", "weekday 1")  # the Monday on or before the day

    def epoch(self, column: ColumnElement[datetime]) -> ColumnElement[float]:
        if self.postgres:
            return func.extract("epoch", column)
        return (func.julianday(column) - 2440587.5) * 86400.0

    def within(self, later: ColumnElement[datetime], earlier: ColumnElement[datetime],
               span: timedelta) -> ColumnElement[bool]:
        """earlier < later <= earlier + span."""
        if self.postgres:
            return and_(later > earlier, later <= earlier + literal(span, Interval()))
        return and_(later > earlier, func.julianday(later) <= func.julianday(earlier) + span.total_seconds() / 86400)

    def instant(self, value: datetime) -> ColumnElement[datetime]:
        bound = literal(value, UTCDateTime)
        # PostgreSQL must know a bare parameter's type inside a UNION; SQLite would turn a CAST into a number.
        return cast(bound, DateTime(timezone=True)) if self.postgres else bound

    def callback_owner(self) -> ColumnElement[int]:
        return func.coalesce(Callback.assigned_to, Patient.family_doctor_id)

    def rates(self, rows: Sequence[tuple[str, int, int]]) -> list[Rate]:
        found = {date.fromisoformat(str(b)[:10]): (int(n or 0), int(d or 0)) for b, n, d in rows}
        return [Rate(p, *found.get(p.start, (0, 0))) for p in self.periods]


def _bucketed_rate(scope: _Scope, inner: object) -> list[Rate]:
    sub = inner.subquery()  # type: ignore[attr-defined]
    rows = scope.session.execute(
        select(sub.c.b, func.sum(sub.c.hit), func.count()).group_by(sub.c.b)
    ).all()
    return scope.rates([(b, n, d) for b, n, d in rows])


# --- callback indicators -----------------------------------------------------------------------------------


def callbacks_closed_on_time(*, session: Session, clinic: Clinic, periods: Sequence[Period],
                             doctor_id: int | None = None, now: datetime | None = None) -> list[Rate]:
    scope = _Scope(session, clinic, periods, doctor_id, now)
    on_time = and_(Callback.status == CallbackStatus.closed, Callback.closed_at <= Callback.due_at)
    inner = (
        select(scope.bucket(Callback.due_at).label("b"), case((on_time, 1), else_=0).label("hit"))
        .join(Patient, Patient.id == Callback.patient_id)
        .where(Callback.clinic_id == clinic.id, Callback.due_at >= scope.start,
               Callback.due_at < min(scope.end, scope.now))
    )
    if doctor_id is not None:
        inner = inner.where(scope.callback_owner() == doctor_id)
    return _bucketed_rate(scope, inner)


def reached_rate(*, session: Session, clinic: Clinic, periods: Sequence[Period], doctor_id: int | None = None,
                 now: datetime | None = None) -> list[Rate]:
    scope = _Scope(session, clinic, periods, doctor_id, now)
    inner = (
        select(scope.bucket(Callback.closed_at).label("b"),
               case((Callback.outcome == REACHED, 1), else_=0).label("hit"))
        .join(Patient, Patient.id == Callback.patient_id)
        .where(Callback.clinic_id == clinic.id, Callback.status == CallbackStatus.closed,
               Callback.closed_at >= scope.start, Callback.closed_at < scope.end)
    )
    if doctor_id is not None:
        inner = inner.where(scope.callback_owner() == doctor_id)
    return _bucketed_rate(scope, inner)


def return_to_care(*, session: Session, clinic: Clinic, periods: Sequence[Period], doctor_id: int | None = None,
                   now: datetime | None = None, window: timedelta = RETURN_WINDOW) -> list[Rate]:
    scope = _Scope(session, clinic, periods, doctor_id, now)
    returned = exists().where(Reading.patient_id == Callback.patient_id, Reading.voided_at.is_(None),
                              scope.within(Reading.taken_at, CallbackEvent.at, window))
    inner = (
        select(scope.bucket(CallbackEvent.at).label("b"), case((returned, 1), else_=0).label("hit"))
        .join(Callback, Callback.id == CallbackEvent.callback_id)
        .join(Patient, Patient.id == Callback.patient_id)
        .where(Callback.clinic_id == clinic.id, CallbackEvent.kind == "attempt",
               CallbackEvent.detail["outcome"].as_string() == REACHED,
               CallbackEvent.at >= scope.start, CallbackEvent.at < min(scope.end, scope.now - window))
    )
    if doctor_id is not None:
        inner = inner.where(scope.callback_owner() == doctor_id)
    return _bucketed_rate(scope, inner)


def median_minutes_to_first_attempt(*, session: Session, clinic: Clinic, periods: Sequence[Period],
                                    doctor_id: int | None = None, now: datetime | None = None) -> list[Median]:
    scope = _Scope(session, clinic, periods, doctor_id, now)
    first = (select(CallbackEvent.callback_id.label("callback_id"), func.min(CallbackEvent.at).label("at"))
             .where(CallbackEvent.kind == "attempt").group_by(CallbackEvent.callback_id).subquery("first_attempt"))
    minutes = (scope.epoch(first.c.at) - scope.epoch(Callback.opened_at)) / 60.0
    inner = (
        select(scope.bucket(Callback.opened_at).label("b"), minutes.label("m"))
        .join(first, first.c.callback_id == Callback.id)
        .join(Patient, Patient.id == Callback.patient_id)
        .where(Callback.clinic_id == clinic.id, Callback.opened_at >= scope.start, Callback.opened_at < scope.end)
    )
    if doctor_id is not None:
        inner = inner.where(scope.callback_owner() == doctor_id)
    sub = inner.subquery()
    if scope.postgres:
        query = select(sub.c.b, func.count(), func.percentile_cont(0.5).within_group(sub.c.m)).group_by(sub.c.b)
    else:
        # No percentile function in SQLite: rank each period's values and average the middle one or two.
        ranked = select(
            sub.c.b, sub.c.m,
            func.row_number().over(partition_by=sub.c.b, order_by=sub.c.m).label("rn"),
            func.count().over(partition_by=sub.c.b).label("cnt"),
        ).subquery()
        middle = ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2])
        query = select(ranked.c.b, func.max(ranked.c.cnt), func.avg(ranked.c.m)).where(middle).group_by(ranked.c.b)
    found = {date.fromisoformat(str(b)[:10]): (int(n), float(v)) for b, n, v in session.execute(query).all()}
    return [Median(p, *found.get(p.start, (0, None))) for p in scope.periods]  # type: ignore[arg-type]


# --- control indicators ------------------------------------------------------------------------------------


def _control(scope: _Scope, programme: ColumnElement[bool], kind: ReadingKind,
             controlled: object, contexts: tuple[GlucoseContext, ...] | None = None) -> list[Rate]:
    """One query for every period: patients in the denominator, each joined to their latest reading of
    `kind` in the period's last 3 months."""
    rows = []
    for index, period in enumerate(scope.periods):
        win_end = local_midnight(period.end, scope.tz)
        rows.append(select(
            cast(literal(index), Integer).label("idx") if scope.postgres else literal(index).label("idx"),
            scope.instant(local_midnight(months_before(period.end, 3), scope.tz)).label("win_start"),
            scope.instant(win_end).label("win_end"),
            scope.instant(local_midnight(months_before(period.end, 12), scope.tz)).label("ltfu_start"),
        ))
    periods = (rows[0] if len(rows) == 1 else union_all(*rows)).cte("periods")
    # The latest reading per (period, patient) is one index probe on (patient_id, kind, taken_at) per denominator
    # row: ranking every reading of the window instead sorted ~700k rows for a year at 5,000 patients.
    of_kind = and_(Reading.patient_id == Patient.id, Reading.clinic_id == scope.clinic.id, Reading.kind == kind,
                   Reading.voided_at.is_(None), Reading.taken_at >= periods.c.win_start,
                   Reading.taken_at < periods.c.win_end)
    if contexts:
        of_kind = and_(of_kind, Reading.context.in_([str(c) for c in contexts]))
    latest_id = (select(Reading.id).where(of_kind).order_by(Reading.taken_at.desc(), Reading.id.desc()).limit(1)
                 .correlate_except(Reading).scalar_subquery())
    ranked = Reading.__table__.alias("latest")  # type: ignore[attr-defined]
    visit = aliased(Reading)
    reached = aliased(Callback)
    retained = or_(
        Patient.created_at >= periods.c.ltfu_start,
        exists().where(visit.patient_id == Patient.id, visit.voided_at.is_(None),
                       visit.taken_at >= periods.c.ltfu_start, visit.taken_at < periods.c.win_end),
        exists().where(reached.patient_id == Patient.id, reached.outcome == REACHED,
                       reached.closed_at >= periods.c.ltfu_start, reached.closed_at < periods.c.win_end),
    )
    denominator = and_(Patient.clinic_id == scope.clinic.id, Patient.active.is_(True), programme,
                       Patient.created_at < periods.c.win_start, retained)
    if scope.doctor_id is not None:
        denominator = and_(denominator, Patient.family_doctor_id == scope.doctor_id)
    query = (
        select(periods.c.idx, func.sum(case((controlled(ranked), 1), else_=0)), func.count(Patient.id))  # type: ignore[operator]
        .select_from(periods).join(Patient, denominator)
        .outerjoin(ranked, ranked.c.id == latest_id)
        .group_by(periods.c.idx)
    )
    found = {int(i): (int(n or 0), int(d or 0)) for i, n, d in scope.session.execute(query).all()}
    return [Rate(p, *found.get(i, (0, 0))) for i, p in enumerate(scope.periods)]


def bp_controlled(*, session: Session, clinic: Clinic, periods: Sequence[Period], doctor_id: int | None = None,
                  now: datetime | None = None) -> list[Rate]:
    systolic, diastolic = BP_CONTROLLED_BELOW
    return _control(_Scope(session, clinic, periods, doctor_id, now), Patient.has_hypertension.is_(True),
                    ReadingKind.blood_pressure,
                    lambda latest: and_(latest.c.systolic < systolic, latest.c.diastolic < diastolic))


def glucose_controlled(*, session: Session, clinic: Clinic, periods: Sequence[Period],
                       doctor_id: int | None = None, now: datetime | None = None) -> list[Rate]:
    def below(latest: object) -> ColumnElement[bool]:
        c = latest.c  # type: ignore[attr-defined]
        return and_(c.meter_flag.is_(None), or_(*[
            and_(c.unit_original == unit, c.value_original < limit) for unit, limit in FASTING_CONTROLLED_BELOW.items()
        ]))

    return _control(_Scope(session, clinic, periods, doctor_id, now), Patient.has_diabetes.is_(True),
                    ReadingKind.glucose, below, contexts=(GlucoseContext.fasting,))


# --- the table the indicators page shows ----------------------------------------------------------------------


def indicator_table(*, session: Session, clinic: Clinic, granularity: Granularity = Granularity.month,
                    count: int = 12, doctor_id: int | None = None, now: datetime | None = None) -> list[IndicatorRow]:
    """Every indicator for the last `count` periods, newest first."""
    now = now or utcnow()
    periods = recent_periods(now, ZoneInfo(clinic.timezone), granularity, count)
    args = {"session": session, "clinic": clinic, "periods": periods, "doctor_id": doctor_id, "now": now}
    columns = zip(callbacks_closed_on_time(**args), median_minutes_to_first_attempt(**args), reached_rate(**args),
                  return_to_care(**args), bp_controlled(**args), glucose_controlled(**args), strict=True)
    rows = [IndicatorRow(c.period, c, f, r, t, b, g) for c, f, r, t, b, g in columns]
    return rows[::-1]
