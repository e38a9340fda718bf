"""A clinic's rules as stored data: seeded from its profile's defaults, edited as new versions."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic.models import Clinic
from core.errors import FieldError, ValidationFailed
from followup.models import ClinicRule
from followup.rules import RuleDefinition, RuleInvalid, default_rules


@dataclass(frozen=True)
class ActiveRule:
    definition: RuleDefinition
    version: int
    row_id: int


def ensure_default_rules(*, session: Session, clinic: Clinic) -> None:
    """The first time a clinic's rules are needed, store its profile's defaults as version 1."""
    if session.scalar(select(ClinicRule.id).where(ClinicRule.clinic_id == clinic.id).limit(1)) is not None:
        return
    try:
        # A clinic's first readings can arrive together; the unique (clinic, code, version) key lets one
        # transaction seed the rules and the others carry on with what it stored.
        with session.begin_nested():
            for rule in default_rules(str(clinic.profile)):  # type: ignore[arg-type]
                session.add(ClinicRule(clinic_id=clinic.id, code=rule.code, version=1, definition=rule.to_dict()))
            session.flush()
    except IntegrityError:
        pass


# Rules are append-only (an edit or a switch is a new row), so a clinic's newest row (id and time, which also
# tells apart databases that reuse ids) names the whole rule set; the cache is per process and per database.
_cache: dict[tuple[str, int], tuple[tuple[int, datetime], list[ActiveRule]]] = {}
_cache_lock = threading.Lock()


def active_rules(*, session: Session, clinic: Clinic) -> list[ActiveRule]:
    """The newest active version of each of the clinic's rules: one indexed probe per call while they are
    unchanged; a saved rule has a newer row, so the next reading loads (and uses) it."""
    newest = session.execute(select(ClinicRule.id, ClinicRule.created_at).where(ClinicRule.clinic_id == clinic.id)
                             .order_by(ClinicRule.id.desc()).limit(1)).first()
    if newest is None:  # a clinic made without them (clinics are seeded when created by the CLI and demo)
        ensure_default_rules(session=session, clinic=clinic)
        return _load_active(session, clinic)
    key, fingerprint = (str(session.get_bind().engine.url), clinic.id), (newest.id, newest.created_at)
    cached = _cache.get(key)
    if cached is not None and cached[0] == fingerprint:
        return list(cached[1])
    # Loaded after the probe: a rule saved in between is loaded under the older fingerprint and reloaded next time.
    rules = _load_active(session, clinic)
    with _cache_lock:
        _cache[key] = (fingerprint, rules)
    return list(rules)


def _load_active(session: Session, clinic: Clinic) -> list[ActiveRule]:
    newest = (select(ClinicRule.code, func.max(ClinicRule.version).label("version"))
              .where(ClinicRule.clinic_id == clinic.id).group_by(ClinicRule.code).subquery())
    rows = session.scalars(
        select(ClinicRule).join(newest, (ClinicRule.code == newest.c.code) & (ClinicRule.version == newest.c.version))
        .where(ClinicRule.clinic_id == clinic.id, ClinicRule.active.is_(True)).order_by(ClinicRule.id)
    )
    return [ActiveRule(RuleDefinition.from_dict(r.definition), r.version, r.id) for r in rows]


def save_rule(*, session: Session, clinic: Clinic, data: dict, created_by: int | None) -> ClinicRule:
    """Validate a rule and store it as the next version of its code (editing never rewrites history)."""
    try:
        rule = RuleDefinition.from_dict(data)
    except RuleInvalid as exc:
        raise ValidationFailed("The rule is not valid.", field_errors=[
            FieldError(e.field, e.message) for e in exc.errors]) from exc
    ensure_default_rules(session=session, clinic=clinic)
    current = session.scalar(select(func.max(ClinicRule.version)).where(
        ClinicRule.clinic_id == clinic.id, ClinicRule.code == rule.code)) or 0
    row = ClinicRule(clinic_id=clinic.id, code=rule.code, version=current + 1, definition=rule.to_dict(),
                     created_by=created_by)
    session.add(row)
    session.flush()
    return row
