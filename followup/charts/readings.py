"""Charts of stored readings: glucose over its target band, blood pressure, weight and heart rate.

Callers pass every word (translated) and a `tip` that labels one reading, so this stays free of i18n.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from followup.charts.svg import (
    BLUE,
    GREEN,
    PURPLE,
    VERMILION,
    Band,
    ChartPoint,
    ChartTexts,
    RefLine,
    Series,
    TimeWindow,
    render_chart,
)
from followup.enums import GlucoseContext, ReadingKind
from followup.models import Reading
from followup.units import KG_PER_JIN, KG_PER_LB, Unit, convert_glucose

# Capillary glucose targets (clinical-rules.md §1.3: FPG 4.4–7.0 mmol/L, non-fasting <10.0); the mg/dL
# figures are the ones guidelines print (80–126, 180), not a rounding of the mmol/L ones.
GLUCOSE_TARGETS = {Unit.mmol_l: (4.4, 7.0, 10.0), Unit.mg_dl: (80.0, 126.0, 180.0)}
HOME_BP_TARGET = (135, 85)  # home equivalent of the office 140/90 (CN-HTN-03)

Tip = Callable[[Reading], str]


def glucose_targets(unit: str) -> tuple[float, float, float]:
    """(fasting low, fasting high, non-fasting high) in `unit`."""
    return GLUCOSE_TARGETS[Unit(unit)]


def glucose_value(reading: Reading, unit: str) -> float | None:
    """The reading in the chart's unit: as sent when it matches, else converted from the canonical mmol/L."""
    if reading.meter_flag is not None:
        return None
    if reading.unit_original == unit and reading.value_original is not None:
        return float(reading.value_original)
    if reading.value_canonical is None:
        return None
    return float(convert_glucose(Decimal(reading.value_canonical), from_unit=Unit.mmol_l, to_unit=Unit(unit)))


def glucose_chart(
    readings: Sequence[Reading], *, unit: str, texts: ChartTexts, window: TimeWindow, fasting_label: str,
    other_label: str, target_label: str, limit_label: str, tip: Tip, compact: bool = False,
    id_prefix: str = "glucose",
) -> str:
    """Fasting values (joined) and other timings (unjoined), over the fasting target band and the
    non-fasting upper target, all in the patient's unit."""
    low, high, limit = glucose_targets(unit)

    def points(fasting: bool) -> list[ChartPoint]:
        return [ChartPoint(r.taken_at, glucose_value(r, unit), tip(r), r.meter_flag) for r in readings
                if r.kind == ReadingKind.glucose and (r.context == GlucoseContext.fasting) == fasting]

    return render_chart(
        series=[Series(fasting_label, points(True), BLUE, "circle"),
                Series(other_label, points(False), VERMILION, "diamond", connect=False)],
        texts=texts, window=window, bands=[Band(low, high, target_label)], lines=[RefLine(limit, limit_label)],
        compact=compact, id_prefix=id_prefix,
    )


def blood_pressure_chart(
    readings: Sequence[Reading], *, texts: ChartTexts, window: TimeWindow, systolic_label: str,
    diastolic_label: str, target_label: str, tip: Tip, target: tuple[int, int] = HOME_BP_TARGET,
    compact: bool = False, id_prefix: str = "bp",
) -> str:
    bp = [r for r in readings if r.kind == ReadingKind.blood_pressure]
    return render_chart(
        series=[Series(systolic_label, [ChartPoint(r.taken_at, r.systolic, tip(r)) for r in bp], VERMILION, "circle"),
                Series(diastolic_label, [ChartPoint(r.taken_at, r.diastolic, tip(r)) for r in bp], BLUE, "square")],
        texts=texts, window=window, lines=[RefLine(target[0], target_label), RefLine(target[1], target_label)],
        compact=compact, id_prefix=id_prefix,
    )


def weight_unit(readings: Sequence[Reading]) -> str:
    """The unit of the latest weight reading: the one the patient uses now (kg, jin or lb)."""
    latest = max((r for r in readings if r.kind == ReadingKind.weight), key=lambda r: r.taken_at, default=None)
    return latest.unit_original if latest is not None else Unit.kg.value


def weight_value(reading: Reading, unit: str) -> float | None:
    if reading.unit_original == unit and reading.value_original is not None:
        return float(reading.value_original)
    if reading.value_canonical is None:
        return None
    per_unit = {Unit.kg.value: Decimal(1), Unit.jin.value: KG_PER_JIN, Unit.lb.value: KG_PER_LB}[unit]
    return round(float(Decimal(reading.value_canonical) / per_unit), 1)


def single_value_chart(
    readings: Sequence[Reading], *, kind: ReadingKind, texts: ChartTexts, window: TimeWindow, label: str, tip: Tip,
    unit: str | None = None, compact: bool = False, id_prefix: str | None = None,
) -> str:
    """Weight (in `unit`, default the latest reading's) or heart rate, one joined line."""
    chosen = [r for r in readings if r.kind == kind]
    if kind == ReadingKind.weight:
        shown = unit or weight_unit(chosen)
        points = [ChartPoint(r.taken_at, weight_value(r, shown), tip(r)) for r in chosen]
        series = Series(label, points, GREEN, "square")
    elif kind == ReadingKind.heart_rate:
        points = [ChartPoint(r.taken_at, float(r.value_original) if r.value_original is not None else None, tip(r))
                  for r in chosen]
        series = Series(label, points, PURPLE, "circle")
    else:
        raise ValueError(f"{kind} has its own chart")
    return render_chart(series=[series], texts=texts, window=window,
                        compact=compact, id_prefix=id_prefix or str(kind))
