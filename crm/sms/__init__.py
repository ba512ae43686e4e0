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

    def __init__(self, message: str, *, is_opted_out: bool = False):
        super().__init__(message)
        # The provider refused because the number opted out with it (Twilio error 21610).
        self.is_opted_out = is_opted_out


class BaseSmsBackend:
    # Whether find_sent() can say if a message with our key reached the provider: used after a worker died
    # between claiming a message and recording the provider's answer (crm.services.messages.recover_stalled).
    can_look_up = False

    def send(self, *, to: str, body: str, key: str, sender: str = "") -> str:
        """Send `body` to the E.164 number `to`; return the provider's message id. `key` is our message key;
        `sender` an alphanumeric sender ID, or '' for the configured number."""
        raise NotImplementedError

    def find_sent(self, key: str) -> str | None:
        """The provider id of the message sent under `key`, or None if none was. Only if can_look_up."""
        raise NotImplementedError


def get_sms_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()
