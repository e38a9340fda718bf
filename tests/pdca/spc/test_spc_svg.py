"""The chart renderer: well-formed, escaped, accessible, localisable, deterministic, readable by WeasyPrint, and
showing what the chart found — signal points, phases, stepped limits, the target and a legend (found by id)."""

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdca.spc import ChartTexts, Rule, control_chart, render_svg, run_chart

NS = {"svg": "http://www.w3.org/2000/svg"}
EN = ChartTexts(
    title="Complaints about waiting",
    description="p chart of complaints per patient; the second phase starts with PDSA 1.",
    value="Complaint rate",
    centre="Mean",
    limits="Control limits",
    special_cause="Special cause",
    improvement="Improvement",
    concern="Concern",
    excluded="Excluded",
    runs_signal="Runs signal",
    target="Target",
    x_axis="Month",
    y_axis="%",
    rules_fired="Rules fired:",
    rule_names={Rule.outside_limits.value: "outside the limits", Rule.shift.value: "shift"},
)
ZH = ChartTexts(
    title="候诊投诉率",
    description="p 控制图：第二阶段自 PDSA 1 开始。",
    value="投诉率",
    centre="均值",
    limits="控制限",
    special_cause="特殊原因",
    rules_fired="触发规则：",
    rule_names={Rule.outside_limits.value: "超出控制限"},
)
COUNTS = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13,
          9, 6, 9, 6, 12, 5, 6, 4, 6, 3, 7, 6, 2, 4, 3, 6, 5, 4, 8, 5, 6, 7]  # fmt: skip
SIZES = [50] * 40 + [30, 80] + [50] * 8
DAYS = [date(2024, 1, 1) + timedelta(weeks=k) for k in range(50)]


