"""How many SMS segments a text takes, so the sender sees the cost before sending.

A text made only of GSM 03.38 characters goes out in the 7-bit default alphabet (GSM-7): 160 septets fit in one
message, 153 in each part of a multipart message (the rest of each part carries the header that joins them).
The characters of the extension table take two septets: an escape and the character. Any other character makes
the whole text go out in UCS-2: 70 UTF-16 code units in one message, 67 in each part; a character outside the
Basic Multilingual Plane (most emoji) takes two code units.

A character never straddles two parts: an escape pair, or a UTF-16 surrogate pair, that would not fit in what is
left of a part starts the next one, as handsets cannot join a character split across parts.
"""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 default alphabet in code order, without 0x1B (the escape to the extension table).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as the escape plus one septet.
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
_LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class Segments:
    """`units` are septets (GSM-7) or UTF-16 code units (UCS-2); `per_segment` is what one segment holds at this
    length (the single-message limit, or the multipart one); `remaining` is what still fits in the last segment.
    An empty text takes no segment and has the whole single-message limit remaining."""

    encoding: str
    units: int
    segments: int
    per_segment: int
    remaining: int


def _widths(text: str) -> tuple[str, list[int]]:
    """The encoding the text needs and the units each of its characters takes in it."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text):
        return GSM7, [2 if ch in GSM_EXTENSION else 1 for ch in text]
    return UCS2, [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count(text: str) -> Segments:
    """Count the segments `text` takes as an SMS."""
    encoding, widths = _widths(text)
    single, part = _LIMITS[encoding]
    units = sum(widths)
    if units <= single:
        return Segments(encoding, units, 1 if units else 0, single, single - units)
    segments, used = 1, 0
    for width in widths:
        if used + width > part:
            segments, used = segments + 1, 0
        used += width
    return Segments(encoding, units, segments, part, part - used)
