"""Members sign in with a one-time code or link sent to their email or mobile (the service says what it
guarantees). The pages say the same thing whether or not the address is a member's."""

from __future__ import annotations

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from crm.auth_backends import client_ip
from crm.errors import ServiceError
from crm.services import member_account
from portal.forms import SignInCodeForm, SignInForm

SESSION_KEY = "portal_sign_in_code"


def _sign_in(request: HttpRequest, user) -> HttpResponse:
    request.sign_in_method = "a one-time code"  # for the security log (crm.services.accounts.record_sign_in)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("portal:home")


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            row = member_account.request_sign_in_code(
                address=form.cleaned_data["address"], ip_address=client_ip(request)
            )
        except member_account.TooManyRequests as error:
            form.add_error("address", error.message)
            status = 429
        except ServiceError as error:
            form.add_error("address", error.message)
        else:
            request.session[SESSION_KEY] = row.pk
            return redirect("portal:sign_in_code")
    if form.errors and status == 200:
        status = 400
    return render(request, "portal/sign_in.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def sign_in_code(request: HttpRequest) -> HttpResponse:
    if SESSION_KEY not in request.session:
        return redirect("portal:sign_in")
    form = SignInCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = member_account.sign_in_with_code(
                code_id=request.session.get(SESSION_KEY), code=form.cleaned_data["code"]
            )
        except ServiceError as error:
            form.add_error("code", error.message)
        else:
            request.session.pop(SESSION_KEY, None)
            return _sign_in(request, user)
    return render(request, "portal/sign_in_code.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET only asks (mail scanners follow links); the button's POST signs in."""
    if request.method == "POST":
        try:
            user = member_account.sign_in_with_link(token=token)
        except ServiceError as error:
            return render(request, "portal/sign_in_link.html", {"error": error.message}, status=400)
        return _sign_in(request, user)
    return render(request, "portal/sign_in_link.html", {})
