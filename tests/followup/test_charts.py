"""Reading charts: well-formed, escaped, accessible SVG on a real time axis, in any language, for WeasyPrint;
series, target band, limit lines and meter flags found by their ids."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.charts import (
    ChartPoint,
    ChartTexts,
    Series,
    TimeWindow,
    blood_pressure_chart,
    glucose_chart,
    glucose_value,
    render_chart,
    single_value_chart,
    weight_unit,
)
from followup.enums import ReadingKind
from followup.models import Reading

NS = {"svg": "http://www.w3.org/2000/svg"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
END = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
WINDOW = TimeWindow(END - timedelta(days=14), END, SHANGHAI)
TEXTS = ChartTexts(title="Blood glucose", description="7 readings; latest 7.2 mmol/L.", unit="mmol/L",
                   flagged="Meter showed HI or LO")


def reading(kind: str = "glucose", *, days_ago: float = 0, value: str | None = None, unit: str = "mmol/L",
            canonical: str | None = None, context: str | None = "fasting", flag: str | None = None,
            systolic: int | None = None, diastolic: int | None = None) -> Reading:
    return Reading(clinic_id=1, patient_id=1, kind=kind, taken_at=END - timedelta(days=days_ago),
                   value_original=Decimal(value) if value else None, unit_original=unit,
                   value_canonical=Decimal(canonical or value) if (canonical or value) else None,
                   context=context if kind == "glucose" else None, meter_flag=flag, systolic=systolic,
                   diastolic=diastolic, source="web", entered_by_kind="patient")


def glucose(readings, unit="mmol/L", texts=TEXTS, **kwargs) -> str:
    return glucose_chart(readings, unit=unit, texts=texts, window=WINDOW, fasting_label="Fasting",
                         other_label="Other times", target_label="Fasting target", limit_label="After a meal: under",
                         tip=lambda r: f"tip {r.value_original}", **kwargs)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def by_id(root: ET.Element, gid: str) -> ET.Element | None:
    return next((e for e in root.iter() if e.get("id") == gid), None)


def markers(root: ET.Element, gid: str) -> list[ET.Element]:
    group = by_id(root, gid)
    return [] if group is None else list(group.iter("{http://www.w3.org/2000/svg}use"))


def legend(root: ET.Element, uid: str) -> list[str]:
    """The legend's texts in order: entry k is "<uid>-legend-<k>"."""
    entries = [e for e in root.iter() if re.fullmatch(rf"{uid}-legend-\d+", e.get("id") or "")]
    return [t.text for entry in entries for t in entry.iter("{http://www.w3.org/2000/svg}text")]


def line_pieces(root: ET.Element, gid: str) -> int:
    """How many separate stretches the line with this id is drawn in."""
    group = by_id(root, gid)
    if group is None:
        return 0
    return sum(len(re.findall(r"M ", p.get("d"))) for p in group.iter("{http://www.w3.org/2000/svg}path"))


def test_chart_is_accessible_svg_that_scales():
    root = parse(glucose([reading(value="7.2")]))
    assert root.get("role") == "img" and root.get("width") == "100%" and root.get("viewBox").startswith("0 0 440 ")
    assert root.get("aria-labelledby") == "glucose-title glucose-desc"
    assert root.find("svg:title", NS).text == "Blood glucose"
    assert root.find("svg:desc", NS).text == "7 readings; latest 7.2 mmol/L."


def test_every_passed_text_is_escaped():
    evil = ChartTexts(title="<script>alert(1)</script> & co", description='"quoted" <b>', unit="<u>")
    svg = glucose([reading(value="7.2")], texts=evil)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    parse(svg)


