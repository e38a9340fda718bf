"""Units of home readings: glucose conversion, canonical values, typed units, UCUM and plausibility bounds (§2)."""

import dataclasses
from decimal import Decimal as D

import pytest

from followup.enums import ReadingKind
from followup.units import (
    DEFAULT_BOUNDS,
    Plausibility,
    PlausibilityBounds,
    Unit,
    canonical_value,
    check_plausibility,
    convert_glucose,
    normalise_unit,
    to_kg,
    ucum_code,
)


@pytest.mark.parametrize(
    ("mmol", "mgdl"),
    [("3.9", "70"), ("3.0", "54"), ("7.0", "126"), ("10.0", "180"), ("11.1", "200"), ("13.9", "250"),
     ("16.7", "301")],
)
def test_mmol_to_mgdl_uses_18_016_and_writes_an_integer(mmol, mgdl):
    assert convert_glucose(D(mmol), from_unit=Unit.mmol_l, to_unit=Unit.mg_dl) == D(mgdl)


@pytest.mark.parametrize(("mgdl", "mmol"), [("70", "3.9"), ("54", "3.0"), ("112", "6.2"), ("202", "11.2"),
                                            ("300", "16.7")])
def test_mgdl_to_mmol_writes_one_decimal(mgdl, mmol):
    result = convert_glucose(D(mgdl), from_unit=Unit.mg_dl, to_unit=Unit.mmol_l)
    assert result == D(mmol)
    assert str(result) == mmol


def test_conversion_keeps_decimal_exactness_for_11_2():
    assert str(convert_glucose(D("11.2"), from_unit=Unit.mmol_l, to_unit=Unit.mmol_l)) == "11.2"


def test_conversion_accepts_plain_unit_strings():
    assert convert_glucose(D("7.0"), from_unit="mmol/L", to_unit="mg/dL") == D("126")


def test_conversion_refuses_a_non_glucose_unit():
    with pytest.raises(ValueError):
        convert_glucose(D("7"), from_unit=Unit.kg, to_unit=Unit.mmol_l)


@pytest.mark.parametrize(
    ("typed", "unit"),
    [("mmol/l", Unit.mmol_l), ("MMOL/L", Unit.mmol_l), ("mmol", Unit.mmol_l), ("毫摩尔", Unit.mmol_l),
     ("mg/dl", Unit.mg_dl), ("mgdl", Unit.mg_dl), ("mg", Unit.mg_dl), ("mg/dL", Unit.mg_dl),
     ("kg", Unit.kg), ("公斤", Unit.kg), ("千克", Unit.kg), ("斤", Unit.jin),
     ("lb", Unit.lb), ("lbs", Unit.lb), ("磅", Unit.lb)],
)
def test_typed_units_normalise(typed, unit):
    assert normalise_unit(typed) is unit


def test_unknown_typed_unit_is_none():
    assert normalise_unit("stone") is None


@pytest.mark.parametrize(("value", "unit", "kg"), [("65", Unit.kg, "65.0"), ("130", Unit.jin, "65.0"),
                                                   ("150", Unit.lb, "68.0")])
def test_weight_canonical_is_kg_with_jin_as_half_a_kilo(value, unit, kg):
    assert to_kg(D(value), unit) == D(kg)
    assert canonical_value(kind=ReadingKind.weight, value=D(value), unit=unit) == D(kg)


def test_canonical_glucose_is_mmol_one_decimal():
    assert canonical_value(kind=ReadingKind.glucose, value=D("202"), unit=Unit.mg_dl) == D("11.2")


def test_canonical_heart_rate_and_bp_keep_their_unit():
    assert canonical_value(kind=ReadingKind.heart_rate, value=D("72"), unit=Unit.per_min) == D("72")
    with pytest.raises(ValueError):
        canonical_value(kind=ReadingKind.heart_rate, value=D("72"), unit=Unit.kg)


@pytest.mark.parametrize(
    ("unit", "code"),
    [(Unit.mmol_l, "mmol/L"), (Unit.mg_dl, "mg/dL"), (Unit.mmhg, "mm[Hg]"), (Unit.per_min, "/min"),
     (Unit.kg, "kg"), (Unit.lb, "[lb_av]"), (Unit.jin, None)],
)
def test_ucum_codes(unit, code):
    assert ucum_code(unit) == code


