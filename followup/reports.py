"""The patient follow-up summary: who the patient is, their readings over a period (figures, charts, table) and
the alerts and callbacks of that period with every call attempt and outcome — printed for a visit or attached
to a referral letter. Registered as the `patient_summary` report kind (core/reports.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from statistics import mean
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from clinic.models import Patient, StaffUser
from clinic.service import PatientNotFound, get_patient, patient_timezone
from core import i18n
from core.db import utcnow
from core.errors import FieldErrors, ValidationFailed
from core.i18n import N_
from core.reports import PATIENT_SUMMARY, register_report
from core.security import STAFF_ROLES
from followup.callbacks.outcomes import LABELS as CALLBACK_LABELS
from followup.callbacks.queue import events_for, reason_in, staff_names
from followup.charts import HOME_BP_TARGET, TimeWindow, glucose_targets, glucose_value, weight_unit, weight_value
from followup.enums import GlucoseContext, MeterFlag, ReadingKind
from followup.models import Callback, CallbackStatus, Reading
from followup.routes.readings.form import kinds_for
from followup.routes.readings.views import CONTEXT_LABELS, KIND_LABELS, Words, chart, shown_number
from followup.service import clinic_of, list_readings

DEFAULT_DAYS = 90
MIN_DAYS, MAX_DAYS = 7, 730
TABLE_LIMIT = 1500  # four readings a day for a year fit; beyond that the table says how many it left out
LOW_GLUCOSE_MMOL = Decimal("3.9")  # level 1 hypoglycaemia (clinical-rules.md §1.3)
TITLE = N_("Follow-up summary")


@dataclass(frozen=True)
class Figure:
    """One line of the "period in numbers" table; every text already in the reader's language."""

    kind: str
    count: int
    latest: str
    latest_at: datetime | None
    average: str
    spread: str
    in_target: str


@dataclass(frozen=True)
class DiaryDay:
    """One local day of the readings table: per kind shown, that day's readings, earliest first."""

    day: date
    cells: list[list[str]]


@dataclass(frozen=True)
class Attempt:
    at: datetime
    outcome: str
    by: str
    note: str


@dataclass(frozen=True)
class CallbackLine:
    callback: Callback
    severity: str
    reason: str
    attempts: list[Attempt]
    outcome: str
    handled_by: str
    escalated: bool


def parse_period(params: Mapping[str, Any], *, today: date) -> tuple[int, date]:
    """(days, last day) from the params; raise ValidationFailed naming the field at fault."""
    errors = FieldErrors()
    raw_days = str(params.get("days") or DEFAULT_DAYS).strip()
    days = int(raw_days) if raw_days.isdigit() else 0
    if not MIN_DAYS <= days <= MAX_DAYS:
        errors.add("days", "Choose a period of %(min)s to %(max)s days.", min=MIN_DAYS, max=MAX_DAYS)
    end = today
    if params.get("end"):
        try:
            end = date.fromisoformat(str(params["end"]))
        except ValueError:
            errors.add("end", "Enter the last day as YYYY-MM-DD.")
    errors.raise_if_any()
    return days, end


