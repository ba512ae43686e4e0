"""Phone numbers: one way to turn what people type into E.164."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError


def normalise_mobile(raw: str) -> str:
    """Return `raw` as E.164 (+447700900123), '' for blank; raise ValidationError if it is not a valid number."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    if len(raw) > 32:
        raise ValidationError("That phone number is too long.", code="invalid_phone")
    try:
        number = phonenumbers.parse(raw, settings.DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as error:
        raise ValidationError("Enter a valid phone number, such as 07911 123456.", code="invalid_phone") from error
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("Enter a valid phone number, such as 07911 123456.", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
