"""The fishbone SVG (pure): well-formed, escaped, accessible, wrapping long Chinese and English labels."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ElementTree

import pytest

from rca.fishbone import Bone, BoneCause, FishboneTexts, render_fishbone, text_width, wrap

SVG = "{http://www.w3.org/2000/svg}"
TEXTS = FishboneTexts(title="Fishbone diagram", description="Causes of long waits.", root_cause="Root cause",
                      empty="No causes yet", problem="Problem:")


def _bones(**causes: list[BoneCause]) -> list[Bone]:
    names = ("people", "machines", "materials", "methods", "environment", "measurement")
    return [Bone(name.title(), causes.get(name, [])) for name in names]


def _texts(svg: str) -> list[str]:
    root = ElementTree.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_fishbone_is_well_formed_and_escapes_script():
    svg = render_fishbone(problem='Waits & "delays" <b>', bones=_bones(
        people=[BoneCause("<script>alert(1)</script>")]), texts=TEXTS)
    root = ElementTree.fromstring(svg)  # raises if the markup is not well-formed
    assert root.tag == f"{SVG}svg"
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert root.find(f"{SVG}script") is None
    assert any("<script>alert(1)</script>" in text for text in _texts(svg))  # shown as text, not run


def test_fishbone_has_a_title_and_a_description_listing_every_cause():
    svg = render_fishbone(problem="Long waits", bones=_bones(
        methods=[BoneCause("One shared queue", is_root=True)], people=[BoneCause("One triage nurse")]),
        texts=TEXTS, id_prefix="fb-7")
    root = ElementTree.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "fb-7-title fb-7-desc"
    description = root.find(f"{SVG}desc").text
    assert "Problem: Long waits" in description
    assert "Methods: One shared queue (Root cause)." in description and "People: One triage nurse." in description
    assert "Machines: No causes yet." in description


def test_six_bones_each_carry_their_label_and_an_empty_bone_says_so():
    svg = render_fishbone(problem="Long waits", bones=_bones(people=[BoneCause("A")]), texts=TEXTS)
    texts = _texts(svg)
    for name in ("People", "Machines", "Materials", "Methods", "Environment", "Measurement"):
        assert name in texts
    assert texts.count("No causes yet") == 5


def test_root_causes_are_marked_on_the_diagram():
    svg = render_fishbone(problem="Long waits", bones=_bones(methods=[BoneCause("One shared queue", True)]),
                          texts=TEXTS)
    assert "★ One shared queue" in _texts(svg)


def test_long_chinese_and_english_labels_wrap_within_their_width():
    chinese = wrap("新来的挂号员不熟悉预约系统，常常需要请同事帮忙处理复诊预约", 150, 13, 5)
    english = wrap("Prescription renewals require a full consultation even for stable patients", 150, 13, 5)
    assert len(chinese) > 1 and len(english) > 1
    assert all(text_width(line, 13) <= 150 for line in chinese + english)
    assert "".join(chinese) == "新来的挂号员不熟悉预约系统，常常需要请同事帮忙处理复诊预约"
    assert " ".join(english) == "Prescription renewals require a full consultation even for stable patients"


def test_a_very_long_label_is_cut_with_an_ellipsis():
    lines = wrap("等" * 400, 100, 13, 3)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert wrap("x" * 60, 50, 13, 9)[0] and all(text_width(line, 13) <= 50 for line in wrap("x" * 60, 50, 13, 9))


def test_many_causes_make_a_taller_diagram():
    few = ElementTree.fromstring(render_fishbone(problem="p", bones=_bones(people=[BoneCause("a")]), texts=TEXTS))
    many = ElementTree.fromstring(render_fishbone(problem="p", bones=_bones(
        people=[BoneCause(f"cause number {n} with some words") for n in range(12)]), texts=TEXTS))
    height = lambda root: float(root.get("viewBox").split()[3])  # noqa: E731
    assert height(many) > height(few)


def test_control_characters_never_break_the_markup():
    svg = render_fishbone(problem="a\x00b\x1fc", bones=_bones(people=[BoneCause("x\x0by")]), texts=TEXTS)
    ElementTree.fromstring(svg)


def test_the_diagram_renders_in_a_pdf(tmp_path):
    weasyprint = pytest.importorskip("weasyprint")
    svg = render_fishbone(problem="候诊时间过长", bones=_bones(methods=[BoneCause("复诊与新患者同一队列", True)]),
                          texts=TEXTS)
    pdf = tmp_path / "fishbone.pdf"
    weasyprint.HTML(string=f"<html><body>{svg}</body></html>").write_pdf(pdf)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Methods" in text and "同一队列" in text
