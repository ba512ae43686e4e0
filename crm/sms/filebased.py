"""Appends each text as a JSON line to the file named by SMS_FILE_PATH, as Django's file email backend does.

Every process writing to one file sees the same record, so a test (or a developer) can check what several
Celery workers sent, and after a worker is killed we can ask whether a message's key reached "the provider".
"""

from __future__ import annotations

import json
import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from crm.sms import BaseSmsBackend


class SmsBackend(BaseSmsBackend):
    can_look_up = True

    def __init__(self) -> None:
        if not settings.SMS_FILE_PATH:
            raise ImproperlyConfigured("SMS_FILE_PATH must name a file for the file SMS backend.")
        self.path = settings.SMS_FILE_PATH

    def send(self, *, to: str, body: str, key: str, sender: str = "") -> str:
        line = json.dumps({"key": key, "to": to, "body": body, "sender": sender}) + "\n"
        # One write on a file opened for appending, flushed to disk before we answer: the line is there
        # before the caller can record the message as sent.
        with open(self.path, "a", encoding="utf-8") as sent:
            sent.write(line)
            sent.flush()
            os.fsync(sent.fileno())
        return f"file-{key}"

    def find_sent(self, key: str) -> str | None:
        for record in read_sent(self.path):
            if record["key"] == key:
                return f"file-{key}"
        return None


def read_sent(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as sent:
        return [json.loads(line) for line in sent if line.strip()]