def test_glucose_chart_shades_the_fasting_target_and_marks_the_after_meal_limit():
    root = parse(glucose([reading(value="6.1"), reading(value="11.0", context="after_meal_2h", days_ago=1)]))
    band = by_id(root, "glucose-band-1").find(".//svg:path", NS)
    assert "fill: #dcefdc" in band.get("style")
    ys = [float(y) for y in re.findall(r"[ML] [-\d.]+ ([-\d.]+)", band.get("d"))]
    limit = by_id(root, "glucose-line-1").find(".//svg:path", NS)
    assert "stroke-dasharray" in limit.get("style")
    limit_y = float(re.findall(r"[ML] [-\d.]+ ([-\d.]+)", limit.get("d"))[0])
    assert limit_y < min(ys)  # the after-meal limit (10) is drawn above the fasting band (4.4–7.0)
    assert len(markers(root, "glucose-series-1")) == 1 and len(markers(root, "glucose-series-2")) == 1
    assert legend(root, "glucose") == ["Fasting", "Other times", "Fasting target", "After a meal: under"]


def test_glucose_sent_in_mg_dl_is_plotted_in_the_patients_unit():
    sent_in_mgdl = reading(value="130", unit="mg/dL", canonical="7.2")
    assert glucose_value(sent_in_mgdl, "mmol/L") == pytest.approx(7.2)
    assert glucose_value(sent_in_mgdl, "mg/dL") == 130
    assert glucose_value(reading(value="7.2"), "mg/dL") == pytest.approx(130)


def test_mg_dl_chart_uses_the_mg_dl_targets():
    root = parse(glucose([reading(value="130", unit="mg/dL", canonical="7.2")], unit="mg/dL"))
    ticks = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert any(t and t.isdigit() and int(t) >= 100 for t in ticks)  # the axis is in mg/dL, not 4–10


def test_meter_flag_is_drawn_at_the_edge_with_its_own_legend_entry():
    root = parse(glucose([reading(value="7.2"), reading(flag="hi", context="random", days_ago=1)]))
    flag = by_id(root, "glucose-flags-2-hi")
    assert [t.text for t in flag.iter("{http://www.w3.org/2000/svg}title")] == ["tip None"]  # with its tooltip
    point = by_id(root, "glucose-series-1").find(".//svg:use", NS)
    assert float(flag.find(".//svg:use", NS).get("y")) < float(point.get("y"))  # HI: at the top, above 7.2
    assert "Meter showed HI or LO" in [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_blood_pressure_chart_draws_both_numbers_of_every_reading():
    readings = [reading("blood_pressure", systolic=150 - i, diastolic=95 - i, days_ago=i) for i in range(4)]
    root = parse(blood_pressure_chart(readings, texts=TEXTS, window=WINDOW, systolic_label="Upper",
                                      diastolic_label="Lower", target_label="Home target 135/85",
                                      tip=lambda r: f"{r.systolic}/{r.diastolic}"))
    assert len(markers(root, "bp-series-1")) == 4 and len(markers(root, "bp-series-2")) == 4
    # systolic circles, diastolic squares: told apart by shape, not colour alone
    shapes = {by_id(root, g).find(".//svg:defs/svg:path", NS).get("d") for g in ("bp-series-1", "bp-series-2")}
    assert len(shapes) == 2
    assert line_pieces(root, "bp-series-1-line") == 1 and line_pieces(root, "bp-series-2-line") == 1
    titles = [t.text for t in by_id(root, "bp-series-1").iter("{http://www.w3.org/2000/svg}title")]
    assert sorted(titles) == ["147/92", "148/93", "149/94", "150/95"]
    assert by_id(root, "bp-line-1") is not None and by_id(root, "bp-line-2") is not None  # 135 and 85
    assert legend(root, "bp") == ["Upper", "Lower", "Home target 135/85"]  # two lines, one legend entry


def test_line_breaks_where_readings_are_days_apart():
    readings = [reading(value="7.0", days_ago=d) for d in (0, 1, 8, 9)]
    assert line_pieces(parse(glucose(readings)), "glucose-series-1-line") == 2
    together = [reading(value="7.0", days_ago=d) for d in (0, 1, 2, 3)]
    assert line_pieces(parse(glucose(together)), "glucose-series-1-line") == 1


def test_weight_chart_uses_the_unit_the_patient_sends_now():
    readings = [reading("weight", value="65", unit="kg", days_ago=3), reading("weight", value="131", unit="jin",
                                                                              canonical="65.5")]
    assert weight_unit(readings) == "jin"
    root = parse(single_value_chart(readings, kind=ReadingKind.weight, texts=TEXTS, window=WINDOW, label="Weight",
                                    tip=lambda r: f"{r.value_original} {r.unit_original}"))
    ticks = [float(t.text) for t in root.iter("{http://www.w3.org/2000/svg}text")
             if t.text and t.text.replace(".", "").isdigit()]
    assert max(ticks) > 100  # 65 kg is drawn as 130 jin beside 131 jin


def test_points_outside_the_window_stay_inside_the_frame():
    points = [ChartPoint(END - timedelta(days=40), 7.0, "old"), ChartPoint(END, 8.0, "now")]
    root = parse(render_chart(series=[Series("x", points, "#000")], texts=TEXTS, window=WINDOW))
    xs = [float(u.get("x")) for u in markers(root, "readings-series-1")]
    width = float(root.get("viewBox").split()[2])
    assert len(xs) == 2 and all(0 <= x <= width for x in xs)


def test_day_ticks_fall_on_the_patients_local_midnights():
    window = TimeWindow(datetime(2026, 11, 17, 16, 0, tzinfo=UTC), datetime(2026, 11, 20, 4, 0, tzinfo=UTC),
                        SHANGHAI, day_label=lambda d: f"D{d.day}")
    root = parse(render_chart(series=[], texts=TEXTS, window=window))
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text and t.text.startswith("D")]
    assert labels == ["D18", "D19", "D20"]  # 2026-11-17 16:00 UTC is midnight of the 18th in Shanghai


