"""Prints each text to standard output: the zero set-up default."""

import sys

from crm.sms import BaseSmsBackend


class SmsBackend(BaseSmsBackend):
    def send(self, *, to: str, body: str, key: str) -> str:
        sys.stdout.write(f"SMS to {to} [{key}]\n{body}\n{'-' * 40}\n")
        return f"console-{key}"
