"""Prints each text to standard output: the zero set-up default."""

import sys

from crm.sms import BaseSmsBackend


class SmsBackend(BaseSmsBackend):
    def send(self, *, to: str, body: str, key: str, sender: str = "") -> str:
        origin = f" from {sender}" if sender else ""
        sys.stdout.write(f"SMS to {to}{origin} [{key}]\n{body}\n{'-' * 40}\n")
        return f"console-{key}"
