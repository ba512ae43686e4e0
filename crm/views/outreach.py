"""Outreach pages (compose, preview, send, progress, inbox), the opt-out link, and Twilio's webhooks."""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from crm.errors import ServiceError
from crm.models import Campaign, Member, Message
from crm.services import outreach
from crm.services.messages import read_opt_out_token

log = logging.getLogger(__name__)
MAX_WEBHOOK_BYTES = 64 * 1024
PROGRESS_STATUSES = ("queued", "sending", "sent", "delivered", "failed", "opted_out", "suppressed", "cancelled")


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name",
            "channel",
            "purpose",
            "audience_kind",
            "segment",
            "election",
            "event",
            "include_waiting_list",
            "subject",
            "body",
            "html_body",
            "sender_name",
            "is_urgent",
        ]
        labels = {
            "channel": "Send as",
            "purpose": "What it is for",
            "audience_kind": "Send to",
            "segment": "Segment",
            "election": "Election (members who have not voted yet)",
            "event": "Event (its registrants)",
            "include_waiting_list": "Include the event's waiting list",
            "subject": "Email subject",
            "body": "Message (plain text)",
            "html_body": "Email in simple HTML",
            "sender_name": "Text sender name",
            "is_urgent": "Urgent: texts may go during quiet hours (21:00 to 08:00)",
        }
        widgets = {
            "audience_kind": forms.RadioSelect,
            "body": forms.Textarea(attrs={"rows": 8}),
            "html_body": forms.Textarea(attrs={"rows": 6}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["segment"].queryset = outreach.segments_usable_by(user)
        self.fields["segment"].help_text = "When sending to a segment: one of yours, or one a colleague shared."
        self.fields["election"].queryset = outreach.elections_usable_by(user)
        self.fields["election"].help_text = (
            "When reminding non-voters: an election open for voting. Only whether a member has voted is used, "
            "never how."
        )
        self.fields["event"].queryset = outreach.events_usable_by(user)
        self.fields["event"].help_text = "When writing to an event's registrants."
        # Each is needed only for its kind of audience: the service says which one is missing.
        for name in ("segment", "election", "event"):
            self.fields[name].required = False
        self.fields["audience_kind"].required = False  # a segment unless said otherwise
        self.fields["body"].help_text = "Merge fields: " + ", ".join("{" + name + "}" for name in outreach.MERGE_FIELDS)
        self.fields["html_body"].help_text = "Optional. Paragraphs, bold, italics, lists and links only."
        self.fields["sender_name"].help_text = (
            "Optional, up to 11 letters and digits. A named sender cannot take replies, so the text carries a short "
            "opt-out link instead of 'reply STOP'."
        )

    def clean(self):
        # The audience is checked here, before the model's constraints, so a missing choice is shown on its field.
        data = super().clean()
        try:
            outreach.check_audience(self.user, data)
        except ServiceError as error:
            _show(self, error)
        return data


class ScheduleForm(forms.Form):
    when = forms.ChoiceField(choices=[("now", "Send now"), ("later", "Send later")], widget=forms.RadioSelect)
    scheduled_at = forms.DateTimeField(
        required=False, label="Date and time (UK time)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean(self):
        data = super().clean()
        if data.get("when") == "later" and not data.get("scheduled_at"):
            self.add_error("scheduled_at", "Choose when to send it.")
        return data


class SampleForm(forms.Form):
    membership_number = forms.CharField(max_length=20, required=False, label="Preview for member (membership number)")


def _posted(request: HttpRequest):
    """The posted data, even when empty (an empty POST is bad input, not a fresh form)."""
    return request.POST if request.method == "POST" else None


def _require_sender(request: HttpRequest) -> None:
    if not outreach.can_send_campaigns(request.user):
        raise PermissionDenied


def _campaign_or_404(request: HttpRequest, campaign_id: int) -> Campaign:
    _require_sender(request)
    campaign = outreach.campaigns_visible_to(request.user).filter(pk=campaign_id).first()
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def _form_details(form: CampaignForm) -> dict:
    return {name: form.cleaned_data.get(name) for name in form.Meta.fields}


# The compose page groups the audience fields in a fieldset; these follow it.
MESSAGE_FIELDS = ("subject", "body", "html_body", "sender_name", "is_urgent")


def _form_context(form: CampaignForm, campaign: Campaign | None) -> dict:
    return {"form": form, "campaign": campaign, "message_fields": MESSAGE_FIELDS}


def _show(form, error: ServiceError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    _require_sender(request)
    campaigns = outreach.campaigns_visible_to(request.user)[:200]
    return render(request, "crm/outreach/campaign_list.html", {"campaigns": campaigns})


@login_required
def campaign_create(request: HttpRequest) -> HttpResponse:
    _require_sender(request)
    form = CampaignForm(_posted(request), user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = outreach.create_campaign(actor=request.user, details=_form_details(form))
        except ServiceError as error:
            _show(form, error)
        else:
            messages.success(request, "Campaign saved as a draft. Check the preview, then send it.")
            return redirect("campaign_detail", campaign.pk)
    return render(request, "crm/outreach/campaign_form.html", _form_context(form, None))


@login_required
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        messages.error(request, "A campaign that has started sending cannot be changed.")
        return redirect("campaign_detail", campaign.pk)
    form = CampaignForm(_posted(request), instance=Campaign.objects.get(pk=campaign.pk), user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            outreach.update_campaign(actor=request.user, campaign=campaign, details=_form_details(form))
        except ServiceError as error:
            _show(form, error)
        else:
            messages.success(request, "Campaign saved.")
            return redirect("campaign_detail", campaign.pk)
    return render(request, "crm/outreach/campaign_form.html", _form_context(form, campaign))


@login_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    sample_form = SampleForm(request.GET or None)
    sample = None
    if sample_form.is_valid() and sample_form.cleaned_data["membership_number"]:
        sample = Member.objects.filter(membership_number=sample_form.cleaned_data["membership_number"].strip()).first()
        if sample is None:
            sample_form.add_error("membership_number", "No member in this campaign's audience has that number.")
    preview = counts = problem = None
    try:
        preview = outreach.preview_campaign(actor=request.user, campaign=campaign, member=sample)
        counts = outreach.count_recipients(actor=request.user, campaign=campaign)
    except ServiceError as error:
        if error.field == "member":
            sample_form.add_error("membership_number", "No member in this campaign's audience has that number.")
            preview = outreach.preview_campaign(actor=request.user, campaign=campaign)
            counts = outreach.count_recipients(actor=request.user, campaign=campaign)
        else:
            problem = error.message
    cost = None
    if preview and preview.sms and counts:
        cost = outreach.estimated_cost_pence(preview.sms.segments, counts["sendable"])
    context = {
        "campaign": campaign,
        "preview": preview,
        "counts": counts,
        "cost_pounds": None if cost is None else f"{cost / 100:,.2f}",
        "problem": problem,
        "sample_form": sample_form,
        "schedule_form": ScheduleForm(initial={"when": "now"}),
        "price_pence": settings.SMS_PRICE_PER_SEGMENT_PENCE,
    }
    return render(request, "crm/outreach/campaign_detail.html", context)


@login_required
@require_POST
def campaign_test(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    try:
        message = outreach.send_test(actor=request.user, campaign=campaign)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Test sent to {message.to}.")
    return redirect("campaign_detail", campaign.pk)


@login_required
def campaign_schedule(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    form = ScheduleForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        at = form.cleaned_data["scheduled_at"] if form.cleaned_data["when"] == "later" else None
        try:
            campaign = outreach.schedule_campaign(actor=request.user, campaign=campaign, at=at)
        except ServiceError as error:
            _show(form, error)
        else:
            if at is None:
                messages.success(request, "Sending has started.")
                return redirect("campaign_progress", campaign.pk)
            messages.success(request, "Campaign scheduled.")
            return redirect("campaign_detail", campaign.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "crm/outreach/campaign_schedule.html", {"form": form, "campaign": campaign}, status=status)


@login_required
@require_POST
def campaign_cancel(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    try:
        outreach.cancel_campaign(actor=request.user, campaign=campaign)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Campaign cancelled: messages not yet sent will not go.")
    return redirect("campaign_progress", campaign.pk)


@login_required
def campaign_progress(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign_or_404(request, campaign_id)
    progress = outreach.campaign_progress(campaign)
    total = progress["total"] or 1
    rows = [
        {"status": status, "label": Message.Status(status).label, "count": progress[status]}
        for status in PROGRESS_STATUSES
    ]
    for row in rows:
        row["percent"] = round(100 * row["count"] / total, 1)
    is_live = campaign.status in (Campaign.Status.QUEUEING, Campaign.Status.SENDING, Campaign.Status.SCHEDULED)
    context = {"campaign": campaign, "rows": rows, "total": progress["total"], "is_live": is_live, "progress": progress}
    return render(request, "crm/outreach/campaign_progress.html", context)


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    _require_sender(request)
    texts = outreach.inbox_for(request.user)
    show_all = request.GET.get("show") == "all"
    if not show_all:
        texts = texts.filter(is_handled=False)
    return render(request, "crm/outreach/inbox.html", {"texts": texts[:200], "show_all": show_all})


@login_required
@require_POST
def inbox_handled(request: HttpRequest, text_id: int) -> HttpResponse:
    _require_sender(request)
    text = outreach.inbox_for(request.user).filter(pk=text_id).first()
    if text is None:
        raise Http404("No such text.")
    outreach.mark_text_handled(actor=request.user, text=text)
    messages.success(request, "Marked as dealt with.")
    return redirect("outreach_inbox")


@csrf_exempt  # one-click unsubscribe (RFC 8058): the mail client POSTs without a session or CSRF token
def opt_out(request: HttpRequest, token: str) -> HttpResponse:
    found = read_opt_out_token(token)
    if found is None or not Member.objects.filter(pk=found[0]).exists():
        return render(request, "crm/outreach/opt_out.html", {"invalid": True}, status=404)
    member_id, channel = found
    if request.method == "POST":
        outreach.unsubscribe(member_id=member_id, channel=channel)
        return render(request, "crm/outreach/opt_out.html", {"done": True, "channel": channel})
    # A GET (a person, or a mail scanner following links) only asks: it changes nothing.
    return render(request, "crm/outreach/opt_out.html", {"channel": channel})


# Twilio webhooks -----------------------------------------------------------------------------------------


def _twilio_checked(request: HttpRequest) -> HttpResponse | None:
    """None if the request is Twilio's; otherwise the answer to give (403 for a bad signature)."""
    if request.method != "POST":
        return HttpResponse("POST only.", status=405)
    if len(request.body) > MAX_WEBHOOK_BYTES:
        return HttpResponse("Too large.", status=413)
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    url = settings.QUORUM_SITE_URL.rstrip("/") + request.get_full_path()
    if not token or not signature or not RequestValidator(token).validate(url, request.POST, signature):
        log.warning("Twilio webhook refused: bad or missing signature for %s", request.path)
        return HttpResponse("Bad signature.", status=403)
    return None


def _twiml(reply: str) -> HttpResponse:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return HttpResponse(str(response), content_type="text/xml")


@csrf_exempt
def twilio_status(request: HttpRequest) -> HttpResponse:
    refused = _twilio_checked(request)
    if refused:
        return refused
    sid, status = request.POST.get("MessageSid", ""), request.POST.get("MessageStatus", "")
    if not sid or not status or len(sid) > 64 or len(status) > 20:
        return HttpResponse("MessageSid and MessageStatus are required.", status=400)
    event_id = request.headers.get("I-Twilio-Idempotency-Token") or f"{sid}:{status}"
    payload = {"MessageSid": sid, "MessageStatus": status, "ErrorCode": request.POST.get("ErrorCode", "")[:10]}
    if outreach.store_provider_event(provider="twilio", event_id=event_id, kind=f"status:{status}", payload=payload):
        outreach.record_sms_status(provider_id=sid, status=status, error_code=payload["ErrorCode"])
    return HttpResponse(status=204)


@csrf_exempt
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    refused = _twilio_checked(request)
    if refused:
        return refused
    sid, from_number, body = (request.POST.get(name, "") for name in ("MessageSid", "From", "Body"))
    if not sid or not from_number or len(sid) > 64 or len(from_number) > 16 or len(body) > 2000:
        return HttpResponse("MessageSid and From are required.", status=400)
    payload = {"MessageSid": sid, "From": from_number, "Body": body}
    if not outreach.store_provider_event(provider="twilio", event_id=sid, kind="inbound", payload=payload):
        return _twiml("")  # a replay: acted on already, and answered then
    return _twiml(outreach.receive_text(from_number=from_number, body=body, provider_id=sid))
