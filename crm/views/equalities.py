"""Equalities pages: one member's answers for permitted staff (every read logged), and the suppressed
aggregates for organisers and national admins. A member's own answers are in the portal (portal.views.account)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from crm.errors import ServiceError
from crm.models import Member
from crm.models.equalities import (
    CONSENT_WORDING,
    CONSENT_WORDING_VERSION,
    STRANDS,
    EqualitiesAccess,
    Identifies,
    ethnicity_choices,
)
from crm.selectors import branches_visible_to, regions_visible_to
from crm.selectors.equalities import can_read_equalities, can_view_equalities_summary, equalities_summary
from crm.services import equalities as services
from crm.views import _member_or_404, _require, _show_service_error

STRAND_QUESTIONS = {
    "black_member": "Do you identify as a Black member?",
    "lgbt_member": "Do you identify as an LGBT+ member?",
    "disabled_member": "Do you identify as a disabled member?",
    "woman_member": "Do you identify as a woman member?",
}


class EqualitiesForm(forms.Form):
    ethnicity = forms.ChoiceField(label="What is your ethnic group?", choices=ethnicity_choices, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, _label in STRANDS:
            self.fields[name] = forms.ChoiceField(
                label=STRAND_QUESTIONS[name],
                choices=[("", "Not answered"), *Identifies.choices],
                required=False,
            )

    def answers(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(name, "") for name in services.ANSWER_FIELDS}


class StaffEqualitiesForm(EqualitiesForm):
    consent = forms.BooleanField(
        label="The member has read (or been read) the wording above and agrees to these answers being recorded",
        required=True,
        error_messages={"required": "Record the member's consent before saving their answers."},
    )


def _initial(answers) -> dict[str, str]:
    return {name: getattr(answers, name) for name in services.ANSWER_FIELDS} if answers else {}


def _permitted_member(request: HttpRequest, member_id: int) -> Member:
    member = _member_or_404(request.user, member_id)  # out of scope: 404, like a member that does not exist
    if not can_read_equalities(request.user, member):
        raise PermissionDenied("Reading a member's equalities answers needs a permission you do not have.")
    return member


@login_required
def member_equalities(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _permitted_member(request, member_id)
    answers = services.read_equalities_answers(reader=request.user, member=member, via=EqualitiesAccess.Via.PAGE)
    form = EqualitiesForm(initial=_initial(answers))
    shown = []
    if answers:
        shown = [
            (form.fields[name].label, getattr(answers, f"get_{name}_display")() or "Not answered")
            for name in services.ANSWER_FIELDS
        ]
    return render(request, "crm/equalities/member_answers.html", {"member": member, "answers": answers, "shown": shown})


@login_required
def member_equalities_edit(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _permitted_member(request, member_id)
    answers = services.read_equalities_answers(reader=request.user, member=member, via=EqualitiesAccess.Via.PAGE)
    form = StaffEqualitiesForm(request.POST or None, initial=_initial(answers))
    if request.method == "POST" and form.is_valid():
        try:
            services.record_equalities_answers(
                actor=request.user, member=member, answers=form.answers(), member_consented=form.cleaned_data["consent"]
            )
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, f"Equalities answers for {member.full_name} recorded with their consent.")
            return redirect("member_equalities", member_id=member.pk)
    return render(
        request,
        "crm/equalities/member_answers_form.html",
        {"form": form, "member": member, "wording": CONSENT_WORDING, "version": CONSENT_WORDING_VERSION},
        status=400 if form.errors else 200,
    )


@login_required
def equalities_summary_page(request: HttpRequest) -> HttpResponse:
    _require(can_view_equalities_summary(request.user))
    error = ""
    try:
        summary = equalities_summary(
            request.user, branch=request.GET.get("branch") or None, region=request.GET.get("region") or None
        )
    except ServiceError as problem:
        error, summary = problem.message, None
    return render(
        request,
        "crm/equalities/summary.html",
        {
            "summary": summary,
            "error": error,
            "branches": branches_visible_to(request.user).order_by("name"),
            "regions": regions_visible_to(request.user).order_by("name"),
            "selected_branch": request.GET.get("branch", ""),
            "selected_region": request.GET.get("region", ""),
        },
        status=400 if error else 200,
    )
