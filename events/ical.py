"""iCalendar (RFC 5545) for events: one event to download, or a member's feed of the events they hold a
place at. Written here rather than with a library: it is a few lines of text."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.utils import timezone


def _escape(text: str) -> str:
    """TEXT values escape backslash, semicolon, comma and newlines (RFC 5545 3.3.11)."""
    return (
        text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets are folded: CRLF and a space (RFC 5545 3.1), never inside a character."""
    out, current = [], b""
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode("utf-8"))
            current = b""
        current += encoded
    out.append(current.decode("utf-8"))
    return "\r\n ".join(out)


def _utc(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(events: Iterable, *, name: str, site: str = "quorum") -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:-//{site}//events//EN", "CALSCALE:GREGORIAN"]
    lines.append(f"X-WR-CALNAME:{_escape(name)}")
    stamp = _utc(timezone.now())
    for event in events:
        location = event.venue or event.online_url
        description = event.description + (f"\n\nJoin online: {event.online_url}" if event.online_url else "")
        lines += [
            "BEGIN:VEVENT",
            f"UID:event-{event.pk}@{site}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_utc(event.starts_at)}",
            f"DTEND:{_utc(event.ends_at)}",
            f"SUMMARY:{_escape(event.title)}",
        ]
        if description.strip():
            lines.append(f"DESCRIPTION:{_escape(description.strip())}")
        if location:
            lines.append(f"LOCATION:{_escape(location)}")
        if event.online_url:
            lines.append(f"URL:{event.online_url}")
        lines.append("STATUS:CANCELLED" if event.is_cancelled else "STATUS:CONFIRMED")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
