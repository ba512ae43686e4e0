"""Email delivery and bounce reports: django-anymail's tracking webhooks (/anymail/<esp>/tracking/) verify the
provider's request and send a `tracking` signal; each event is stored once by its id, then applied."""

from __future__ import annotations

import functools

from anymail.signals import tracking
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpResponseForbidden
from django.urls import URLPattern


@receiver(tracking, dispatch_uid="crm.outreach.email_tracking")
def handle_email_tracking(sender, event, esp_name: str, **kwargs) -> None:
    from crm.services import outreach

    metadata = event.metadata or {}
    event_id = event.event_id or f"{event.message_id}:{event.event_type}:{event.timestamp}"
    payload = {
        "event_type": event.event_type,
        "message_id": event.message_id or "",
        "recipient": event.recipient or "",
        "message_key": str(metadata.get("message_key", ""))[:200],
    }
    if outreach.store_provider_event(
        provider=f"anymail:{esp_name}"[:20], event_id=event_id, kind=event.event_type or "", payload=payload
    ):
        outreach.record_email_event(
            provider_id=event.message_id or "",
            message_key=payload["message_key"],
            event_type=event.event_type or "",
            description=event.description or "",
        )


def _refuse_without_secret(view):
    """django-anymail accepts webhooks from anyone (with a warning) when no secret is set: refuse instead."""

    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        if not (settings.ANYMAIL or {}).get("WEBHOOK_SECRET"):
            return HttpResponseForbidden("Email webhooks are off until ANYMAIL_WEBHOOK_SECRET is set.")
        return view(request, *args, **kwargs)

    return guarded


def anymail_urls():
    """django-anymail's webhook URLs (anymail/<esp>/tracking/ and inbound/), each refused without a secret."""
    from anymail import urls

    guarded = [
        URLPattern(pattern.pattern, _refuse_without_secret(pattern.callback), pattern.default_args, pattern.name)
        for pattern in urls.urlpatterns
    ]
    return (guarded, urls.app_name)
