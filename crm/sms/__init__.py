"""SMS backends, chosen by the SMS_BACKEND setting the way Django chooses EMAIL_BACKEND.

A backend sends one text and returns the provider's id for it. It raises TemporarySendError for what a
retry may cure (the provider is busy or down) and PermanentSendError for what it never will (a bad number).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


class SendError(Exception):
    pass


class TemporarySendError(SendError):
    """Try again later (rate limited, provider unavailable)."""


class PermanentSendError(SendError):
    """Never retry (invalid or unreachable number, refused content)."""


class BaseSmsBackend:
    def send(self, *, to: str, body: str, key: str) -> str:
        """Send `body` to the E.164 number `to`; return the provider's message id. `key` is our message key."""
        raise NotImplementedError


def get_sms_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()
