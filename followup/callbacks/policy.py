"""A clinic's follow-up policy: tier due times, retry backoff, attempts before escalation, service hours."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from clinic.models import Clinic, StaffUser
from core.db import utcnow
from core.errors import FieldErrors
from core.security import Role
from followup.enums import Severity
from followup.models import FollowupPolicy

# Whole-number settings of the form: (field, lowest, highest). The bounds keep a typo (1500 attempts, a
# 0-minute emergency) from silently breaking the queue; they are wide enough for any clinic's choice.
NUMBER_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("due_emergency_minutes", 1, 240),
    ("due_urgent_minutes", 5, 1440),
    ("due_follow_up_days", 1, 60),
    ("due_routine_days", 7, 366),
    ("backoff_emergency_minutes", 1, 120),
    ("backoff_urgent_minutes", 1, 480),
    ("backoff_same_day_minutes", 5, 720),
    ("backoff_follow_up_hours", 1, 336),
    ("backoff_routine_hours", 1, 720),
    ("max_attempts", 1, 10),
)
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{2,18}$")
_TIME = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])(:[0-5][0-9])?$")


def get_policy(*, session: Session, clinic_id: int) -> FollowupPolicy:
    """The clinic's stored policy, or the defaults (unsaved) when its admin has not changed anything."""
    row = session.scalar(select(FollowupPolicy).where(FollowupPolicy.clinic_id == clinic_id))
    return row if row is not None else FollowupPolicy(clinic_id=clinic_id)


def clinic_timezone(*, session: Session, clinic_id: int) -> ZoneInfo:
    clinic = session.get(Clinic, clinic_id)
    return ZoneInfo(clinic.timezone if clinic is not None else "Asia/Shanghai")


def is_service_time(policy: FollowupPolicy, at: datetime, tz: ZoneInfo) -> bool:
    local = at.astimezone(tz)
    return (str(local.isoweekday()) in policy.service_weekdays
            and policy.service_day_start <= local.time() < policy.service_day_end)


def next_service_day_end(policy: FollowupPolicy, at: datetime, tz: ZoneInfo, *, notice: timedelta) -> datetime:
    """The end of the first service day that ends at least `notice` after `at` (UTC).

    A same-day callback opened a few minutes before closing is due at the end of the next service day: a
    deadline nobody can meet only produces an escalation nobody can act on."""
    local = at.astimezone(tz)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if str(day.isoweekday()) not in policy.service_weekdays:
            continue
        end = datetime.combine(day, policy.service_day_end, tzinfo=tz)
        if end - local >= notice:
            return end.astimezone(UTC)
    return (at + timedelta(days=1)).astimezone(UTC)  # unreachable once validated: some weekday is a service day


def next_service_start(policy: FollowupPolicy, at: datetime, tz: ZoneInfo) -> datetime:
    """When the clinic next opens at or after `at` (UTC); `at` itself when it is open now."""
    if is_service_time(policy, at, tz):
        return at.astimezone(UTC)
    local = at.astimezone(tz)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        start = datetime.combine(day, policy.service_day_start, tzinfo=tz)
        if str(day.isoweekday()) in policy.service_weekdays and start >= local:
            return start.astimezone(UTC)
    return at.astimezone(UTC)


def tier_due_at(policy: FollowupPolicy, severity: Severity, now: datetime, tz: ZoneInfo) -> datetime:
    """The latest due time the clinic promises for a callback of this tier opened at `now` (UTC).

    Emergency and urgent promises run round the clock (out of hours they go to the on-call doctor)."""
    match Severity(severity):
        case Severity.emergency:
            return (now + timedelta(minutes=policy.due_emergency_minutes)).astimezone(UTC)
        case Severity.urgent:
            return (now + timedelta(minutes=policy.due_urgent_minutes)).astimezone(UTC)
        case Severity.same_day:
            return next_service_day_end(policy, now, tz, notice=timedelta(minutes=policy.due_urgent_minutes))
        case Severity.follow_up:
            return (now + timedelta(days=policy.due_follow_up_days)).astimezone(UTC)
        case _:
            return (now + timedelta(days=policy.due_routine_days)).astimezone(UTC)


def retry_backoff(policy: FollowupPolicy, severity: Severity) -> timedelta:
    """How long to wait before calling again after an unanswered call."""
    return {
        Severity.emergency: timedelta(minutes=policy.backoff_emergency_minutes),
        Severity.urgent: timedelta(minutes=policy.backoff_urgent_minutes),
        Severity.same_day: timedelta(minutes=policy.backoff_same_day_minutes),
        Severity.follow_up: timedelta(hours=policy.backoff_follow_up_hours),
    }.get(Severity(severity), timedelta(hours=policy.backoff_routine_hours))


