"""Counting SMS segments: GSM-7 and UCS-2 limits, two-septet extension characters, two-unit emoji, and no
character split across two parts."""

from __future__ import annotations

import pytest

from sms.segments import GSM_BASIC, GSM_EXTENSION, Segments, count


def test_the_gsm_alphabet_is_the_127_basic_characters_and_the_extension_table():
    assert len(GSM_BASIC) == 127
    assert GSM_EXTENSION == set("\f^{}\\[~]|€")
    assert not GSM_BASIC & GSM_EXTENSION
    assert {"@", "£", "¥", "Ç", "Ø", "Δ", "Ξ", "¤", "¡", "§", "¿", "à", "\n", "\r"} <= GSM_BASIC
    assert not {"ç", "`", "\x1b", "á", "ê"} & GSM_BASIC


@pytest.mark.parametrize(
    ("length", "segments", "per_segment", "remaining"),
    [(1, 1, 160, 159), (160, 1, 160, 0), (161, 2, 153, 145), (306, 2, 153, 0), (307, 3, 153, 152)],
)
def test_plain_text_is_gsm7(length, segments, per_segment, remaining):
    assert count("a" * length) == Segments("GSM-7", length, segments, per_segment, remaining)


def test_the_whole_basic_alphabet_is_one_septet_each():
    text = "".join(sorted(GSM_BASIC))

    assert count(text) == Segments("GSM-7", 127, 1, 160, 33)


@pytest.mark.parametrize("char", sorted(GSM_EXTENSION))
def test_extension_characters_take_two_septets(char):
    assert count(char) == Segments("GSM-7", 2, 1, 160, 158)
    assert count("a" * 158 + char).segments == 1
    assert count("a" * 159 + char) == Segments("GSM-7", 161, 2, 153, 145)


def test_an_escape_pair_that_would_straddle_two_parts_starts_the_next_part():
    text = "a" * 152 + "€" + "a" * 152

    result = count(text)

    # 306 septets would fill two parts exactly, but the euro sign cannot be split after septet 152.
    assert result == Segments("GSM-7", 306, 3, 153, 152)


def test_an_escape_pair_that_ends_a_part_exactly_stays_in_it():
    assert count("a" * 151 + "€" + "a" * 153) == Segments("GSM-7", 306, 2, 153, 0)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment", "remaining"),
    [(70, 1, 70, 0), (71, 2, 67, 63), (134, 2, 67, 0), (135, 3, 67, 66)],
)
def test_one_character_outside_gsm_makes_the_text_ucs2(length, segments, per_segment, remaining):
    text = "ç" + "a" * (length - 1)

    assert count(text) == Segments("UCS-2", length, segments, per_segment, remaining)


def test_an_emoji_counts_two_units():
    assert count("🙂") == Segments("UCS-2", 2, 1, 70, 68)
    assert count("🙂" * 35) == Segments("UCS-2", 70, 1, 70, 0)
    assert count("🙂" * 35 + "a").segments == 2


def test_an_emoji_that_would_straddle_two_parts_starts_the_next_part():
    assert count("a" * 66 + "🙂" + "a" * 66) == Segments("UCS-2", 134, 3, 67, 66)


def test_empty_text_takes_no_segment():
    assert count("") == Segments("GSM-7", 0, 0, 160, 160)