def p_chart(**overrides):
    kwargs = dict(chart_type="p", values=COUNTS, denominators=SIZES, dates=DAYS, phases=[30],
                  phase_labels=["Baseline", "PDSA 1"], excluded={14}, multiply=100)  # fmt: skip
    return control_chart(**(kwargs | overrides))


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def texts_of(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{{{NS['svg']}}}text")]


def by_id(root: ET.Element, gid: str) -> ET.Element | None:
    return next((e for e in root.iter() if e.get("id") == gid), None)


def legend(root: ET.Element, uid: str = "spc") -> list[str]:
    """The legend's texts in order: entry k is "<uid>-legend-<k>" (its key "<uid>-legend-<k>-key")."""
    entries = [e for e in root.iter() if re.fullmatch(rf"{uid}-legend-\d+", e.get("id") or "")]
    return [e.find(".//svg:text", NS).text for e in entries]


def markers(root: ET.Element, gid: str) -> list[ET.Element]:
    group = by_id(root, gid)
    return [] if group is None else list(group.iter(f"{{{NS['svg']}}}use"))


def tips(root: ET.Element, gid: str) -> list[str]:
    group = by_id(root, gid)
    return [] if group is None else [t.text for t in group.iter(f"{{{NS['svg']}}}title")]


def path_points(root: ET.Element, gid: str) -> list[tuple[float, float]]:
    d = by_id(root, gid).find("svg:path", NS).get("d")
    return [(float(x), float(y)) for x, y in re.findall(r"[ML] ([-\d.e]+) ([-\d.e]+)", d)]


def style_of(root: ET.Element, gid: str, tag: str = "path") -> str:
    return by_id(root, gid).find(f".//svg:{tag}", NS).get("style")


def test_svg_is_well_formed_with_a_viewbox_and_no_fixed_height():
    root = parse(render_svg(chart=p_chart(), texts=EN))
    assert root.tag == f"{{{NS['svg']}}}svg"
    assert root.get("viewBox").startswith("0 0 720 ") and root.get("width") == "100%"
    assert root.get("height") is None


def test_svg_is_labelled_by_its_title_and_description():
    root = parse(render_svg(chart=p_chart(), texts=EN, id_prefix="waiting"))
    assert root.get("role") == "img" and root.get("aria-labelledby") == "waiting-title waiting-desc"
    assert root.find("svg:title", NS).get("id") == "waiting-title"
    assert root.find("svg:title", NS).text == EN.title
    assert root.find("svg:desc", NS).text == EN.description


def test_script_in_any_label_is_escaped_not_executed():
    attack = "<script>alert('x')</script>"
    texts = ChartTexts(title=attack, description=attack, value=attack, centre="Mean", x_axis=attack)
    chart = p_chart(phase_labels=[attack, "& more"])
    svg = render_svg(chart=chart, texts=texts, x_labels=[attack] * 50)
    assert "<script" not in svg and "&lt;script&gt;" in svg
    root = parse(svg)
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert any(attack in t for t in texts_of(root)) and "& more" in texts_of(root)


def test_characters_xml_forbids_are_dropped_from_labels():
    texts = ChartTexts(title="bell\x07 and nul\x00", description="d", value="v\x0b", centre="c")
    root = parse(render_svg(chart=p_chart(phase_labels=["a\x01", "b"]), texts=texts))
    assert root.find("svg:title", NS).text == "bell and nul"


def test_a_dollar_sign_in_a_label_is_text_not_mathematics():
    texts = ChartTexts(title="Cost $5 to $6", description="d", value="$x^2$", centre="c")
    shown = texts_of(parse(render_svg(chart=p_chart(), texts=texts)))
    assert "Cost $5 to $6" in shown and "$x^2$" in shown


def test_chinese_texts_and_date_labels_are_rendered():
    labels = [f"{d.month}月{d.day}日" for d in DAYS]
    root = parse(render_svg(chart=p_chart(), texts=ZH, x_labels=labels))
    shown = texts_of(root)
    assert "候诊投诉率" in shown and "均值" in shown and "1月1日" in shown
    assert any(t.startswith("触发规则：") and "超出控制限" in t for t in shown)


def test_x_labels_default_to_iso_dates_and_thin_out_to_fit():
    shown = texts_of(parse(render_svg(chart=p_chart(), texts=EN)))
    assert "2024-01-01" in shown
    assert 3 <= sum(t.startswith("2024-") or t.startswith("2025-") for t in shown) < 50


def test_limits_are_drawn_as_steps_per_phase_that_follow_each_denominator():
    root = parse(render_svg(chart=p_chart(), texts=EN))
    assert all(by_id(root, f"spc-{line}-{k}") is not None for line in ("ucl", "lcl") for k in (1, 2))
    assert len({y for _, y in path_points(root, "spc-ucl-1")}) == 1  # n = 50 throughout the baseline
    assert len({y for _, y in path_points(root, "spc-ucl-2")}) == 3  # n = 50, then 30 and 80 change the limit
    assert "stroke-dasharray" in style_of(root, "spc-ucl-1")


def test_each_phase_has_its_own_centre_line_a_divider_and_a_label():
    chart = p_chart()
    root = parse(render_svg(chart=chart, texts=EN))
    first, second = (path_points(root, f"spc-centre-{k}") for k in (1, 2))
    assert first[-1][0] <= second[0][0] and first[0][1] != second[0][1]  # side by side, at different levels
    assert by_id(root, "spc-phase-2") is not None and by_id(root, "spc-phase-1") is None  # no line at the start
    assert by_id(root, "spc-phase-1-label").find(".//svg:text", NS).text == "Baseline"
    assert by_id(root, "spc-phase-2-label").find(".//svg:text", NS).text == "PDSA 1"


def test_special_cause_points_are_highlighted_with_tooltips_and_excluded_points_hollow():
    chart = p_chart()
    root = parse(render_svg(chart=chart, texts=EN, improvement="decrease"))
    groups = [e.get("id") for e in root.iter() if (e.get("id") or "").startswith("spc-points-")]
    assert sum(len(markers(root, g)) for g in groups) == 50  # every point drawn once
    special = [g for g in groups if "common_cause" not in g]
    flagged = {i for i in chart.flagged() if chart.points[i].value is not None}
    assert sum(len(markers(root, g)) for g in special) == len(flagged) > 0
    assert "fill: #e46c0a" in style_of(root, "spc-points-concern", "use")
    assert "fill: #ffffff" in style_of(root, "spc-points-concern-excluded", "use")  # point 14: excluded, ghosted
    (outside, *_) = chart.flagged(Rule.outside_limits)
    label = chart.points[outside].date.isoformat()
    assert any(t.startswith(label) and t.endswith("— outside the limits") for g in special for t in tips(root, g))


def test_improvement_direction_colours_points_blue_or_orange():
    chart = control_chart(chart_type="i", values=[10.0, 11.0] * 10 + [40.0, -20.0], freeze=20)
    up = parse(render_svg(chart=chart, texts=EN, improvement="increase"))
    outside = " — outside the limits"
    assert tips(up, "spc-points-improvement") == ["21: 40" + outside]
    assert tips(up, "spc-points-concern") == ["22: -20" + outside]
    assert "fill: #00b0f0" in style_of(up, "spc-points-improvement", "use")
    down = parse(render_svg(chart=chart, texts=EN, improvement="decrease"))
    assert tips(down, "spc-points-concern")[0] == "21: 40" + outside


def test_legend_lists_only_what_the_chart_shows():
    plain = parse(render_svg(chart=run_chart(values=[1, 2, 1, 2, 1, 2]), texts=EN))
    assert legend(plain) == ["Complaint rate", "Mean"]
    assert by_id(plain, "spc-target") is None and by_id(plain, "spc-note") is None
    full = parse(render_svg(chart=p_chart(), texts=EN, target=8, improvement="decrease"))
    assert legend(full) == ["Complaint rate", "Concern", "Excluded", "Control limits", "Mean", "Target"]


def test_the_target_is_a_line_across_the_chart_at_its_value():
    root = parse(render_svg(chart=p_chart(), texts=EN, target=8))
    (x0, y0), (x1, y1) = path_points(root, "spc-target")
    centre = path_points(root, "spc-centre-2")[0][1]  # 11.5 %: the target of 8 % lies below it
    assert y0 == y1 > centre and x1 - x0 > 600


def test_a_runs_signal_draws_the_centre_line_dashed_red():
    cdi = [17, 12, 27, 20, 20, 18, 22, 19, 19, 24, 17, 16, 24, 19, 19, 22, 25, 19, 17, 6, 25, 17, 11, 14,
           9, 11, 7, 13, 5, 5, 3, 5, 9, 4, 5, 9]  # fmt: skip
    root = parse(render_svg(chart=run_chart(values=cdi, freeze=24), texts=EN))
    style = style_of(root, "spc-centre-1")
    assert "stroke: #c00000" in style and "stroke-dasharray" in style
    assert "Runs signal" in legend(root)
    calm = parse(render_svg(chart=run_chart(values=[1, 2, 1, 2, 1, 2]), texts=EN))
    assert "stroke: #000000" in style_of(calm, "spc-centre-1") and "dasharray" not in style_of(calm, "spc-centre-1")


def test_the_same_chart_gives_the_same_bytes_and_two_charts_share_no_ids():
    first = render_svg(chart=p_chart(), texts=EN, id_prefix="a")
    assert first == render_svg(chart=p_chart(), texts=EN, id_prefix="a")
    ids = {e.get("id") for e in parse(first).iter() if e.get("id")}
    other = {e.get("id") for e in parse(render_svg(chart=p_chart(), texts=EN, id_prefix="b")).iter() if e.get("id")}
    assert ids and not ids & other and all(i.startswith("a-") for i in ids)


def test_an_empty_chart_still_renders():
    root = parse(render_svg(chart=control_chart(chart_type="i", values=[]), texts=EN))
    assert root.find("svg:title", NS).text == EN.title


def test_x_labels_must_match_the_points():
    with pytest.raises(ValueError):
        render_svg(chart=p_chart(), texts=EN, x_labels=["one"])


@settings(max_examples=60, deadline=None)
@given(
    st.text(),
    st.lists(st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)), max_size=30),
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
)
def test_any_text_and_any_finite_series_render_well_formed_xml(label, values, target):
    chart = control_chart(chart_type="i", values=values, phases=[len(values) // 2] if values else None,
                          phase_labels=[label, label] if values else None)  # fmt: skip
    texts = ChartTexts(title=label, description=label, value=label, centre=label, limits=label, target=label)
    svg = render_svg(chart=chart, texts=texts, x_labels=[label] * len(values), target=target, show_2sigma=True)
    assert parse(svg).find("svg:title", NS) is not None


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_weasyprint_renders_the_svg_into_a_pdf_with_its_chinese_text_in_the_cjk_font(tmp_path):
    weasyprint = pytest.importorskip("weasyprint")
    svg = render_svg(chart=p_chart(), texts=ZH)
    pdf = tmp_path / "chart.pdf"
    weasyprint.HTML(string=f"<html><body style='width:180mm'>{svg}</body></html>").write_pdf(pdf)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "候诊投诉率" in text and "控制限" in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts  # drawn in Noto Sans CJK, not a fallback without Chinese glyphs
