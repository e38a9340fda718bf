"""A project's family of measures and the committee's manual series (entered, edited and audited)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core.audit import record_audit
from core.db import utcnow
from core.errors import FieldErrors
from core.i18n import N_
from core.models import AuditAction
from core.security import Principal
from pdca.enums import MANUAL_CHARTS, Direction, Frequency, MeasureRole, MeasureSource
from pdca.metrics import catalogue, start_of
from pdca.models import ImprovementProject, ManualValue, ProjectMeasure
from pdca.service import parse
from pdca.service.errors import MeasureNotFound

NAME_MAX = 160


@dataclass
class MeasureSpec:
    """A measure as the committee described it, checked but not stored yet."""

    role: MeasureRole
    source: MeasureSource
    name: str
    chart: str
    unit: str
    direction: Direction
    frequency: Frequency
    metric_code: str = ""
    options: dict[str, str] = field(default_factory=dict)
    numerator: str = ""
    denominator: str = ""
    target: float | None = None


def bounds(chart: str, metric_code: str = "") -> tuple[float | None, float | None]:
    """The range a value of this measure can take, in its display unit."""
    if chart == "p":
        return 0.0, 100.0
    if metric_code == "nps":
        return -100.0, 100.0
    if chart in ("u", "c") or metric_code == "time_to_first_attempt":
        return 0.0, None
    return None, None


def parse_measure(values: Mapping[str, Any], errors: FieldErrors, *,
                  role: MeasureRole | None = None) -> MeasureSpec | None:
    """Check a measure's fields (a catalogue metric with its options, or a manual series' definition)."""
    chosen_role = role
    if chosen_role is None:
        picked_role = parse.choice(values, "role", errors, {m.value for m in MeasureRole},
                                   required=N_("Choose whether this is an outcome, process or balancing measure."))
        chosen_role = MeasureRole(picked_role) if picked_role else None
    source = parse.choice(values, "source", errors, {s.value for s in MeasureSource},
                          required=N_("Choose a platform measure or a series you will enter."), default="catalogue")
    target = parse.number(values, "measure_target", errors)
    if source == MeasureSource.catalogue:
        entries = catalogue()
        code = parse.choice(values, "metric_code", errors, entries, required=N_("Choose a measure from the list."))
        if code is None or chosen_role is None:
            return None
        metric = entries[code]
        if not metric.available:
            errors.add("metric_code", "This measure is not available on this installation yet.")
            return None
        frequency = parse.choice(values, "frequency", errors, {f.value for f in metric.frequencies},
                                 required=N_("This measure is computed monthly only."), default=metric.frequency.value)
        options: dict[str, str] = {}
        for option in metric.options:
            picked = parse.choice(values, f"option_{option.name}", errors, {v for v, _ in option.choices},
                                  default=option.choices[0][0])
            if picked:
                options[option.name] = picked
        if frequency is None:
            return None
        _check_target(target, metric.chart, code, errors)
        return MeasureSpec(role=chosen_role, source=MeasureSource.catalogue, name=metric.title, chart=metric.chart,
                           unit=metric.unit, direction=metric.direction, frequency=Frequency(frequency),
                           metric_code=code, options=options, numerator=metric.numerator,
                           denominator=metric.denominator, target=target)
    if source is None:
        return None
    name = parse.text(values, "name", errors, required=N_("Give the measure a name."), max_length=NAME_MAX)
    chart = parse.choice(values, "chart", errors, MANUAL_CHARTS, required=N_("Choose how the series is charted."))
    unit = parse.text(values, "unit", errors, max_length=40)
    direction = parse.choice(values, "direction", errors, {d.value for d in Direction},
                             required=N_("Say whether higher or lower is better."))
    frequency = parse.choice(values, "frequency", errors, {f.value for f in Frequency},
                             required=N_("Choose weekly or monthly."))
    numerator = parse.text(values, "numerator", errors, required=N_("Say what is counted or measured each period."))
    denominator = parse.text(values, "denominator", errors)
    if chart in ("p", "u") and not denominator:
        errors.add("denominator", "Say what the count is out of (the denominator) for this chart.")
    if chart is not None:
        _check_target(target, chart, "", errors)
    if None in (chosen_role, chart, direction, frequency) or not name or not numerator:
        return None
    return MeasureSpec(role=chosen_role, source=MeasureSource.manual, name=name, chart=chart,  # type: ignore[arg-type]
                       unit=unit or ("%" if chart == "p" else ""), direction=Direction(direction),  # type: ignore[arg-type]
                       frequency=Frequency(frequency), numerator=numerator,  # type: ignore[arg-type]
                       denominator=denominator if chart != "c" else "", target=target)


def _check_target(target: float | None, chart: str, code: str, errors: FieldErrors) -> None:
    lo, hi = bounds(chart, code)
    if target is not None and ((lo is not None and target < lo) or (hi is not None and target > hi)):
        errors.add("measure_target", "Enter a value between %(min)s and %(max)s.", min=parse.plain_number(lo),
                   max=parse.plain_number(hi) if hi is not None else "∞")


def store_measure(*, session: Session, project: ImprovementProject, spec: MeasureSpec,
                  actor_id: int | None) -> ProjectMeasure:
    measure = ProjectMeasure(
        project_id=project.id, clinic_id=project.clinic_id, role=spec.role, source=spec.source,  # type: ignore[arg-type]
        metric_code=spec.metric_code, options=spec.options, name=spec.name, chart=spec.chart, unit=spec.unit,
        direction=spec.direction, frequency=spec.frequency, numerator=spec.numerator,
        denominator=spec.denominator, target=spec.target, created_by=actor_id,
    )
    session.add(measure)
    session.flush()
    return measure


def add_measure(*, session: Session, project: ImprovementProject, values: Mapping[str, Any],
                actor_id: int | None) -> ProjectMeasure:
    errors = FieldErrors()
    spec = parse_measure(values, errors)
    errors.raise_if_any()
    assert spec is not None
    return store_measure(session=session, project=project, spec=spec, actor_id=actor_id)


def get_measure(*, session: Session, clinic_id: int, measure_id: int) -> ProjectMeasure:
    measure = session.get(ProjectMeasure, measure_id)
    if measure is None or measure.clinic_id != clinic_id:
        raise MeasureNotFound()
    return measure


def project_measures(*, session: Session, project_id: int) -> list[ProjectMeasure]:
    order = {MeasureRole.outcome: 0, MeasureRole.process: 1, MeasureRole.balancing: 2}
    rows = session.scalars(select(ProjectMeasure).where(ProjectMeasure.project_id == project_id)
                           .order_by(ProjectMeasure.id)).all()
    return sorted(rows, key=lambda m: order.get(MeasureRole(m.role), 3))


# --- manual series -------------------------------------------------------------------------------------------


def manual_values(*, session: Session, measure_id: int) -> list[ManualValue]:
    return list(session.scalars(select(ManualValue).where(ManualValue.measure_id == measure_id)
                                .order_by(ManualValue.period_start.desc())).all())


def save_manual_value(*, session: Session, measure: ProjectMeasure, values: Mapping[str, Any], principal: Principal,
                      today: date, client_address: str = "") -> ManualValue:
    """Enter or correct one period of a manual series; the period is the week or month holding the given day.
    Every entry and correction leaves an audit row with the old and new numbers."""
    errors = FieldErrors()
    if measure.source != MeasureSource.manual:
        errors.add("value", "This measure is computed by the platform; its values cannot be entered.")
        errors.raise_if_any()
    raw_period = str(values.get("period") or "").strip()
    if len(raw_period) == 7:  # a month input sends YYYY-MM
        raw_period += "-01"
    day = parse.day({"period": raw_period}, "period", errors, required=N_("Choose the week or month."))
    if day is not None and start_of(day, measure.frequency) > today:
        errors.add("period", "This period has not started yet.")
    chart = measure.chart
    lo = 0.0 if chart in ("p", "u", "c") else None
    value = parse.number(values, "value", errors, required=N_("Enter the value for this period."), minimum=lo)
    denominator = parse.number(values, "denominator", errors,
                               required=N_("Enter the denominator for this period.") if chart in ("p", "u") else None)
    if denominator is not None and chart == "c":
        errors.add("denominator", "A count (c chart) has no denominator; leave it empty.")
    elif denominator is not None and denominator <= 0:
        errors.add("denominator", "The denominator must be above zero.")
    elif chart == "p" and value is not None and denominator is not None and value > denominator:
        errors.add("value", "The count cannot be larger than its denominator.")
    note = parse.text(values, "note", errors, max_length=200)
    errors.raise_if_any()
    assert day is not None and value is not None
    start = start_of(day, measure.frequency)
    row = session.scalar(select(ManualValue).where(ManualValue.measure_id == measure.id,
                                                   ManualValue.period_start == start))
    if row is None:
        row = ManualValue(measure_id=measure.id, period_start=start, value=value, denominator=denominator, note=note,  # type: ignore[arg-type]
                          entered_by=principal.user_id, updated_by=principal.user_id)
        session.add(row)
        action, detail = AuditAction.create, f"{start} value={value} denominator={denominator}"
    else:
        detail = (f"{start} value {row.value}→{value} denominator {row.denominator}→{denominator}")
        row.value, row.denominator, row.note = value, denominator, note
        row.updated_by, row.updated_at = principal.user_id, utcnow()
        action = AuditAction.update
    session.flush()
    record_audit(session=session, action=action, object_type="pdca_manual_value", object_id=row.id,
                 principal=principal, client_address=client_address, detail=f"measure {measure.id}: {detail}")
    return row