def build_patient_summary(session: Session, clinic_id: int, params: Mapping[str, Any],
                          language: str) -> tuple[str, dict[str, Any], str]:
    """The report builder: (template, context, title) for one patient of `clinic_id` (else PatientNotFound)."""
    raw_id = str(params.get("patient_id", ""))
    if not raw_id.isdigit():
        raise PatientNotFound()
    patient = get_patient(session=session, clinic_id=clinic_id, patient_id=int(raw_id))
    clinic = clinic_of(session=session, patient=patient)
    tz = patient_timezone(patient=patient, clinic=clinic)
    words = Words(language, tz)
    now = utcnow()
    days, end = parse_period(params, today=now.astimezone(tz).date())
    start = end - timedelta(days=days - 1)
    since = datetime.combine(start, time(0), tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
    readings, total = list_readings(session=session, patient_id=patient.id, since=since, until=until,
                                    per_page=TABLE_LIMIT)
    window = TimeWindow(since, min(until, max(now, since + timedelta(hours=1))), tz, words.day)
    kinds = _kinds_shown(patient, readings)
    doctor = session.get(StaffUser, patient.family_doctor_id) if patient.family_doctor_id else None
    title = words(TITLE)
    period_label = words(N_("%(start)s – %(end)s (%(days)s days)"), start=i18n.format_date(start, language),
                         end=i18n.format_date(end, language), days=days)
    return "followup/patient_summary.pdf.html", {
        "clinic_name": clinic.name, "tz": tz, "period_label": period_label,
        "period_key": f"{start.isoformat()}/{end.isoformat()}", "patient_id": patient.id, "confidential": True,
        "filename": f"{title} {patient.name} {end.isoformat()}.pdf",
        "patient": patient, "age": age_on(patient.date_of_birth, end), "doctor": doctor,
        "figures": [figure_for(k, [r for r in readings if r.kind == k], words=words,
                               glucose_unit=str(patient.glucose_unit)) for k in kinds],
        "charts": [chart(k, [r for r in readings if r.kind == k], words=words, window=window,
                         glucose_unit=str(patient.glucose_unit), id_prefix=f"summary-{k.value}") for k in kinds],
        "columns": [diary_heading(k, readings, words=words, glucose_unit=str(patient.glucose_unit)) for k in kinds],
        "diary": diary(readings, kinds=kinds, words=words, glucose_unit=str(patient.glucose_unit)),
        "shown": len(readings), "total": total,
        "callbacks": callback_lines(session=session, patient=patient, since=since, until=until, words=words),
        "days": days,
    }, title


def age_on(born: date | None, day: date) -> int | None:
    if born is None:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _kinds_shown(patient: Patient, readings: Sequence[Reading]) -> list[ReadingKind]:
    """The programme's kinds first (blood pressure first for hypertension), then whatever else was measured."""
    measured = {r.kind for r in readings}
    ordered = kinds_for([str(p) for p in patient.programmes]) + list(ReadingKind)
    return [k for i, k in enumerate(ordered) if k in measured and k not in ordered[:i]]


def figure_for(kind: ReadingKind, readings: Sequence[Reading], *, words: Words, glucose_unit: str) -> Figure:
    """Count, latest, average, range and time in target of one kind (readings newest first)."""
    latest = readings[0] if readings else None
    label = words(KIND_LABELS[kind])
    shown_latest = words.value(latest) if latest else "—"
    at = latest.taken_at if latest else None
    if kind == ReadingKind.blood_pressure:
        pairs = [(r.systolic, r.diastolic) for r in readings if r.systolic and r.diastolic]
        if not pairs:
            return Figure(label, len(readings), shown_latest, at, "—", "—", "—")
        systolic, diastolic = [p[0] for p in pairs], [p[1] for p in pairs]
        at_target = sum(1 for s, d in pairs if s < HOME_BP_TARGET[0] and d < HOME_BP_TARGET[1])
        return Figure(
            label, len(readings), shown_latest, at, f"{round(mean(systolic))}/{round(mean(diastolic))} mmHg",
            f"{min(systolic)}–{max(systolic)} / {min(diastolic)}–{max(diastolic)} mmHg",
            words(N_("%(share)s%% below %(sys)s/%(dia)s"), share=_percent(at_target, len(pairs)),
                  sys=HOME_BP_TARGET[0], dia=HOME_BP_TARGET[1]))
    if kind == ReadingKind.glucose:
        return _glucose_figure(label, readings, shown_latest, at, words=words, unit=glucose_unit)
    if kind == ReadingKind.weight:
        unit = weight_unit(readings)
        values = [v for r in readings if (v := weight_value(r, unit)) is not None]
        unit_text = words.unit(unit)
    else:
        values = [float(r.value_original) for r in readings if r.value_original is not None]
        unit_text = words.unit("/min")
    if not values:
        return Figure(label, len(readings), shown_latest, at, "—", "—", "—")
    change = ""
    if kind == ReadingKind.weight and len(values) > 1:  # newest first: the change over the period
        change = words(N_("change %(change)s %(unit)s"), change=f"{values[0] - values[-1]:+.1f}", unit=unit_text)
    return Figure(label, len(readings), shown_latest, at, f"{mean(values):.1f} {unit_text}",
                  f"{min(values):g}–{max(values):g} {unit_text}", change or "—")


def _glucose_figure(label: str, readings: Sequence[Reading], latest: str, at: datetime | None, *, words: Words,
                    unit: str) -> Figure:
    low, high, _limit = glucose_targets(unit)
    values = [v for r in readings if (v := glucose_value(r, unit)) is not None]
    fasting = [v for r in readings if r.context == GlucoseContext.fasting
               and (v := glucose_value(r, unit)) is not None]
    lows = sum(1 for r in readings if r.meter_flag == MeterFlag.lo or (
        r.meter_flag is None and r.value_canonical is not None and Decimal(r.value_canonical) < LOW_GLUCOSE_MMOL))
    if not values:
        return Figure(label, len(readings), latest, at, "—", "—", "—")
    digits = 1 if unit == "mmol/L" else 0
    in_target = (words(N_("fasting %(share)s%% in %(low)s–%(high)s"), share=_percent(
        sum(1 for v in fasting if low <= v <= high), len(fasting)), low=f"{low:g}", high=f"{high:g}")
        if fasting else words(N_("no fasting readings")))
    if lows:
        in_target += "; " + words(N_("%(n)s low (under %(limit)s mmol/L)"), n=lows, limit=LOW_GLUCOSE_MMOL)
    average = (words(N_("fasting %(value)s"), value=f"{mean(fasting):.{digits}f}") if fasting
               else f"{mean(values):.{digits}f}")
    return Figure(label, len(readings), latest, at, f"{average} {unit}",
                  f"{min(values):g}–{max(values):g} {unit}", in_target)


def diary_heading(kind: ReadingKind, readings: Sequence[Reading], *, words: Words, glucose_unit: str) -> str:
    unit = {ReadingKind.blood_pressure: "mmHg", ReadingKind.glucose: glucose_unit, ReadingKind.heart_rate: "/min",
            ReadingKind.weight: weight_unit([r for r in readings if r.kind == kind])}[kind]
    return f"{words(KIND_LABELS[kind])} ({words.unit(unit)})"


def diary(readings: Sequence[Reading], *, kinds: Sequence[ReadingKind], words: Words,
          glucose_unit: str) -> list[DiaryDay]:
    """The readings as a diary, newest day first: a doctor scans a day's values across a row, and a day's
    several readings share one cell ("07:30 6.1 Fasting"), which keeps 90 days to a few pages."""
    weights = weight_unit([r for r in readings if r.kind == ReadingKind.weight])
    days: dict[date, dict[ReadingKind, list[str]]] = {}
    for r in sorted(readings, key=lambda r: (r.taken_at, r.id or 0)):
        local = r.taken_at.astimezone(words.tz)
        text = f"{local:%H:%M} {_diary_value(r, words, glucose_unit, weights)}"
        if r.kind == ReadingKind.glucose and r.context:
            text += f" {words(CONTEXT_LABELS[r.context])}"
        days.setdefault(local.date(), {}).setdefault(r.kind, []).append(text)
    return [DiaryDay(day, [days[day].get(k, []) for k in kinds]) for day in sorted(days, reverse=True)]


def _diary_value(reading: Reading, words: Words, glucose_unit: str, weights: str) -> str:
    if reading.kind == ReadingKind.blood_pressure:
        return f"{reading.systolic}/{reading.diastolic}"
    if reading.meter_flag is not None:
        return str(reading.meter_flag).upper()
    if reading.kind == ReadingKind.glucose:
        if reading.unit_original == glucose_unit:
            return str(shown_number(reading))
        value = glucose_value(reading, glucose_unit)
        return "—" if value is None else (f"{value:.1f}" if glucose_unit == "mmol/L" else f"{value:.0f}")
    if reading.kind == ReadingKind.weight:
        value = weight_value(reading, weights)
        return "—" if value is None else f"{value:g}"
    return str(shown_number(reading))


def _percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def callback_lines(*, session: Session, patient: Patient, since: datetime, until: datetime,
                   words: Words) -> list[CallbackLine]:
    """Callbacks opened in the period, and any still open from before it, newest first, with their calls."""
    callbacks = list(session.scalars(select(Callback).where(
        Callback.patient_id == patient.id, Callback.clinic_id == patient.clinic_id, Callback.opened_at < until,
        or_(Callback.opened_at >= since, Callback.status == CallbackStatus.open),
    ).order_by(Callback.opened_at.desc(), Callback.id.desc())))
    history = events_for(session=session, callback_ids=[c.id for c in callbacks], kinds=["attempt"])
    names = staff_names(session=session, ids=[e.actor_id for events in history.values() for e in events]
                        + [c.closed_by for c in callbacks] + [c.assigned_to for c in callbacks])
    lines = []
    for cb in callbacks:
        attempts = [Attempt(e.at, _attempt_text(e.detail, words), names.get(e.actor_id or 0, ""),
                            str(e.detail.get("note") or "")) for e in history.get(cb.id, [])]
        lines.append(CallbackLine(
            callback=cb, severity=words(CALLBACK_LABELS[str(cb.severity)]), reason=reason_in(cb, words.language),
            attempts=attempts, outcome=_outcome_text(cb, words), escalated=cb.escalated_at is not None,
            handled_by=names.get(cb.closed_by or cb.assigned_to or 0, "")))
    return lines


def _label(words: Words, key: str | None) -> str:
    return words(CALLBACK_LABELS[key]) if key in CALLBACK_LABELS else (key or "")


def _attempt_text(detail: Mapping[str, Any], words: Words) -> str:
    outcome = _label(words, detail.get("outcome"))
    result = detail.get("result")
    return f"{outcome} — {_label(words, result)}" if result else outcome


def _outcome_text(callback: Callback, words: Words) -> str:
    if callback.status == CallbackStatus.open:
        return words(N_("Open"))
    return f"{_label(words, callback.outcome)} — {_label(words, callback.close_reason)}" if callback.close_reason \
        else _label(words, callback.outcome)


def _clinic_of(session: Session, params: Mapping[str, Any]) -> int | None:
    raw = str(params.get("patient_id", ""))
    patient = session.get(Patient, int(raw)) if raw.isdigit() else None
    return patient.clinic_id if patient is not None else None


def _period_key(params: Mapping[str, Any]) -> str:
    """Known before rendering only when the last day is given; otherwise the builder names it."""
    try:
        days, end = parse_period(params, today=date.today())
    except ValidationFailed:
        return ""
    return f"{(end - timedelta(days=days - 1)).isoformat()}/{end.isoformat()}" if params.get("end") else ""


register_report(PATIENT_SUMMARY, build_patient_summary, label=TITLE, roles=STAFF_ROLES, period=_period_key,
                clinic_of=_clinic_of)
