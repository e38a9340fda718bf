"""Per-clinic complaint settings: deadlines (with their sources), routing by category and the working calendar.

Default deadlines in working days (qi-methods.md §5); every value is configurable per clinic:

- cn profile: acknowledge 1 (issue 5; 首诉负责制 asks for the same day where possible), resolve simple 3
  (issue 5; a Yantai local rule), complex 5 and several departments 10 (NHC 《医疗机构投诉管理办法》, 2019,
  §5.3 — the article text itself was not verified).
- us / English profile (NHS timescales, §5.2): acknowledge 3 (England, Scotland, Northern Ireland), resolve
  simple 10 (Northern Ireland), complex 20 (Scotland), several departments 30 (Wales).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic.enums import RuleProfile
from clinic.models import Clinic, StaffUser
from core.db import utcnow
from core.errors import FieldErrors, NotFound
from core.security import STAFF_ROLES
from feedback.enums import Category, Complexity
from feedback.models import CalendarDay, FeedbackPolicy, FeedbackRoute
from feedback.sla import WorkingCalendar, deadline, parse_clock

DEFAULT_DAYS: dict[RuleProfile, dict[str, int]] = {
    RuleProfile.cn: {"acknowledge_days": 1, "resolve_days": 3, "resolve_complex_days": 5, "resolve_multi_days": 10},
    RuleProfile.us: {"acknowledge_days": 3, "resolve_days": 10, "resolve_complex_days": 20, "resolve_multi_days": 30},
}
DAY_FIELDS = ("acknowledge_days", "resolve_days", "resolve_complex_days", "resolve_multi_days")
MAX_DAYS = 60


def get_policy(*, session: Session, clinic: Clinic) -> FeedbackPolicy:
    """The clinic's policy, created from its profile's defaults the first time anyone needs it."""
    policy = session.scalar(select(FeedbackPolicy).where(FeedbackPolicy.clinic_id == clinic.id))
    if policy is not None:
        return policy
    policy = FeedbackPolicy(clinic_id=clinic.id, **DEFAULT_DAYS.get(RuleProfile(clinic.profile),
                                                                    DEFAULT_DAYS[RuleProfile.cn]))
    try:
        with session.begin_nested():
            session.add(policy)
            session.flush()
    except IntegrityError:  # another transaction created it first
        policy = session.scalar(select(FeedbackPolicy).where(FeedbackPolicy.clinic_id == clinic.id))
        assert policy is not None
    return policy


def day_ends_at(policy: FeedbackPolicy) -> time:
    return time(policy.day_ends_minute // 60, policy.day_ends_minute % 60)


def resolve_days(policy: FeedbackPolicy, complexity: Complexity) -> int:
    return {Complexity.simple: policy.resolve_days, Complexity.complex: policy.resolve_complex_days,
            Complexity.multi_department: policy.resolve_multi_days}[Complexity(complexity)]


def working_calendar(*, session: Session, clinic_id: int, since: date | None = None) -> WorkingCalendar:
    query = select(CalendarDay).where(CalendarDay.clinic_id == clinic_id)
    if since is not None:
        query = query.where(CalendarDay.day >= since)
    days = list(session.scalars(query))
    return WorkingCalendar(holidays=frozenset(d.day for d in days if not d.is_workday),
                           extra_workdays=frozenset(d.day for d in days if d.is_workday))


def deadlines(*, session: Session, clinic: Clinic, policy: FeedbackPolicy, received_at: datetime,
              complexity: Complexity, resolve_from: datetime | None = None) -> tuple[datetime, datetime]:
    """(acknowledge by, resolve by). A reopened item's resolution clock restarts at `resolve_from`."""
    tz = ZoneInfo(clinic.timezone)
    start = min(received_at, resolve_from or received_at)
    calendar = working_calendar(session=session, clinic_id=clinic.id, since=start.astimezone(tz).date())
    ends = day_ends_at(policy)
    ack = deadline(received_at, policy.acknowledge_days, tz=tz, calendar=calendar, day_ends_at=ends)
    resolve = deadline(resolve_from or received_at, resolve_days(policy, complexity), tz=tz, calendar=calendar,
                       day_ends_at=ends)
    return ack, max(ack, resolve)


