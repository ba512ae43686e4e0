"""My data: what the union holds on the signed-in member (a readable page and the same export as JSON), and
their request to close their membership. Everything is the member's own: no id is taken from the URL."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from crm.errors import ServiceError
from crm.models import ClosureRequest, Member
from crm.models.privacy import CLOSURE_REASON_MAX_LENGTH
from crm.selectors.privacy import SECTIONS
from crm.services import privacy as services
from crm.views.privacy import json_download
from portal.access import member_required

HIDDEN_KEYS = {"id"}


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _shown(row: dict[str, Any], key: str) -> Any:
    value = row[key]
    if f"{key}_label" in row:
        return row[f"{key}_label"]
    if isinstance(value, dict) and set(value) == {"id", "name"}:
        return value["name"]
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value in (None, "", [], {}):
        return "—"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):  # an audit entry's changes, a Stripe payload: as "key: value" pairs
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return value


def _record(row: dict[str, Any]) -> list[tuple[str, Any]]:
    """One record as (label, value) pairs: ids and the raw codes behind labels left out."""
    return [(_label(key), _shown(row, key)) for key in row if key not in HIDDEN_KEYS and not key.endswith("_label")]


def _groups(value: Any, title: str = "") -> list[dict[str, Any]]:
    """A section's content as groups of records, each record a list of (label, value) pairs."""
    if value is None:
        return [{"title": title, "records": []}]
    if isinstance(value, list):
        return [{"title": title, "records": [_record(row) for row in value]}]
    if isinstance(value, dict) and any(isinstance(v, list) for v in value.values()) and "id" not in value:
        groups: list[dict[str, Any]] = []
        for key, inner in value.items():
            groups += _groups(inner, _label(key))
        return groups
    if isinstance(value, dict) and value and all(isinstance(v, int) for v in value.values()):
        return [{"title": title, "records": [[(kind.capitalize(), n) for kind, n in value.items()]]}]
    if isinstance(value, dict):
        return [{"title": title, "records": [_record(value)] if value else []}]
    return [{"title": title, "records": [[(title, value)]]}]


def readable_sections(export: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"key": key, "title": title, "about": about, "groups": _groups(export[key])} for key, title, about in SECTIONS
    ]


@member_required
def my_data(request: HttpRequest, member: Member) -> HttpResponse:
    export = services.export_subject_access(actor=request.user, member=member, shown_as="page")
    return render(
        request,
        "portal/data.html",
        {
            "member": member,
            "about": export["about"],
            "generated_at": datetime.datetime.fromisoformat(export["about"]["generated_at"]),
            "sections": readable_sections(export),
            "open_request": ClosureRequest.objects.filter(member=member, status=ClosureRequest.Status.OPEN).first(),
        },
    )


@member_required
def my_data_json(request: HttpRequest, member: Member) -> HttpResponse:
    export = services.export_subject_access(actor=request.user, member=member, shown_as="download")
    return json_download(export, f"my-data-{member.membership_number}.json")


class ClosureForm(forms.Form):
    reason = forms.CharField(
        label="Anything you want to tell us",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=CLOSURE_REASON_MAX_LENGTH,
        required=False,
        help_text="For example, that you are leaving teaching. An organiser reads it.",
    )
    confirm = forms.BooleanField(
        label="I want to close my membership",
        required=True,
        error_messages={"required": "Tick the box to confirm you want to close your membership."},
    )


@member_required
def my_data_close(request: HttpRequest, member: Member) -> HttpResponse:
    open_request = ClosureRequest.objects.filter(member=member, status=ClosureRequest.Status.OPEN).first()
    form = ClosureForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and open_request is None and form.is_valid():
        try:
            services.request_membership_closure(user=request.user, reason=form.cleaned_data["reason"])
        except ServiceError as error:
            form.add_error("reason" if error.field == "reason" else None, error.message)
        else:
            messages.success(request, "Your request is sent. An organiser will contact you before anything changes.")
            return redirect("portal:data")
    return render(
        request,
        "portal/data_close.html",
        {"member": member, "form": form, "open_request": open_request},
        status=400 if form.errors else 200,
    )
