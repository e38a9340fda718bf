"""How many SMS segments a text costs: GSM-7 (basic + extension table) or UCS-2 (clinical-rules.md §5.5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 basic character set, in table order (0x1B, the escape to the extension table, is left out:
# it is never a character a sender types).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x20ÆæßÉ!\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs an escape plus the character, i.e. two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE = 160
GSM7_MULTI = 153  # a 6-byte concatenation header leaves 153 septets per segment
UCS2_SINGLE = 70
UCS2_MULTI = 67


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Encoding
    chars: int  # septets for GSM-7, UTF-16 code units for UCS-2 (what the carrier counts)
    segments: int

    @property
    def single_limit(self) -> int:
        return GSM7_SINGLE if self.encoding == "GSM-7" else UCS2_SINGLE


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def measure(text: str) -> SegmentInfo:
    """Encoding, billed length and segment count of `text`; an empty text costs no segment."""
    if is_gsm7(text):
        units = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return SegmentInfo("GSM-7", sum(units), _segments(units, GSM7_SINGLE, GSM7_MULTI))
    # Characters outside the Basic Multilingual Plane (emoji) take a surrogate pair: two code units.
    units = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SegmentInfo("UCS-2", sum(units), _segments(units, UCS2_SINGLE, UCS2_MULTI))


def fits_one_segment(text: str, *, reserve: int = 0) -> bool:
    """True when `text` plus `reserve` characters (e.g. a carrier-added 【签名】) still goes as one SMS."""
    info = measure(text)
    return info.chars + reserve <= info.single_limit


def _segments(units: list[int], single: int, multi: int) -> int:
    total = sum(units)
    if total == 0:
        return 0
    if total <= single:
        return 1
    # Fill segments greedily: an escape pair or a surrogate pair is never split across two segments,
    # which is why this can exceed ceil(total / multi).
    count, used = 1, 0
    for u in units:
        if used + u > multi:
            count += 1
            used = 0
        used += u
    return count
