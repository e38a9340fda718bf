"""What the reading pages show: table rows in the unit sent, charts for a period, the confirmation text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from babel.dates import format_skeleton
from sqlalchemy import select
from sqlmodel import Session

from clinic.models import Patient, StaffUser
from core import i18n
from core.db import utcnow
from core.i18n import N_
from core.web import Page
from followup.charts import (
    ChartTexts,
    TimeWindow,
    blood_pressure_chart,
    glucose_chart,
    glucose_targets,
    glucose_value,
    single_value_chart,
    weight_unit,
    weight_value,
)
from followup.enums import (
    GlucoseContext,
    GlucoseQualifier,
    MeterFlag,
    ReadingKind,
    ReadingSource,
    ReplyTier,
    Severity,
)
from followup.models import Reading
from followup.replies import ReplyKind, compose_reply
from followup.routes.readings.form import kinds_for
from followup.service import last_reading_at, list_readings
from followup.units import CANONICAL_UNIT, Unit
from followup.validation import ResolvedReading

PERIODS = (14, 30, 90)
PER_PAGE = 20
CHART_LIMIT = 1000  # 90 days of four readings a day stay well under this
KIND_LABELS = {
    ReadingKind.blood_pressure: N_("Blood pressure"), ReadingKind.glucose: N_("Blood glucose"),
    ReadingKind.weight: N_("Weight"), ReadingKind.heart_rate: N_("Heart rate"),
}
CONTEXT_LABELS = {
    GlucoseContext.fasting: N_("Fasting"), GlucoseContext.before_meal: N_("Before a meal"),
    GlucoseContext.after_meal_1h: N_("1 hour after a meal"), GlucoseContext.after_meal_2h: N_("2 hours after a meal"),
    GlucoseContext.bedtime: N_("At bedtime"), GlucoseContext.random: N_("Other time"),
}
SOURCE_LABELS = {
    ReadingSource.sms: N_("SMS"), ReadingSource.web: N_("Web"), ReadingSource.staff: N_("Staff"),
    ReadingSource.api: N_("API"), ReadingSource.import_: N_("Import"),
}
SEVERITY_LABELS = {
    Severity.emergency: N_("Emergency"), Severity.urgent: N_("Urgent"), Severity.same_day: N_("Same day"),
    Severity.follow_up: N_("Follow-up"), Severity.routine: N_("Routine"),
}
UNIT_LABELS = {"/min": N_("beats/min"), "kg": N_("kg"), "jin": N_("jin"), "lb": N_("lb")}
FLAG_LABELS = {MeterFlag.hi: N_("HI (above what the meter can show)"),
               MeterFlag.lo: N_("LO (below what the meter can show)")}
# The SMS echo says the timing word the patient wrote; on the web the timing chosen stands for it.
_QUALIFIERS = {
    GlucoseContext.fasting: GlucoseQualifier.fasting, GlucoseContext.before_meal: GlucoseQualifier.premeal,
    GlucoseContext.after_meal_1h: GlucoseQualifier.pp1h, GlucoseContext.after_meal_2h: GlucoseQualifier.pp2h,
    GlucoseContext.bedtime: GlucoseQualifier.bedtime,
}
# Replies that tell the patient to act (call, re-check, eat sugar): shown large, with a call button.
ACTION_REPLIES = frozenset({ReplyKind.urgent_bp, ReplyKind.urgent_glucose_high, ReplyKind.urgent_low,
                            ReplyKind.same_day_low, ReplyKind.symptom})


def parse_days(raw: str | None) -> int:
    return int(raw) if raw in {str(p) for p in PERIODS} else PERIODS[0]


def reply_kind_for(tier: ReplyTier | None) -> ReplyKind:
    """The same reply the rules would have chosen for an SMS carrying these readings."""
    return ReplyKind.recorded if tier is None else ReplyKind(str(tier))


def confirmation_text(readings: Sequence[Reading], *, reply: ReplyKind, language: str, emergency_number: str) -> str:
    return compose_reply(kind=reply, language=language, emergency_number=emergency_number,
                         readings=[as_resolved(r) for r in readings], signature_length=0)


def as_resolved(reading: Reading) -> ResolvedReading:
    if reading.kind == ReadingKind.blood_pressure:
        values: tuple[Decimal, ...] = (Decimal(reading.systolic or 0), Decimal(reading.diastolic or 0))
    else:
        values = () if reading.value_original is None else (shown_number(reading),)
    return ResolvedReading(kind=reading.kind, values=values, unit=Unit(reading.unit_original),
                           canonical=(), context=reading.context, flag=reading.meter_flag,
                           qualifier=_QUALIFIERS.get(reading.context) if reading.context else None)


def shown_number(reading: Reading) -> Decimal:
    """The value as sent, written the way the meter writes it (7.2 mmol/L, 130 mg/dL, 65.5 kg)."""
    return _tidy(Decimal(reading.value_original or 0), reading.unit_original)


def _tidy(value: Decimal, unit: str) -> Decimal:
    if unit == Unit.mmol_l:
        return value.quantize(Decimal("0.1"))
    if unit in (Unit.mg_dl, Unit.mmhg, Unit.per_min):
        return value.quantize(Decimal("1"))
    normal = value.normalize()
    return normal.quantize(Decimal("1")) if normal == normal.to_integral_value() else normal


def readings_for_token(*, session: Session, patient_id: int, token: str) -> list[Reading]:
    """The readings one web form stored (its external ids are web:<token>:<n>)."""
    return list(session.scalars(select(Reading).where(
        Reading.patient_id == patient_id, Reading.external_id.like(f"web:{token}:%")).order_by(Reading.id)))


@dataclass(frozen=True)
class Row:
    reading: Reading
    kind: str
    value: str
    canonical: str
    context: str
    source: str
    by: str


class Words:
    """Translation and formatting in one language and time zone."""

    def __init__(self, language: str, tz: tzinfo) -> None:
        self.language, self.tz = language, tz

    def __call__(self, message: str, **params: Any) -> str:
        return i18n.gettext(self.language, message, **params)

    def unit(self, unit: str) -> str:
        return self(UNIT_LABELS[unit]) if unit in UNIT_LABELS else unit

    def value(self, reading: Reading) -> str:
        if reading.kind == ReadingKind.blood_pressure:
            return f"{reading.systolic}/{reading.diastolic} mmHg"
        if reading.meter_flag is not None:
            return self(FLAG_LABELS[reading.meter_flag])
        return f"{shown_number(reading)} {self.unit(reading.unit_original)}"

    def canonical(self, reading: Reading) -> str:
        canonical_unit = CANONICAL_UNIT[reading.kind]
        if reading.unit_original == canonical_unit or reading.value_canonical is None:
            return ""
        return f"{_tidy(Decimal(reading.value_canonical), canonical_unit)} {self.unit(canonical_unit)}"

    def when(self, at: datetime) -> str:
        return i18n.format_datetime(at, self.language, self.tz, fmt="short")

    def day(self, day: date) -> str:
        return format_skeleton("Md", day, locale=i18n.babel_locale(self.language))

    def tip(self, reading: Reading) -> str:
        context = f" ({self(CONTEXT_LABELS[reading.context])})" if reading.context else ""
        return f"{self.when(reading.taken_at)} — {self.value(reading)}{context}"


def table_rows(*, session: Session, readings: Sequence[Reading], words: Words) -> list[Row]:
    staff_ids = {r.entered_by_id for r in readings if r.entered_by_kind == "staff" and r.entered_by_id}
    names: dict[int | None, str] = {uid: name for uid, name in session.execute(
        select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(staff_ids)))} if staff_ids else {}
    rows = []
    for r in readings:
        by = names.get(r.entered_by_id, "") if r.entered_by_kind == "staff" else (
            words(N_("family member")) if r.entered_by_kind == "caregiver" else "")
        rows.append(Row(reading=r, kind=words(KIND_LABELS[r.kind]), value=words.value(r), canonical=words.canonical(r),
                        context=words(CONTEXT_LABELS[r.context]) if r.context else "",
                        source=words(SOURCE_LABELS[r.source]), by=by))
    return rows


def history(*, session: Session, patient: Patient, words: Words, days: int, kind: ReadingKind | None,
            page: int, now: datetime | None = None) -> dict[str, Any]:
    """Context of the history page: one chart per kind measured in the period, and the period's table."""
    now = now or utcnow()
    today = now.astimezone(words.tz).date()
    start = datetime.combine(today - timedelta(days=days - 1), time(0), tzinfo=words.tz)
    rows, total = list_readings(session=session, patient_id=patient.id, kind=kind, since=start, page=page,
                                per_page=PER_PAGE)
    in_period, _ = list_readings(session=session, patient_id=patient.id, kind=kind, since=start,
                                 per_page=CHART_LIMIT)
    window = TimeWindow(start, max(now, start + timedelta(hours=1)), words.tz, words.day)
    kinds = [k for k in kinds_for([str(p) for p in patient.programmes]) if kind in (None, k)]
    charts = [{"kind": k, "svg": chart(k, [r for r in in_period if r.kind == k], words=words, window=window,
                                       glucose_unit=str(patient.glucose_unit))}
              for k in kinds if any(r.kind == k for r in in_period)]
    return {"rows": table_rows(session=session, readings=rows, words=words), "page": Page(page, PER_PAGE, total),
            "charts": charts, "days": days, "periods": PERIODS, "kind": kind.value if kind else "",
            "kinds": kinds_for([str(p) for p in patient.programmes]), "kind_labels": KIND_LABELS,
            "ever": last_reading_at(session=session, patient_id=patient.id) is not None}


