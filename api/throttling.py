"""Request limits for the API, per signed-in user and per API token. Rates come from
settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], read on each request (DRF's own classes read them once at
import, which would make them impossible to change in a running test or by reloading settings)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle


class SettingsRateMixin:
    def get_rate(self):
        return settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(self.scope)


class UserThrottle(SettingsRateMixin, SimpleRateThrottle):
    """Every signed-in user, however they authenticated."""

    scope = "api-user"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None  # anonymous requests get 401 before they cost anything
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class TokenThrottle(SettingsRateMixin, SimpleRateThrottle):
    """Requests made with an API token (scripts), counted per token, at their own rate."""

    scope = "api-token-client"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, Token):
            return None
        # The token's key is a secret: the cache sees only a digest of it.
        ident = hashlib.sha256(request.auth.pk.encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": ident}


class TokenLoginThrottle(SettingsRateMixin, AnonRateThrottle):
    """Slow down password guessing against the token endpoint (per client address)."""

    scope = "api-token"
