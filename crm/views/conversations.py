"""Pages to log a conversation, record an assessment, and work through "My follow-ups"."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from crm.errors import NotPermitted, ServiceError
from crm.forms import DATE_INPUT
from crm.models import Assessment, Conversation
from crm.models.conversations import NOTES_MAX_LENGTH
from crm.permissions import can_view_member_lists
from crm.selectors.conversations import conversations_visible_to, follow_ups_for
from crm.services import conversations as services
from crm.views import _member_or_404, _require, _show_service_error


class ConversationForm(forms.Form):
    channel = forms.ChoiceField(label="How you spoke", choices=Conversation.Channel.choices)
    held_on = forms.DateField(label="Date of the conversation", widget=DATE_INPUT)
    outcome = forms.ChoiceField(label="Outcome", choices=Conversation.Outcome.choices)
    notes = forms.CharField(
        label="Notes", required=False, max_length=NOTES_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 5})
    )
    follow_up_on = forms.DateField(
        label="Follow up on", required=False, widget=DATE_INPUT, help_text="It appears in your follow-ups list."
    )

    def clean(self):
        cleaned = super().clean()
        held_on, follow_up_on = cleaned.get("held_on"), cleaned.get("follow_up_on")
        if held_on and follow_up_on and follow_up_on < held_on:
            self.add_error("follow_up_on", "The follow-up cannot be before the conversation.")
        return cleaned


class AssessmentForm(forms.Form):
    score = forms.TypedChoiceField(
        label="Assessment", coerce=int, choices=Assessment.Score.choices, help_text="1 is a leader, 5 is hostile."
    )
    assessed_on = forms.DateField(label="Date", widget=DATE_INPUT)
    notes = forms.CharField(label="Why", required=False, max_length=services.ASSESSMENT_NOTES_MAX_LENGTH)


def _back(request: HttpRequest, member) -> HttpResponse:
    """Back to the rep's workplace page when the form was opened from it, else to the member."""
    if request.GET.get("from") == "workplace" and member.workplace_id:
        return redirect("workplace_detail", workplace_id=member.workplace_id)
    return redirect("member_detail", member_id=member.pk)


@login_required
def conversation_create(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request.user, member_id)
    _require(services.can_log_conversations(request.user, member))
    form = ConversationForm(request.POST or None, initial={"held_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            services.log_conversation(actor=request.user, member=member, **form.cleaned_data)
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, f"Conversation with {member.full_name} logged.")
            return _back(request, member)
    return render(
        request,
        "crm/conversations/conversation_form.html",
        {"form": form, "member": member},
        status=400 if form.errors else 200,
    )


@login_required
def assessment_create(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request.user, member_id)
    _require(services.can_log_conversations(request.user, member))
    form = AssessmentForm(request.POST or None, initial={"assessed_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            services.record_assessment(actor=request.user, member=member, **form.cleaned_data)
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, f"Assessment of {member.full_name} recorded.")
            return _back(request, member)
    return render(
        request,
        "crm/conversations/assessment_form.html",
        {"form": form, "member": member},
        status=400 if form.errors else 200,
    )


@login_required
def follow_up_list(request: HttpRequest) -> HttpResponse:
    _require(can_view_member_lists(request.user))
    today = timezone.localdate()
    return render(
        request, "crm/conversations/follow_ups.html", {"follow_ups": follow_ups_for(request.user), "today": today}
    )


@login_required
@require_POST
def follow_up_done(request: HttpRequest, conversation_id: int) -> HttpResponse:
    try:
        conversation = conversations_visible_to(request.user).get(pk=conversation_id)
    except Conversation.DoesNotExist as error:
        raise Http404("No such conversation.") from error
    try:
        services.complete_follow_up(actor=request.user, conversation=conversation)
    except NotPermitted as error:
        raise PermissionDenied(error.message) from error
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Follow-up with {conversation.member.full_name} done.")
    return redirect("follow_up_list")
