"""Data protection pages for staff: a member's subject access export and erasure (national admins), the
retention dry-run report (national admins), and members' requests to close their membership (organisers)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from crm.errors import ServiceError
from crm.models import ClosureRequest, Member
from crm.models.privacy import CLOSURE_REASON_MAX_LENGTH
from crm.permissions import can_erase_members, can_export_subject_access, can_view_retention
from crm.selectors import members_visible_to
from crm.selectors.privacy import erasure_refusals
from crm.services import privacy as services
from crm.services.retention import retention_report
from crm.views import _member_or_404, _require, _show_service_error


def json_download(export: dict, filename: str) -> HttpResponse:
    """The export as a file to save, never shown inline (and never cached on the way)."""
    response = HttpResponse(json.dumps(export, indent=2, ensure_ascii=False), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def member_data_export(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request.user, member_id)  # out of scope: 404, like a member that does not exist
    _require(can_export_subject_access(request.user))
    export = services.export_subject_access(actor=request.user, member=member)
    return json_download(export, f"subject-access-{member.membership_number}.json")


class ErasureForm(forms.Form):
    reason = forms.CharField(
        label="Why is their data being erased?",
        max_length=200,
        help_text="For example: asked to be forgotten by email on 3 March. Kept in the audit trail.",
    )
    confirm_number = forms.CharField(
        label="Type their membership number to confirm", max_length=20, help_text="This cannot be undone."
    )

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.member = member

    def clean_confirm_number(self) -> str:
        value = self.cleaned_data["confirm_number"].strip()
        if value.upper() != self.member.membership_number.upper():
            raise forms.ValidationError("That is not this member's membership number.")
        return value


@login_required
def member_erase(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request.user, member_id)
    _require(can_erase_members(request.user))
    refusals = erasure_refusals(member)
    form = ErasureForm(request.POST if request.method == "POST" else None, member=member)
    if request.method == "POST" and not refusals and form.is_valid():
        try:
            services.erase_member(actor=request.user, member=member, reason=form.cleaned_data["reason"])
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, "Their personal data is erased. Counts and results are unchanged.")
            return redirect("member_detail", member_id=member.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "crm/privacy/erase.html", {"member": member, "form": form, "refusals": refusals}, status=status
    )


@login_required
def retention_page(request: HttpRequest) -> HttpResponse:
    _require(can_view_retention(request.user))
    return render(request, "crm/privacy/retention.html", {"report": retention_report()})


def _can_handle_requests(user) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.is_national or user.role == "organiser"))


@login_required
def closure_request_list(request: HttpRequest) -> HttpResponse:
    _require(_can_handle_requests(request.user))
    requests = (
        ClosureRequest.objects.filter(member__in=members_visible_to(request.user))
        .select_related("member__branch", "member__workplace", "handled_by")
        .order_by("status", "-requested_at")[:200]
    )
    return render(
        request,
        "crm/privacy/closure_requests.html",
        {"requests": requests, "note_max": 500, "reason_max": CLOSURE_REASON_MAX_LENGTH},
    )


@login_required
@require_POST
def closure_request_resolve(request: HttpRequest, request_id: int) -> HttpResponse:
    _require(_can_handle_requests(request.user))
    try:
        closure = ClosureRequest.objects.get(pk=request_id, member__in=members_visible_to(request.user))
    except ClosureRequest.DoesNotExist as error:
        raise Http404("No such request.") from error
    outcome = request.POST.get("outcome")
    if outcome not in ("close", "resolve"):
        messages.error(request, "Choose whether to close the membership or record why not.")
        return redirect("closure_request_list")
    try:
        services.resolve_closure_request(
            actor=request.user, request=closure, close=outcome == "close", note=request.POST.get("note", "")
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Request from {closure.member.full_name} dealt with.")
    return redirect("closure_request_list")
