"""SMS segment arithmetic of clinical-rules.md §5.5: GSM-7 160/153 with a two-septet extension table, UCS-2 70/67."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.sms_segments import GSM7_BASIC, GSM7_EXTENSION, SegmentInfo, fits_one_segment, is_gsm7, measure


def test_gsm7_basic_table_has_the_127_typeable_characters():
    assert len(GSM7_BASIC) == 127  # 128 positions minus the escape to the extension table
    assert "\x1b" not in GSM7_BASIC


def test_plain_english_is_gsm7_and_counts_one_per_character():
    assert measure("Got it: BP 150/95. Thank you.") == SegmentInfo("GSM-7", 29, 1)


@pytest.mark.parametrize(("length", "segments"), [(160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)])
def test_gsm7_fits_160_alone_and_153_per_concatenated_segment(length, segments):
    assert measure("a" * length).segments == segments


@pytest.mark.parametrize("char", sorted(GSM7_EXTENSION))
def test_extension_table_characters_cost_two_septets(char):
    info = measure(f"a{char}")
    assert info.encoding == "GSM-7"
    assert info.chars == 3


def test_escape_pair_is_never_split_across_segments():
    # 152 septets then "€" (2 septets): the euro moves whole to the second segment, the rest follows.
    text = "a" * 152 + "€" + "a" * 152
    info = measure(text)
    assert info.chars == 306
    assert info.segments == 3  # ceil(306 / 153) would say 2


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_chinese_fits_70_alone_and_67_per_concatenated_segment(length, segments):
    info = measure("血" * length)
    assert info.encoding == "UCS-2"
    assert info.segments == segments


@pytest.mark.parametrize("char", ["≥", "—", "’", "“", "血", "😀"])
def test_one_non_gsm_character_turns_an_english_text_into_ucs2(char):
    assert measure(f"Please re-check {char}").encoding == "UCS-2"


def test_emoji_outside_the_bmp_counts_two_code_units():
    assert measure("😀").chars == 2


def test_empty_text_costs_no_segment():
    assert measure("") == SegmentInfo("GSM-7", 0, 0)


def test_reserve_for_a_carrier_signature_counts_against_the_single_segment():
    text = "血" * 58
    assert fits_one_segment(text, reserve=12)
    assert not fits_one_segment(text + "。", reserve=12)
    assert fits_one_segment("a" * 160)
    assert not fits_one_segment("a" * 160, reserve=1)


@given(st.text(max_size=400))
def test_measure_agrees_with_is_gsm7_and_never_undercounts(text):
    info = measure(text)
    assert (info.encoding == "GSM-7") == is_gsm7(text)
    assert info.chars >= len(text)
    assert info.segments * (153 if info.encoding == "GSM-7" else 67) >= info.chars or info.segments == 1
