"""API authentication: token or session, with the same two-factor rule as the pages.

A session counts only once its staff user has passed a second factor; otherwise the request is refused
with 401. Tokens are only handed out after a second factor too (api.views.ObtainTokenView), so a token is
as strong as a two-factor sign-in.
"""

from __future__ import annotations

from drf_spectacular.authentication import SessionScheme
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed

from crm.permissions import must_use_two_factor


class VerifiedSessionAuthentication(SessionAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if must_use_two_factor(user) and not (hasattr(user, "is_verified") and user.is_verified()):
            raise AuthenticationFailed("Sign in with your second factor (two-factor code) first.")
        return result


class VerifiedSessionScheme(SessionScheme):
    """Documents the session in the OpenAPI schema exactly as DRF's own session authentication."""

    target_class = VerifiedSessionAuthentication
