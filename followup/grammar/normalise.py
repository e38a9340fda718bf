"""The normalisation pipeline of clinical-rules.md §6.2: plain text from what an IME or voice input typed."""

from __future__ import annotations

import re
import unicodedata

from followup.grammar.lexicon import GLUCOSE_KEYWORDS, alternation

# Twilio reassembles inbound messages up to 1,600 characters; anything longer is not an SMS reading.
MAX_BODY_CHARS = 1600
CONSUMED = "\x00"  # marks text the grammar has already read; never left in a normalised body

_CN_DIGIT = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}
_D = "零〇一二两三四五六七八九"
# A run of Chinese numerals, optionally with a spoken decimal (十一点二). A 点 followed by 十/分 is a
# clock time (七点二十分), so the decimal part must not run into one.
_CN_RUN = re.compile(rf"[{_D}十百]+(?:点[零〇一二三四五六七八九]+(?![{_D}十百分]))?")
_CN_INT = re.compile(
    r"(?:(?P<h>[一二两三四五六七八九])百)?(?P<z>零)?(?:(?P<t>[一二两三四五六七八九])?(?P<ten>十))?"
    r"(?P<u>[一二两三四五六七八九])?"
)
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})
_DECIMAL_FULL_STOP = re.compile(r"(?<=[0-9])[。｡](?=[0-9])")
_SEPARATORS = re.compile(r"[、;；\r\n\t。｡\x00]")
_COMMA = re.compile(r"(?<![0-9]),|,(?![0-9])")
_OVER = re.compile(r"(?<![0-9])([0-9]{1,3})\s*over\s*([0-9]{1,3})(?![0-9])")
_GLU_SPOKEN_DECIMAL = re.compile(
    "(" + alternation(GLUCOSE_KEYWORDS) + r"\s*:?\s*)([0-9]{1,2})点([0-9]{1,2})(?![0-9])"
)
_NOT_IN_NUMBER = r"(?<![0-9./\\|-])"  # a number after "/" belongs to a blood pressure, not a clock
_TIME_WORDS = "今天|昨天|前天|今早|今晨|早上|早晨|上午|中午|下午|晚上|傍晚|凌晨|夜里|半夜"
_MINUTES = r"\s*(?:半|钟|[0-9]{1,2}\s*分?)?"
_CLOCK = re.compile(
    rf"(?:(?:{_TIME_WORDS})\s*)?{_NOT_IN_NUMBER}[0-9]{{1,2}}\s*点{_MINUTES}"  # 7点, 7点半, 7点30分
    rf"|(?:(?:{_TIME_WORDS})\s*)?[{_D}十]+点{_MINUTES}"  # 七点半 (a decimal was converted already)
    rf"|{_NOT_IN_NUMBER}[0-9]{{1,2}}:[0-9]{{2}}(?:\s*(?:am|pm))?(?![0-9])"  # 7:30, 7:30pm
    rf"|{_NOT_IN_NUMBER}[0-9]{{1,2}}(?:am|pm)(?![a-z])"  # 7am ("95 pm" may be an evening BP: kept)
    rf"|{_TIME_WORDS}"
)
_SPACES = re.compile(r"\s+")


def normalise(body: str) -> str:
    """NFKC, decimal 。, separators, "N over M", Chinese numerals, 11点2 after a glucose keyword, clock
    times dropped, lower-case, single spaces. The body is cut at MAX_BODY_CHARS first."""
    text = unicodedata.normalize("NFKC", body[:MAX_BODY_CHARS]).translate(_QUOTES)
    # NFKC leaves the ideographic full stop alone; between digits an IME user meant a decimal point.
    text = _DECIMAL_FULL_STOP.sub(".", text)
    text = _SEPARATORS.sub(" ", text)
    # Lower-casing here rather than last changes nothing Chinese and lets every later rule be lower-case.
    text = text.lower()
    # A comma between digits may be "bp 150,95" or a decimal comma after a glucose keyword; elsewhere it
    # only separates readings.
    text = _COMMA.sub(" ", text)
    text = _OVER.sub(r"\1/\2", text)
    text = _CN_RUN.sub(_arabic, text)
    text = _GLU_SPOKEN_DECIMAL.sub(r"\1\2.\3", text)
    # The reading time is the receive time, so a stated clock time is noise that would look like a number.
    text = _CLOCK.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _arabic(m: re.Match[str]) -> str:
    run = m.group(0)
    whole, point, fraction = run.partition("点")
    if not point and "十" not in whole and "百" not in whole:
        return run  # digit-by-digit (一五零) is not converted: the reply asks for digits instead
    number = _cn_int(whole)
    if number is None:
        return run
    if point:
        return f"{number}." + "".join(str(_CN_DIGIT[c]) for c in fraction)
    return str(number)


def _cn_int(text: str) -> int | None:
    """一百五十 → 150, 一百五 → 150 (spoken short form), 一百零五 → 105, 十一 → 11, 三 → 3; None otherwise."""
    if len(text) == 1 and text in _CN_DIGIT:
        return _CN_DIGIT[text]
    m = _CN_INT.fullmatch(text)
    if m is None or not (m["h"] or m["ten"]):
        return None
    number = 100 * _CN_DIGIT[m["h"]] if m["h"] else 0
    if m["ten"]:
        number += 10 * (_CN_DIGIT[m["t"]] if m["t"] else 1)
    if m["u"]:
        short_form = m["h"] and not m["ten"] and not m["z"]
        number += _CN_DIGIT[m["u"]] * (10 if short_form else 1)
    return number
