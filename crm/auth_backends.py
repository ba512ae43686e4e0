"""Sign-in backends.

django-axes refuses to run without the request (it needs the client address). Every real sign-in passes
one: the login page, the admin and the API's token endpoint. Django's test client and scripts that call
`authenticate()` directly do not; for them there is no address to lock out, so this subclass lets the
password backend after it decide, instead of failing with an error.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest


class LockoutBackend(AxesStandaloneBackend):
    def authenticate(self, request: HttpRequest | None, username: str | None = None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address. Behind N trusted proxies (QUORUM_TRUSTED_PROXIES=N) it is the Nth address from
    the right of X-Forwarded-For, the one our own proxy wrote; anything further left could be forged."""
    proxies = getattr(settings, "QUORUM_TRUSTED_PROXIES", 0)
    if proxies:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR")


def lockout_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The username django-axes counts failures against, cut to our usernames' 150 characters: a hostile
    sign-in with a longer name would otherwise overflow its table (255) and fail the request on PostgreSQL."""
    if credentials:
        username = credentials.get("username")
    else:
        data = getattr(request, "data", None) or request.POST
        username = data.get("username")
    return str(username)[:150] if username is not None else None
