"""One-time voting credentials: a random secret for the voter, only a keyed hash for us.

The secret is 192 random bits (secrets.token_urlsafe(24)), so a hash cannot be reversed by guessing; the hash
is HMAC-SHA256 keyed with the site's secret key, so even a copy of the database does not let anyone test
guesses offline. Rotating DJANGO_SECRET_KEY during voting would invalidate every credential in circulation.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from django.conf import settings

CREDENTIAL_BYTES = 24
RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I, so it can be read out and typed


KEY_SALT = "quorum.elections.credential"


@functools.cache
def _key(secret: str) -> bytes:
    # Django's salted_hmac derives its key the same way on every call; deriving it once gives the same digest.
    return hashlib.sha256((KEY_SALT + secret).encode()).digest()


def hash_credential(credential: str) -> str:
    """One HMAC-SHA256 (equal to salted_hmac(KEY_SALT, credential, algorithm="sha256")): a 192-bit random
    secret needs no slow password hash, since there is nothing to guess."""
    return hmac.new(_key(settings.SECRET_KEY), credential.strip().encode(), hashlib.sha256).hexdigest()


def new_credential() -> tuple[str, str]:
    """A fresh credential and its hash."""
    credential = secrets.token_urlsafe(CREDENTIAL_BYTES)
    return credential, hash_credential(credential)


def new_receipt_code() -> str:
    """Twelve characters from 32 (60 bits): unguessable, and short enough to copy down."""
    code = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(12))
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"
