"""Email delivery and bounce reports: django-anymail's tracking webhooks (/anymail/<esp>/tracking/) verify the
provider's request and send a `tracking` signal; each event is stored once by its id, then applied."""

from __future__ import annotations

from anymail.signals import tracking
from django.dispatch import receiver


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