def _level(kind, values, unit, bounds=DEFAULT_BOUNDS):
    return check_plausibility(kind=kind, values=tuple(D(v) for v in values), unit=unit, bounds=bounds).level


@pytest.mark.parametrize(
    ("value", "unit", "level"),
    [("1.0", Unit.mmol_l, Plausibility.plausible), ("0.9", Unit.mmol_l, Plausibility.reject),
     ("35.0", Unit.mmol_l, Plausibility.plausible), ("35.1", Unit.mmol_l, Plausibility.reject),
     ("18", Unit.mg_dl, Plausibility.plausible), ("17", Unit.mg_dl, Plausibility.reject),
     ("630", Unit.mg_dl, Plausibility.plausible), ("631", Unit.mg_dl, Plausibility.reject)],
)
def test_glucose_hard_bounds_are_inclusive_in_the_unit_sent(value, unit, level):
    assert _level(ReadingKind.glucose, [value], unit) is level


@pytest.mark.parametrize(
    ("sbp", "dbp", "level", "reason"),
    [("150", "95", Plausibility.plausible, None),
     ("50", "20", Plausibility.confirm, "sbp_unusual"),
     ("49", "30", Plausibility.reject, "sbp_range"),
     ("301", "95", Plausibility.reject, "sbp_range"),
     ("150", "19", Plausibility.reject, "dbp_range"),
     ("150", "150", Plausibility.reject, "dbp_not_below_sbp"),
     ("95", "150", Plausibility.reject, "dbp_not_below_sbp"),
     ("15", "9", Plausibility.reject, "sbp_range"),
     ("70", "50", Plausibility.plausible, None),
     ("69", "50", Plausibility.confirm, "sbp_unusual"),
     ("250", "100", Plausibility.plausible, None),
     ("251", "100", Plausibility.confirm, "sbp_unusual"),
     ("200", "151", Plausibility.confirm, "dbp_unusual"),
     ("120", "39", Plausibility.confirm, "dbp_unusual"),
     ("100", "91", Plausibility.confirm, "pulse_pressure_narrow")],
)
def test_blood_pressure_hard_and_soft_bounds(sbp, dbp, level, reason):
    verdict = check_plausibility(kind=ReadingKind.blood_pressure, values=(D(sbp), D(dbp)), unit=Unit.mmhg)
    assert (verdict.level, verdict.reason) == (level, reason)


@pytest.mark.parametrize(
    ("value", "level"),
    [("20", Plausibility.confirm), ("19", Plausibility.reject), ("40", Plausibility.plausible),
     ("39", Plausibility.confirm), ("150", Plausibility.plausible), ("151", Plausibility.confirm),
     ("250", Plausibility.confirm), ("251", Plausibility.reject)],
)
def test_heart_rate_bounds(value, level):
    assert _level(ReadingKind.heart_rate, [value], Unit.per_min) is level


@pytest.mark.parametrize(
    ("value", "unit", "level"),
    [("20", Unit.kg, Plausibility.plausible), ("19.9", Unit.kg, Plausibility.reject),
     ("300", Unit.kg, Plausibility.plausible), ("600", Unit.jin, Plausibility.plausible),
     ("601", Unit.jin, Plausibility.reject), ("30", Unit.jin, Plausibility.reject)],
)
def test_weight_bounds_are_checked_in_kg(value, unit, level):
    assert _level(ReadingKind.weight, [value], unit) is level


def test_bounds_are_frozen_and_a_clinic_overrides_them_by_copy():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_BOUNDS.sbp_max = D("280")  # type: ignore[misc]
    strict = dataclasses.replace(DEFAULT_BOUNDS, sbp_max=D("260"))
    assert _level(ReadingKind.blood_pressure, ["270", "100"], Unit.mmhg, strict) is Plausibility.reject
    assert _level(ReadingKind.blood_pressure, ["270", "100"], Unit.mmhg) is Plausibility.confirm


def test_default_bounds_are_the_reference_values():
    b = PlausibilityBounds()
    assert (b.glucose_mmol_min, b.glucose_mmol_max, b.glucose_mgdl_min, b.glucose_mgdl_max) == (
        D("1.0"), D("35.0"), D("18"), D("630"))
    assert (b.sbp_min, b.sbp_max, b.dbp_min, b.dbp_max) == (D(50), D(300), D(20), D(200))
    assert (b.hr_min, b.hr_max, b.weight_kg_min, b.weight_kg_max) == (D(20), D(250), D(20), D(300))
