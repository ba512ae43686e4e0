"""normalise_mobile's fast path for common UK mobile shapes gives exactly what phonenumbers gives, or nothing."""

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from crm import phones


def by_phonenumbers(raw: str) -> str | None:
    """The full phonenumbers reading (E.164), None where normalise_mobile refuses the number."""
    raw = raw.strip()
    if len(raw) > 32:
        return None
    try:
        number = phonenumbers.parse(raw, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def by_normalise_mobile(raw: str) -> str | None:
    try:
        return phones.normalise_mobile(raw)
    except ValidationError:
        return None


def shapes(digits: str) -> list[str]:
    """Ways people write a number whose national digits are `digits` (usually ten, from a 7)."""
    head, tail = digits[:4], digits[4:]
    return [
        f"0{digits}",
        f"0{head} {tail}",
        f"0{head} {tail[:3]} {tail[3:]}",
        f"0{head}  {tail}",
        f"(0{head}) {tail}",
        f"(0{head}){tail}",
        f"(0{head}) {tail[:3]} {tail[3:]}",
        f"+44{digits}",
        f"+44 {digits}",
        f"+44 {head} {tail}",
        f"+44 ({head}) {tail}",
        f"+44 (0){head} {tail}",
        f"+44 0{head} {tail}",
        f"+440{digits}",
        f"0044 {head} {tail}",
        f"44{digits}",
        f"0{head}-{tail}",
        f"0{head}.{tail}",
        f"{digits}",
        f" 0{head} {tail} ",
        f"0{head} {tail}x12",
        f"0{head} {tail}0",
        f"0{head} {tail[:-1]}",
        f"(0{head} {tail}",
        f"0{head}) {tail}",
        f"(0{head})) {tail}",
        f"+1 {head} {tail}",
        f"+353 {digits[1:]}",
    ]


# Every first four digits of a UK mobile (and of some non-mobiles), a few endings each: the fast path's
# answers cover the GB patterns' prefixes, the Crown dependencies' ranges (which phonenumbers files under GG,
# IM and JE) and numbers that are not valid at all.
PREFIXES = [f"7{n:03d}" for n in range(1000)] + ["1134", "2079", "8001", "3001", "0791", "9791"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_fast_path_agrees_with_phonenumbers(prefix):
    for ending in ("000000", "123456", "999999"):
        for raw in shapes(prefix + ending):
            fast = phones._fast_uk_mobile(raw.strip())
            expected = by_phonenumbers(raw)
            assert fast in ("", expected), raw
            assert by_normalise_mobile(raw) == expected, raw


@settings(max_examples=2000, deadline=None)
@given(
    digits=st.text(alphabet="0123456789", min_size=8, max_size=12),
    gaps=st.lists(st.sampled_from(["", "", " ", "  ", "-", "(", ")", "."]), min_size=13, max_size=13),
    prefix=st.sampled_from(["0", "+44", "+44 ", "(0", "+44 (0)", "0044", "", "+", "(+44) "]),
)
def test_any_shape_reads_the_same_as_with_phonenumbers(digits, gaps, prefix):
    raw = prefix + "".join(gap + digit for gap, digit in zip(gaps, digits, strict=False))
    fast = phones._fast_uk_mobile(raw.strip())
    expected = by_phonenumbers(raw)
    assert fast in ("", expected)
    assert by_normalise_mobile(raw) == expected


@pytest.mark.parametrize("raw", ["07400 123456", "07400123456", "(07400) 123456", "+44 7400 123456", "+447400123456"])
def test_the_common_shapes_take_the_fast_path(raw):
    assert phones._fast_uk_mobile(raw) == "+447400123456"


@pytest.mark.parametrize("raw", ["07911 123456", "07624 123456", "07700 900123", "07400 12345", "07400 1234567"])
def test_numbers_the_fast_path_cannot_vouch_for_take_the_full_path(raw):
    """Guernsey and Isle of Man ranges, Ofcom's drama range and wrong lengths: phonenumbers decides."""
    assert phones._fast_uk_mobile(raw) == ""
    assert by_normalise_mobile(raw) == by_phonenumbers(raw)


def test_another_default_region_never_takes_the_fast_path(settings, monkeypatch):
    settings.DEFAULT_PHONE_REGION = "IE"

    def fast(raw):
        raise AssertionError("fast path used")

    monkeypatch.setattr(phones, "_fast_uk_mobile", fast)
    assert phones.normalise_mobile("+44 7400 123456") == "+447400123456"
    assert phones.normalise_mobile("087 123 4567") == "+353871234567"