def chart(kind: ReadingKind, readings: Sequence[Reading], *, words: Words, window: TimeWindow,
          glucose_unit: str = Unit.mmol_l, compact: bool = False, id_prefix: str | None = None) -> str:
    """One kind's chart in the reader's language; `compact` is the small variant for callback cards.
    `id_prefix` keeps the SVG's ids unique when several charts of one kind share a page (one per card)."""
    prefix = id_prefix or f"{kind.value}{'-small' if compact else ''}"
    if kind == ReadingKind.glucose:
        low, high, limit = glucose_targets(glucose_unit)
        return glucose_chart(
            readings, unit=glucose_unit, texts=chart_texts(kind, readings, words=words, glucose_unit=glucose_unit),
            window=window,
            fasting_label=words(N_("Fasting")), other_label=words(N_("Other times")),
            target_label=words(N_("Fasting target %(low)s–%(high)s"), low=f"{low:g}", high=f"{high:g}"),
            limit_label=words(N_("After a meal: under %(limit)s"), limit=f"{limit:g}"), tip=words.tip, compact=compact,
            id_prefix=prefix)
    if kind == ReadingKind.blood_pressure:
        return blood_pressure_chart(
            readings, texts=chart_texts(kind, readings, words=words), window=window,
            systolic_label=words(N_("Upper (systolic)")), diastolic_label=words(N_("Lower (diastolic)")),
            target_label=words(N_("Home target 135/85")), tip=words.tip, compact=compact, id_prefix=prefix)
    unit = weight_unit(readings) if kind == ReadingKind.weight else Unit.per_min.value
    return single_value_chart(readings, kind=kind, texts=chart_texts(kind, readings, words=words), window=window,
                              label=words(KIND_LABELS[kind]), tip=words.tip, unit=unit, compact=compact,
                              id_prefix=prefix)


