"""Two-factor pages: set up an authenticator app, enter a code after the password, recovery codes."""

from __future__ import annotations

import base64
import binascii

import django_otp
import segno
from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from crm.errors import ServiceError
from crm.services import accounts


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The 6-digit code your app shows now, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}),
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("home")


def _is_verified(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_verified", lambda: False)())


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Scan the QR code (or type the secret), then confirm with a code. Someone who already has an app
    must pass their second factor before they can replace it."""
    if accounts.has_authenticator(request.user) and not _is_verified(request):
        return redirect(f"{reverse('two_factor_verify')}?next={reverse('two_factor_setup')}")
    device = accounts.start_authenticator_enrolment(user=request.user)
    form = CodeForm(request.POST if request.method == "POST" else None)
    form.fields["code"].help_text = "The 6-digit code your app shows after you add Quorum to it."
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = accounts.confirm_authenticator(user=request.user, code=form.cleaned_data["code"])
        except ServiceError as error:
            form.add_error("code", error.message)
        else:
            django_otp.login(request, device)
            return render(
                request, "crm/accounts/recovery_codes.html", {"codes": codes, "next": _next_url(request), "new": True}
            )
    secret = base64.b32encode(binascii.unhexlify(device.key)).decode()
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=5, dark="#111", light="#fff", omitsize=False)
    return render(
        request,
        "crm/accounts/two_factor_setup.html",
        status=400 if form.errors else 200,
        context={
            "form": form,
            "qr_svg": qr_svg,
            "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
            "next": _next_url(request),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    if not accounts.has_authenticator(request.user):
        return redirect(f"{reverse('two_factor_setup')}?next={_next_url(request)}")
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.verify_second_factor(request=request, user=request.user, code=form.cleaned_data["code"])
        except ServiceError as error:
            form.add_error("code", error.message)
        else:
            return redirect(_next_url(request))
    return render(
        request,
        "crm/accounts/two_factor_verify.html",
        {"form": form, "next": _next_url(request)},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Replace the recovery codes (the old ones stop working). Only after a second factor this session."""
    if not _is_verified(request):
        return redirect(f"{reverse('two_factor_verify')}?next={reverse('recovery_codes')}")
    if request.method == "POST":
        try:
            codes = accounts.replace_recovery_codes(user=request.user)
        except ServiceError as error:
            return render(request, "crm/accounts/recovery_codes.html", {"error": error.message}, status=400)
        return render(request, "crm/accounts/recovery_codes.html", {"codes": codes, "next": reverse("home")})
    return render(request, "crm/accounts/recovery_codes.html", {"next": reverse("home")})