def on_call_doctor(*, session: Session, policy: FollowupPolicy) -> int | None:
    """The policy's on-call doctor, unless their account has been deactivated since it was chosen."""
    if policy.on_call_staff_id is None:
        return None
    user = session.get(StaffUser, policy.on_call_staff_id)
    return user.id if user is not None and user.active else None


def out_of_hours_owner(*, session: Session, policy: FollowupPolicy, severity: Severity, at: datetime,
                       tz: ZoneInfo) -> int | None:
    """The on-call doctor who takes emergency and urgent work while the clinic is closed, if there is one."""
    if Severity(severity) not in (Severity.emergency, Severity.urgent) or is_service_time(policy, at, tz):
        return None
    return on_call_doctor(session=session, policy=policy)


def save_policy(*, session: Session, clinic_id: int, data: Mapping[str, Any], updated_by: int | None) -> FollowupPolicy:
    """Validate a submitted policy (every field at once) and store it as the clinic's policy."""
    errors = FieldErrors()
    values: dict[str, Any] = {}
    for name, low, high in NUMBER_FIELDS:
        raw = str(_one(data.get(name)) or "").strip()
        if not raw.isdigit() or not low <= int(raw) <= high:
            errors.add(name, "Enter a whole number from %(low)s to %(high)s.", low=low, high=high)
        else:
            values[name] = int(raw)
    if "due_emergency_minutes" in values and "due_urgent_minutes" in values \
            and values["due_emergency_minutes"] > values["due_urgent_minutes"]:
        errors.add("due_emergency_minutes", "An emergency cannot be due later than an urgent callback.")
    for name in ("service_day_start", "service_day_end"):
        parsed = _parse_time(_one(data.get(name)))
        if parsed is None:
            errors.add(name, "Enter a time as HH:MM, for example 08:00.")
        else:
            values[name] = parsed
    if "service_day_start" in values and "service_day_end" in values \
            and values["service_day_start"] >= values["service_day_end"]:
        errors.add("service_day_end", "The service day must end after it starts.")
    weekdays = data.get("service_weekdays") or []
    chosen = sorted({str(d) for d in (weekdays if isinstance(weekdays, list) else [weekdays]) if str(d) in "1234567"
                     and len(str(d)) == 1})
    if not chosen:
        errors.add("service_weekdays", "Choose at least one service day.")
    values["service_weekdays"] = "".join(chosen)
    values["on_call_staff_id"] = _staff_choice(session, clinic_id, data.get("on_call_staff_id"), errors,
                                               "on_call_staff_id", {Role.doctor, Role.nurse})
    values["supervisor_staff_id"] = _staff_choice(session, clinic_id, data.get("supervisor_staff_id"), errors,
                                                  "supervisor_staff_id", {Role.doctor, Role.nurse, Role.admin})
    phone = str(_one(data.get("clinic_phone")) or "").strip()
    if phone and not _PHONE.fullmatch(phone):
        errors.add("clinic_phone", "Enter the clinic's phone number using digits, spaces and dashes only.")
    values["clinic_phone"] = phone
    values["escalation_sms"] = str(_one(data.get("escalation_sms")) or "") in ("on", "true", "1")
    errors.raise_if_any()
    policy = session.scalar(select(FollowupPolicy).where(FollowupPolicy.clinic_id == clinic_id))
    if policy is None:
        policy = FollowupPolicy(clinic_id=clinic_id)
        session.add(policy)
    for name, value in values.items():
        setattr(policy, name, value)
    policy.updated_at = utcnow()
    policy.updated_by = updated_by
    session.flush()
    return policy


def _one(value: Any) -> Any:
    return value[-1] if isinstance(value, list) and value else value


def _parse_time(raw: Any) -> time | None:
    if isinstance(raw, time):
        return raw
    match = _TIME.fullmatch(str(raw or "").strip())
    return time(int(match.group(1)), int(match.group(2))) if match else None


def _staff_choice(session: Session, clinic_id: int, raw: Any, errors: FieldErrors, field: str,
                  roles: set[Role]) -> int | None:
    text = str(_one(raw) or "").strip()
    if not text:
        return None
    user = session.get(StaffUser, int(text)) if text.isdigit() else None
    if user is None or user.clinic_id != clinic_id or not user.active or user.role not in roles:
        errors.add(field, "Choose a member of staff of this clinic.")
        return None
    return user.id