def chart_texts(kind: ReadingKind, readings: Sequence[Reading], *, words: Words,
                glucose_unit: str = Unit.mmol_l) -> ChartTexts:
    """The chart's title and its description in words (also the alt text of a chart served as an image)."""
    if kind == ReadingKind.glucose:
        unit, numbers = glucose_unit, [v for r in readings if (v := glucose_value(r, glucose_unit)) is not None]
    elif kind == ReadingKind.blood_pressure:
        unit, numbers = "mmHg", []
    elif kind == ReadingKind.weight:
        shown_in = weight_unit(readings)
        unit, numbers = words.unit(shown_in), [v for r in readings if (v := weight_value(r, shown_in)) is not None]
    else:
        unit = words.unit(Unit.per_min.value)
        numbers = [float(r.value_original) for r in readings if r.value_original is not None]
    return _texts(words, kind, readings, unit, numbers)


def _texts(words: Words, kind: ReadingKind, readings: Sequence[Reading], unit: str,
           numbers: Sequence[float]) -> ChartTexts:
    """The screen-reader description says what a sighted reader gets from the chart: how many, over what
    time, the range and the latest value."""
    newest = max(readings, key=lambda r: r.taken_at)
    first, last = words.when(min(r.taken_at for r in readings)), words.when(newest.taken_at)
    # Two msgids rather than ngettext: the catalogs hold English and Chinese, and Chinese has no plural.
    description = (words(N_("%(kind)s: 1 reading, taken %(end)s."), kind=words(KIND_LABELS[kind]), end=last)
                   if len(readings) == 1 else
                   words(N_("%(kind)s: %(num)s readings from %(start)s to %(end)s."), kind=words(KIND_LABELS[kind]),
                         num=len(readings), start=first, end=last))
    description += " " + words(N_("Latest: %(value)s."), value=words.value(newest))
    if len(set(numbers)) > 1:
        description += " " + words(N_("Lowest %(low)s, highest %(high)s %(unit)s."), low=f"{min(numbers):g}",
                                   high=f"{max(numbers):g}", unit=unit)
    return ChartTexts(title=words(KIND_LABELS[kind]), description=description, unit=unit,
                      flagged=words(N_("Meter showed HI or LO")))
