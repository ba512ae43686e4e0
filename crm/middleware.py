"""Staff sessions: signed out after a short idle time, and held at the two-factor pages until verified."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from crm.permissions import is_staff_account, must_use_two_factor
from crm.services.accounts import current_actor, has_authenticator


class StaffSessionMiddleware:
    """After django_otp's OTPMiddleware (which tells whether this session passed a second factor).

    - A staff session expires after QUORUM_STAFF_SESSION_IDLE_SECONDS without a request.
    - A staff user without a verified second factor reaches only the two-factor pages and sign-out: every
      other page sends them to enter a code (or to set up an app first). The API refuses such a session
      itself (api.authentication), with 401 rather than a redirect.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        token = current_actor.set(user if user.is_authenticated else None)
        try:
            if is_staff_account(user):
                request.session.set_expiry(settings.QUORUM_STAFF_SESSION_IDLE_SECONDS)
                if must_use_two_factor(user) and not user.is_verified() and not self._open_to_unverified(request):
                    return self._to_second_factor(request, user)
            return self.get_response(request)
        finally:
            current_actor.reset(token)

    @staticmethod
    def _open_to_unverified(request: HttpRequest) -> bool:
        path = request.path_info
        if path in {reverse("two_factor_verify"), reverse("two_factor_setup"), reverse("logout"), reverse("healthz")}:
            return True
        # The API answers 401 itself (a redirect would only confuse a script); static files are harmless.
        return path.startswith(("/api/", "/" + settings.STATIC_URL.lstrip("/")))

    @staticmethod
    def _to_second_factor(request: HttpRequest, user) -> HttpResponse:
        target = reverse("two_factor_verify") if has_authenticator(user) else reverse("two_factor_setup")
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