def test_small_variant_for_callback_cards_has_no_legend_and_no_drawn_title():
    svg = glucose([reading(value="7.2"), reading(value="12.0", context="random", days_ago=1)], compact=True,
                  id_prefix="cb-7")
    root = parse(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "Blood glucose" not in texts and "Fasting" not in texts
    assert root.find("svg:title", NS).text == "Blood glucose" and root.get("aria-labelledby") == "cb-7-title cb-7-desc"
    assert float(root.get("viewBox").split()[3]) < 140


def test_a_window_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError):
        render_chart(series=[], texts=TEXTS, window=TimeWindow(END, END - timedelta(days=1), SHANGHAI))


@settings(max_examples=50, deadline=None)
@given(label=st.text(max_size=40), values=st.lists(st.floats(min_value=-1e6, max_value=1e6), max_size=30),
       flags=st.lists(st.sampled_from([None, "hi", "lo"]), max_size=5))
def test_any_text_and_values_render_well_formed_xml(label, values, flags):
    points = [ChartPoint(END - timedelta(hours=i * 7), v, label) for i, v in enumerate(values)]
    points += [ChartPoint(END - timedelta(hours=i), None, label, f) for i, f in enumerate(flags) if f]
    texts = ChartTexts(title=label, description=label, unit=label, flagged=label)
    root = parse(render_chart(series=[Series(label, points, "#000", "diamond")], texts=texts, window=WINDOW,
                              id_prefix=label))
    assert root.find("svg:title", NS) is not None


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_weasyprint_renders_the_chart_with_its_chinese_text(tmp_path):
    weasyprint = pytest.importorskip("weasyprint")
    zh = ChartTexts(title="血糖", description="最近14天", unit="mmol/L", flagged="血糖仪显示HI或LO")
    svg = glucose_chart([reading(value="7.2"), reading(flag="hi", context="random", days_ago=2)], unit="mmol/L",
                        texts=zh, window=WINDOW, fasting_label="空腹", other_label="其他时间",
                        target_label="空腹目标 4.4–7.0", limit_label="餐后：低于10", tip=lambda r: "")
    pdf = tmp_path / "chart.pdf"
    weasyprint.HTML(string=f"<html><body style='width:180mm'>{svg}</body></html>").write_pdf(pdf)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "血糖" in text and "空腹目标" in text
