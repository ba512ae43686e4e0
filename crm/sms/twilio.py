"""Sends texts through Twilio with the `twilio` library.

Configured from the environment (see README, "Outreach: email and SMS"): TWILIO_ACCOUNT_SID and
TWILIO_AUTH_TOKEN, and either TWILIO_MESSAGING_SERVICE_SID (preferred: Twilio picks the number and handles
its own opt-out list) or TWILIO_FROM_NUMBER. Delivery reports come back to the status callback webhook.
"""

from __future__ import annotations

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from crm.sms import BaseSmsBackend, PermanentSendError, TemporarySendError

# Twilio's error for a recipient who texted STOP to the sender: never retry, record the opt-out.
UNSUBSCRIBED_RECIPIENT = 21610
TIMEOUT_SECONDS = 15


class SmsBackend(BaseSmsBackend):
    def __init__(self, http_client=None) -> None:
        if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
            raise ImproperlyConfigured("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set to send through Twilio.")
        if not (settings.TWILIO_MESSAGING_SERVICE_SID or settings.TWILIO_FROM_NUMBER):
            raise ImproperlyConfigured("Set TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER to send through Twilio.")
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=http_client or TwilioHttpClient(timeout=TIMEOUT_SECONDS),
        )

    def send(self, *, to: str, body: str, key: str, sender: str = "") -> str:
        options: dict = {"to": to, "body": body}
        if sender:
            options["from_"] = sender  # an alphanumeric sender ID registered on the account
        elif settings.TWILIO_MESSAGING_SERVICE_SID:
            options["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            options["from_"] = settings.TWILIO_FROM_NUMBER
        if settings.QUORUM_SITE_URL:
            options["status_callback"] = settings.QUORUM_SITE_URL.rstrip("/") + reverse("twilio_status")
        try:
            return self.client.messages.create(**options).sid
        except TwilioRestException as error:
            reason = f"Twilio {error.status}" + (f" error {error.code}" if error.code else "") + f": {error.msg}"
            if error.status == 429 or error.status >= 500:
                raise TemporarySendError(reason) from error
            raise PermanentSendError(reason, is_opted_out=error.code == UNSUBSCRIBED_RECIPIENT) from error
        except (requests.RequestException, TwilioException) as error:  # no answer: timeout, connection refused
            raise TemporarySendError(f"Twilio unreachable: {error}") from error
