"""Phone numbers: one way to turn what people type into E.164."""

import re

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from phonenumbers import PhoneMetadata

# The shapes nearly every UK mobile arrives in (07911 123456, 07911123456, +44 7911 123456, (07911) 123456):
# ASCII digits and spaces after 0 or +44, or the first group in brackets. Such a number's national number is
# its ten digits from the 7, exactly as phonenumbers.parse reads it; anything else (other punctuation, 0044,
# +44 (0)7..., another country, a landline) takes the full phonenumbers path.
UK_MOBILE_SHAPE = re.compile(r"(?:0|\+44 ?)(7[0-9 ]+)|\(0(7[0-9]{3})\) ?([0-9][0-9 ]*)")
_GB = PhoneMetadata.metadata_for_region("GB")
# GB's general pattern and its mobile pattern, with their lengths: what phonenumbers' _is_number_matching_desc
# tests (the length, then the whole pattern).
_GB_DESCS = [
    (set(desc.possible_length), re.compile(desc.national_number_pattern)) for desc in (_GB.general_desc, _GB.mobile)
]


def _fast_uk_mobile(raw: str) -> str:
    """The E.164 form of a UK mobile written in a common shape, or '' to leave it to phonenumbers.

    It answers only where phonenumbers would answer the same. For +44, GB comes first among the regions that
    share the code and has no leading-digit rule, so a national number matching GB's general and mobile
    patterns is a GB number of a known type: is_valid_number accepts it. Everything else, every invalid
    number included (so the error messages stay phonenumbers'), returns ''. tests/crm/test_phones.py checks
    it against phonenumbers over many shapes.
    """
    match = UK_MOBILE_SHAPE.fullmatch(raw)
    if match is None:
        return ""
    national = (match[1] or match[2] + match[3]).replace(" ", "")
    if len(national) != 10:
        return ""
    for lengths, pattern in _GB_DESCS:
        if (lengths and len(national) not in lengths) or not pattern.fullmatch(national):
            return ""
    return "+44" + national


def normalise_mobile(raw: str) -> str:
    """Return `raw` as E.164 (+447700900123), '' for blank; raise ValidationError if it is not a valid number."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    if len(raw) > 32:
        raise ValidationError("That phone number is too long.", code="invalid_phone")
    if settings.DEFAULT_PHONE_REGION == "GB":
        # phonenumbers takes about 100 µs a number; an import reads one a row.
        fast = _fast_uk_mobile(raw)
        if fast:
            return fast
    try:
        number = phonenumbers.parse(raw, settings.DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as error:
        raise ValidationError("Enter a valid phone number, such as 07911 123456.", code="invalid_phone") from error
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("Enter a valid phone number, such as 07911 123456.", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