def update_policy(*, session: Session, clinic: Clinic, values: dict[str, Any], staff_id: int) -> FeedbackPolicy:
    """Validate a settings form (all problems at once) and store it."""
    policy = get_policy(session=session, clinic=clinic)
    errors = FieldErrors()
    numbers: dict[str, int] = {}
    limits = {**dict.fromkeys(DAY_FIELDS, (0, MAX_DAYS)), "due_soon_hours": (1, 72), "rca_threshold": (2, 50),
              "rca_window_days": (1, 365)}
    for name, (low, high) in limits.items():
        raw = str(values.get(name, "")).strip()
        if not raw.isdigit() or not low <= int(raw) <= high:
            errors.add(name, "Enter a whole number from %(low)s to %(high)s.", low=low, high=high)
        else:
            numbers[name] = int(raw)
    if "resolve_days" in numbers and "acknowledge_days" in numbers \
            and numbers["resolve_days"] < numbers["acknowledge_days"]:
        errors.add("resolve_days", "The resolution deadline cannot come before the acknowledgement deadline.")
    clock = parse_clock(str(values.get("day_ends_at", "")))
    if clock is None:
        errors.add("day_ends_at", "Enter a time as HH:MM, e.g. 17:30.")
    supervisor_id = _staff_choice(session, clinic.id, values.get("supervisor_id"), errors, "supervisor_id")
    errors.raise_if_any()
    for name, value in numbers.items():
        setattr(policy, name, value)
    assert clock is not None
    policy.day_ends_minute = clock.hour * 60 + clock.minute
    policy.supervisor_id = supervisor_id
    policy.updated_at = utcnow()
    policy.updated_by = staff_id
    session.flush()
    return policy


def _staff_choice(session: Session, clinic_id: int, raw: Any, errors: FieldErrors, field: str) -> int | None:
    text = str(raw or "").strip()
    if not text:
        return None
    staff = session.get(StaffUser, int(text)) if text.isdigit() else None
    if staff is None or staff.clinic_id != clinic_id or not staff.active or staff.role not in STAFF_ROLES:
        errors.add(field, "Choose a staff member of this clinic.")
        return None
    return staff.id


def routes_for(*, session: Session, clinic_id: int) -> dict[Category, int]:
    rows = session.scalars(select(FeedbackRoute).where(FeedbackRoute.clinic_id == clinic_id))
    return {Category(r.category): r.owner_id for r in rows}


def owner_for(*, session: Session, clinic_id: int, category: Category) -> int | None:
    """First-contact owner of a new item: the staff member routed for its category, else the committee."""
    owner_id = session.scalar(select(FeedbackRoute.owner_id).where(
        FeedbackRoute.clinic_id == clinic_id, FeedbackRoute.category == category))
    if owner_id is None:
        return None
    owner = session.get(StaffUser, owner_id)
    return owner_id if owner is not None and owner.active else None


def update_routes(*, session: Session, clinic: Clinic, values: dict[str, Any]) -> None:
    """`values` maps 'route_<category>' to a staff id, or to '' for the committee."""
    errors = FieldErrors()
    chosen: dict[Category, int | None] = {}
    for category in Category:
        field = f"route_{category.value}"
        chosen[category] = _staff_choice(session, clinic.id, values.get(field), errors, field)
    errors.raise_if_any()
    existing = {Category(r.category): r for r in session.scalars(
        select(FeedbackRoute).where(FeedbackRoute.clinic_id == clinic.id))}
    for category, owner_id in chosen.items():
        row = existing.get(category)
        if owner_id is None and row is not None:
            session.delete(row)
        elif owner_id is not None and row is None:
            session.add(FeedbackRoute(clinic_id=clinic.id, category=category, owner_id=owner_id))
        elif owner_id is not None and row is not None:
            row.owner_id = owner_id
    session.flush()


def list_calendar(*, session: Session, clinic_id: int, since: date) -> list[CalendarDay]:
    return list(session.scalars(select(CalendarDay).where(CalendarDay.clinic_id == clinic_id,
                                                         CalendarDay.day >= since).order_by(CalendarDay.day)))


def add_calendar_day(*, session: Session, clinic_id: int, values: dict[str, Any]) -> CalendarDay:
    errors = FieldErrors()
    try:
        day = date.fromisoformat(str(values.get("day", "")).strip())
    except ValueError:
        errors.add("day", "Enter a date as YYYY-MM-DD.")
        day = None
    name = str(values.get("name", "")).strip()[:60]
    is_workday = str(values.get("is_workday", "")) in ("1", "on", "true")
    if day is not None and session.scalar(select(CalendarDay.id).where(CalendarDay.clinic_id == clinic_id,
                                                                      CalendarDay.day == day)):
        errors.add("day", "This date is already in the calendar.")
    errors.raise_if_any()
    row = CalendarDay(clinic_id=clinic_id, day=day, is_workday=is_workday, name=name)
    session.add(row)
    session.flush()
    return row


def remove_calendar_day(*, session: Session, clinic_id: int, day_id: int) -> None:
    """Another clinic's day is not found (not silently ignored, which would audit a removal that never was)."""
    row = session.get(CalendarDay, day_id)
    if row is None or row.clinic_id != clinic_id:
        raise NotFound("Page not found.")
    session.delete(row)
    session.flush()
