"""Units of home readings: what patients type, canonical values, glucose conversion, UCUM, plausibility."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType

from followup.enums import ReadingKind


class Unit(StrEnum):
    # Values are the display spellings the rules engine also uses ("mmol/L", "mg/dL", "mmHg", "/min", "kg").
    mmol_l = "mmol/L"
    mg_dl = "mg/dL"
    mmhg = "mmHg"
    per_min = "/min"
    kg = "kg"
    jin = "jin"  # 斤, 0.5 kg: the weight unit of everyday Chinese
    lb = "lb"


GLUCOSE_MGDL_PER_MMOL = Decimal("18.016")  # 180.156 g/mol / 10 (clinical-rules.md §2.3)
KG_PER_JIN = Decimal("0.5")
KG_PER_LB = Decimal("0.45359237")

GLUCOSE_UNITS = frozenset({Unit.mmol_l, Unit.mg_dl})
WEIGHT_UNITS = frozenset({Unit.kg, Unit.jin, Unit.lb})

CANONICAL_UNIT: MappingProxyType[ReadingKind, Unit] = MappingProxyType({
    ReadingKind.glucose: Unit.mmol_l,
    ReadingKind.blood_pressure: Unit.mmhg,
    ReadingKind.heart_rate: Unit.per_min,
    ReadingKind.weight: Unit.kg,
})

# 斤 has no UCUM code: a jin reading is sent on as kg (FHIR ucum-bodyweight value set: kg, [lb_av], g).
UCUM_CODES: MappingProxyType[Unit, str] = MappingProxyType({
    Unit.mmol_l: "mmol/L",
    Unit.mg_dl: "mg/dL",
    Unit.mmhg: "mm[Hg]",
    Unit.per_min: "/min",
    Unit.kg: "kg",
    Unit.lb: "[lb_av]",
})

# What patients type (already NFKC-normalised and lower-cased by the grammar) → unit.
_TYPED_UNITS: MappingProxyType[str, Unit] = MappingProxyType({
    "mmol/l": Unit.mmol_l, "mmol": Unit.mmol_l, "毫摩尔": Unit.mmol_l,
    "mg/dl": Unit.mg_dl, "mgdl": Unit.mg_dl, "mg": Unit.mg_dl,
    "kg": Unit.kg, "公斤": Unit.kg, "千克": Unit.kg,
    "斤": Unit.jin, "jin": Unit.jin,
    "lb": Unit.lb, "lbs": Unit.lb, "磅": Unit.lb,
    "mmhg": Unit.mmhg, "mm[hg]": Unit.mmhg, "/min": Unit.per_min, "bpm": Unit.per_min,
    # UCUM codes, as FHIR and the API send them.
    "[lb_av]": Unit.lb,
})


def normalise_unit(typed: str) -> Unit | None:
    """The unit a patient meant by `typed` ("mmol", "毫摩尔", "公斤", "lbs"…), or None when unknown."""
    return _TYPED_UNITS.get(typed.strip().lower().replace(" ", ""))


def ucum_code(unit: Unit) -> str | None:
    return UCUM_CODES.get(unit)


def round_glucose(value: Decimal, unit: Unit) -> Decimal:
    """mmol/L is written with one decimal, mg/dL as an integer (clinical-rules.md §2.3)."""
    step = Decimal("0.1") if Unit(unit) is Unit.mmol_l else Decimal("1")
    return value.quantize(step, rounding=ROUND_HALF_UP)


def convert_glucose(value: Decimal, *, from_unit: Unit, to_unit: Unit) -> Decimal:
    """Glucose in `to_unit`, rounded to that unit's precision. Thresholds are compared in the unit the
    reading was sent in, so use this for storage and display, never to decide a boundary."""
    from_unit, to_unit = Unit(from_unit), Unit(to_unit)  # plain "mmol/L" strings are welcome too
    if from_unit not in GLUCOSE_UNITS or to_unit not in GLUCOSE_UNITS:
        raise ValueError(f"not a glucose unit: {from_unit} → {to_unit}")
    if from_unit is to_unit:
        exact = value
    elif to_unit is Unit.mg_dl:
        exact = value * GLUCOSE_MGDL_PER_MMOL
    else:
        exact = value / GLUCOSE_MGDL_PER_MMOL
    return round_glucose(exact, to_unit)


def to_kg(value: Decimal, unit: Unit) -> Decimal:
    """Body weight in kg, one decimal."""
    factor = {Unit.kg: Decimal(1), Unit.jin: KG_PER_JIN, Unit.lb: KG_PER_LB}.get(Unit(unit))
    if factor is None:
        raise ValueError(f"not a weight unit: {unit}")
    return (value * factor).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def canonical_value(*, kind: ReadingKind, value: Decimal, unit: Unit) -> Decimal:
    """The value stored for comparison across readings: glucose mmol/L, BP mmHg, HR /min, weight kg."""
    unit = Unit(unit)
    if kind is ReadingKind.glucose:
        return convert_glucose(value, from_unit=unit, to_unit=Unit.mmol_l)
    if kind is ReadingKind.weight:
        return to_kg(value, unit)
    if unit is not CANONICAL_UNIT[kind]:
        raise ValueError(f"{kind} cannot be in {unit}")
    return value


class Plausibility(StrEnum):
    plausible = "plausible"
    confirm = "confirm"  # inside the hard bounds but unusual: accept and ask the patient to re-check
    reject = "reject"  # outside the hard bounds: never recorded, ask to re-measure


@dataclass(frozen=True)
class PlausibilityBounds:
    """Input bounds of clinical-rules.md §2.4 ([DESIGN] defaults a clinic may override); hard ranges are
    inclusive, soft limits strict ("SBP <70 or >250 → confirm")."""

    glucose_mmol_min: Decimal = Decimal("1.0")
    glucose_mmol_max: Decimal = Decimal("35.0")
    glucose_mgdl_min: Decimal = Decimal("18")
    glucose_mgdl_max: Decimal = Decimal("630")
    # Unit inference: an integer this large from a mmol/L patient is probably mg/dL; a value below
    # glucose_mmol_suspect_max from a mg/dL patient is probably mmol/L.
    glucose_mgdl_suspect_min: Decimal = Decimal("40")
    glucose_mmol_suspect_max: Decimal = Decimal("20")
    sbp_min: Decimal = Decimal("50")
    sbp_max: Decimal = Decimal("300")
    dbp_min: Decimal = Decimal("20")
    dbp_max: Decimal = Decimal("200")
    sbp_soft_min: Decimal = Decimal("70")
    sbp_soft_max: Decimal = Decimal("250")
    dbp_soft_min: Decimal = Decimal("40")
    dbp_soft_max: Decimal = Decimal("150")
    pulse_pressure_soft_min: Decimal = Decimal("10")
    hr_min: Decimal = Decimal("20")
    hr_max: Decimal = Decimal("250")
    hr_soft_min: Decimal = Decimal("40")
    hr_soft_max: Decimal = Decimal("150")
    weight_kg_min: Decimal = Decimal("20")
    weight_kg_max: Decimal = Decimal("300")


DEFAULT_BOUNDS = PlausibilityBounds()


@dataclass(frozen=True)
class PlausibilityVerdict:
    level: Plausibility
    reason: str | None = None  # short code naming the failed check, e.g. "sbp_range", "dbp_not_below_sbp"


_OK = PlausibilityVerdict(Plausibility.plausible)


def check_plausibility(
    *, kind: ReadingKind, values: tuple[Decimal, ...], unit: Unit, bounds: PlausibilityBounds = DEFAULT_BOUNDS
) -> PlausibilityVerdict:
    """Judge one reading against the hard and soft bounds; `values` is (systolic, diastolic) for BP."""
    unit = Unit(unit)
    if kind is ReadingKind.blood_pressure:
        return _check_bp(values, bounds)
    if len(values) != 1:
        return PlausibilityVerdict(Plausibility.reject, "value_count")
    (value,) = values
    if kind is ReadingKind.glucose:
        low, high = (
            (bounds.glucose_mmol_min, bounds.glucose_mmol_max)
            if unit is Unit.mmol_l
            else (bounds.glucose_mgdl_min, bounds.glucose_mgdl_max)
        )
        return _OK if low <= value <= high else PlausibilityVerdict(Plausibility.reject, "glucose_range")
    if kind is ReadingKind.heart_rate:
        if not bounds.hr_min <= value <= bounds.hr_max:
            return PlausibilityVerdict(Plausibility.reject, "hr_range")
        if value < bounds.hr_soft_min or value > bounds.hr_soft_max:
            return PlausibilityVerdict(Plausibility.confirm, "hr_unusual")
        return _OK
    kg = to_kg(value, unit)
    return _OK if bounds.weight_kg_min <= kg <= bounds.weight_kg_max else PlausibilityVerdict(
        Plausibility.reject, "weight_range"
    )


def _check_bp(values: tuple[Decimal, ...], bounds: PlausibilityBounds) -> PlausibilityVerdict:
    if len(values) != 2:
        return PlausibilityVerdict(Plausibility.reject, "value_count")
    sbp, dbp = values
    if not bounds.sbp_min <= sbp <= bounds.sbp_max:
        return PlausibilityVerdict(Plausibility.reject, "sbp_range")
    if not bounds.dbp_min <= dbp <= bounds.dbp_max:
        return PlausibilityVerdict(Plausibility.reject, "dbp_range")
    if dbp >= sbp:
        return PlausibilityVerdict(Plausibility.reject, "dbp_not_below_sbp")
    if sbp < bounds.sbp_soft_min or sbp > bounds.sbp_soft_max:
        return PlausibilityVerdict(Plausibility.confirm, "sbp_unusual")
    if dbp < bounds.dbp_soft_min or dbp > bounds.dbp_soft_max:
        return PlausibilityVerdict(Plausibility.confirm, "dbp_unusual")
    if sbp - dbp < bounds.pulse_pressure_soft_min:
        return PlausibilityVerdict(Plausibility.confirm, "pulse_pressure_narrow")
    return _OK
