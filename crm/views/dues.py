"""Joining online, the Stripe webhook, a member's dues, and the organisers' dues overview. Thin: parse, call a
service or selector, render."""

from __future__ import annotations

import json

import stripe
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from crm import tasks
from crm.errors import ServiceError
from crm.models import Branch, Member, Workplace
from crm.models.dues import DuesAccount, SubscriptionRate
from crm.permissions import can_manage_member
from crm.phones import normalise_mobile
from crm.selectors import dues as dues_selectors
from crm.services import dues as dues_services
from crm.views import _member_or_404, _require, _show_service_error

# A Stripe event is a few kilobytes; anything near this is not from Stripe.
MAX_WEBHOOK_BYTES = 256 * 1024
JOIN_TOKEN_SALT = "quorum.join"
JOIN_TOKEN_MAX_AGE = 60 * 60 * 24 * 14
MAX_WORKPLACE_MATCHES = 20


# --- Forms ------------------------------------------------------------------------------------------------


class RateChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, rate: SubscriptionRate) -> str:
        amount = "no subscription" if rate.monthly_pence == 0 else f"£{rate.monthly_pence / 100:.2f} a month"
        return f"{rate.get_category_display()}, {rate.pay_band}: {amount}"


class JoinForm(forms.Form):
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    email = forms.EmailField(max_length=254, help_text="We send your membership confirmation here.")
    mobile = forms.CharField(max_length=32, required=False, help_text="A UK mobile, e.g. 07911 123456.")
    address_line1 = forms.CharField(label="Address", max_length=150, required=False)
    town = forms.CharField(max_length=100, required=False)
    postcode = forms.CharField(max_length=10, required=False)
    workplace_search = forms.CharField(
        label="Find your workplace",
        max_length=100,
        required=False,
        help_text="Part of its name or its postcode, then choose 'Find'.",
    )
    workplace = forms.ModelChoiceField(queryset=Workplace.objects.all(), required=False, label="Your workplace")
    branch = forms.ModelChoiceField(
        queryset=Branch.objects.all(),
        required=False,
        label="Your branch, if you have no workplace",
        help_text="For supply staff and retired members: the branch where you live.",
    )
    rate = RateChoiceField(queryset=SubscriptionRate.objects.none(), label="Membership and rate")
    email_consent = forms.BooleanField(required=False, label="Email me union news and campaigns")
    sms_consent = forms.BooleanField(required=False, label="Text me union news and campaigns")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rate"].queryset = dues_selectors.rates_on_offer()
        # Only the matches of the search are listed (the field accepts any workplace): a page listing every
        # school in the country would be unusable.
        query = (self.data.get("workplace_search") or "").strip()[:100]
        matches = Workplace.objects.none()
        if len(query) >= 3:
            matches = Workplace.objects.filter(Q(name__icontains=query) | Q(postcode__istartswith=query))
        chosen = self.data.get("workplace") or ""
        if chosen.isdigit():
            matches = matches | Workplace.objects.filter(pk=chosen)
        self.workplace_matches = list(matches.select_related("branch").distinct()[:MAX_WORKPLACE_MATCHES])
        self.fields["workplace"].widget.choices = [("", "---------")] + [
            (w.pk, f"{w.name}, {w.postcode or w.branch.name}") for w in self.workplace_matches
        ]

    def clean_mobile(self) -> str:
        return normalise_mobile(self.cleaned_data.get("mobile", ""))

    def clean(self):
        cleaned = super().clean()
        place_given = cleaned.get("workplace") or cleaned.get("branch")
        if not place_given and "workplace" not in self.errors and "branch" not in self.errors:
            self.add_error("workplace", "Choose your workplace or, if you have none, your branch.")
        if cleaned.get("sms_consent") and not cleaned.get("mobile") and "mobile" not in self.errors:
            self.add_error("mobile", "Give a mobile number to get texts, or untick texts.")
        return cleaned

    def details(self) -> dict:
        data = self.cleaned_data
        details = {f: data[f] for f in dues_services.JOIN_FIELDS if f not in ("workplace", "branch")}
        details["workplace"] = data["workplace"]
        details["branch"] = None if data["workplace"] else data["branch"]
        return details


class RateForm(forms.Form):
    category = forms.ChoiceField(choices=Member.Category.choices)
    pay_band = forms.CharField(max_length=60)
    monthly_pence = forms.IntegerField(
        label="Monthly rate in pence", min_value=0, max_value=100_000, help_text="e.g. 2450 for £24.50; 0 if exempt."
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Offered on the join page")


class PaymentMethodForm(forms.Form):
    method = forms.ChoiceField(label="Pays by", choices=DuesAccount.Method.choices)


# --- Joining ------------------------------------------------------------------------------------------------


def _join_token(member: Member) -> str:
    return signing.dumps(member.pk, salt=JOIN_TOKEN_SALT)


def _member_from_token(token: str) -> Member:
    try:
        member_id = signing.loads(token, salt=JOIN_TOKEN_SALT, max_age=JOIN_TOKEN_MAX_AGE)
        return Member.objects.get(pk=member_id, status=Member.Status.APPLICANT)
    except (signing.BadSignature, Member.DoesNotExist, TypeError, ValueError) as error:
        raise Http404("This link has expired or has already been used.") from error


def _checkout_or_explain(request: HttpRequest, member: Member) -> HttpResponse:
    """Send the applicant to Stripe Checkout, or explain why not (their application is kept either way)."""
    token = _join_token(member)
    try:
        url = dues_services.start_checkout(
            member=member,
            success_url=request.build_absolute_uri(reverse("join_done")),
            cancel_url=request.build_absolute_uri(reverse("join_unpaid", args=[token])),
        )
    except dues_services.PaymentNotSetUp:
        return render(request, "crm/dues/join_recorded.html", {"member": member, "reason": "not_set_up"})
    except ServiceError as error:
        return render(
            request,
            "crm/dues/join_recorded.html",
            {"member": member, "reason": "failed", "error": error.message, "token": token},
            status=502,
        )
    return redirect(url)


def join(request: HttpRequest) -> HttpResponse:
    """The public join page: details, workplace lookup, rate, consent; then Stripe Checkout."""
    form = JoinForm(request.POST if request.method == "POST" else None)
    finding = "find" in request.POST
    if request.method == "POST" and not finding and form.is_valid():
        rate = form.cleaned_data["rate"]
        try:
            member = dues_services.record_applicant(
                details=form.details(),
                rate=rate,
                email_consent=form.cleaned_data["email_consent"],
                sms_consent=form.cleaned_data["sms_consent"],
            )
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            if rate.monthly_pence == 0:
                return render(request, "crm/dues/join_recorded.html", {"member": member, "reason": "exempt"})
            return _checkout_or_explain(request, member)
    if finding:
        form.errors.clear()  # looking up a workplace is not a submission
    status = 400 if request.method == "POST" and not finding else 200
    return render(request, "crm/dues/join.html", {"form": form, "finding": finding}, status=status)


@require_POST
def join_pay(request: HttpRequest, token: str) -> HttpResponse:
    """Try Checkout again for an application already recorded (the link in the page we showed them)."""
    return _checkout_or_explain(request, _member_from_token(token))


def join_unpaid(request: HttpRequest, token: str) -> HttpResponse:
    """Where Stripe sends someone who left Checkout: the application is kept, and they can pay later."""
    member = _member_from_token(token)
    return render(request, "crm/dues/join_recorded.html", {"member": member, "reason": "unpaid", "token": token})


def join_done(request: HttpRequest) -> HttpResponse:
    """Where Stripe sends someone who paid. Membership is confirmed by Stripe's webhook, not by this page."""
    return render(request, "crm/dues/join_done.html")


# --- The webhook --------------------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verify, store once by id, hand to a task, answer 200 (DESIGN.md rule 6). Nothing is stored unless the
    signature is good and the event has Stripe's shape."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        return HttpResponseBadRequest("Stripe webhooks are not set up here.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_WEBHOOK_BYTES:
        return HttpResponse("Too large.", status=413)
    payload = request.read(MAX_WEBHOOK_BYTES + 1)
    if len(payload) > MAX_WEBHOOK_BYTES:
        return HttpResponse("Too large.", status=413)
    signature = request.headers.get("Stripe-Signature")
    if not signature:
        return HttpResponseBadRequest("Missing Stripe-Signature.")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=stripe.Webhook.DEFAULT_TOLERANCE)
        event = json.loads(payload)
    except stripe.SignatureVerificationError:
        return HttpResponseBadRequest("Bad signature.")
    except (UnicodeDecodeError, ValueError, RecursionError):
        return HttpResponseBadRequest("Not JSON.")
    if not isinstance(event, dict):
        return HttpResponseBadRequest("Not a Stripe event.")
    try:
        stored, _ = dues_services.record_stripe_event(event=event)
    except ServiceError as error:
        return HttpResponseBadRequest(error.message)
    if stored.state == stored.State.RECEIVED:
        # A replay of an event not yet processed is handed on again: processing is idempotent.
        tasks.process_stripe_event.delay(stored.pk)
    return HttpResponse("OK")


# --- A member's dues ----------------------------------------------------------------------------------------


def _dues_member_or_404(request: HttpRequest, member_id: int) -> Member:
    member = _member_or_404(request.user, member_id)
    _require(dues_selectors.can_view_dues_of(request.user, member))
    return member


@login_required
def member_dues(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _dues_member_or_404(request, member_id)
    account = dues_selectors.dues_account_of(member)
    can_manage = can_manage_member(request.user, member)
    return render(
        request,
        "crm/dues/member_dues.html",
        {
            "member": member,
            "account": account,
            "payments": dues_selectors.payments_of(member),
            "method_form": PaymentMethodForm(initial={"method": account.method if account else "stripe"})
            if can_manage
            else None,
            "is_self": request.user.member_id == member.pk,
        },
    )


@login_required
@require_POST
def member_dues_method(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _dues_member_or_404(request, member_id)
    _require(can_manage_member(request.user, member))
    form = PaymentMethodForm(request.POST)
    if form.is_valid():
        try:
            account = dues_services.set_payment_method(
                actor=request.user, member=member, method=form.cleaned_data["method"]
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Now pays by: {account.get_method_display()}.")
    else:
        messages.error(request, "Choose a payment method from the list.")
    return redirect("member_dues", member_id=member.pk)


@login_required
@require_POST
def member_confirm(request: HttpRequest, member_id: int) -> HttpResponse:
    """An organiser confirms an applicant who pays no subscription, by payroll, or offline."""
    member = _dues_member_or_404(request, member_id)
    _require(can_manage_member(request.user, member))
    try:
        member = dues_services.confirm_membership(actor=request.user, member=member)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{member.full_name} is now member {member.membership_number}.")
    return redirect("member_dues", member_id=member.pk)


@login_required
@require_POST
def member_dues_portal(request: HttpRequest, member_id: int) -> HttpResponse:
    """The member themselves, to Stripe's customer portal to change their card or bank details."""
    member = _dues_member_or_404(request, member_id)
    if request.user.member_id != member.pk:
        raise PermissionDenied
    try:
        url = dues_services.portal_url(
            member=member, return_url=request.build_absolute_uri(reverse("member_dues", args=[member.pk]))
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("member_dues", member_id=member.pk)
    return redirect(url)


# --- Organisers ---------------------------------------------------------------------------------------------


@login_required
def dues_overview(request: HttpRequest) -> HttpResponse:
    _require(dues_selectors.can_view_dues_overview(request.user))
    arrears = dues_selectors.arrears_by_branch(request.user)
    income = dues_selectors.monthly_income_by_category(request.user)
    return render(
        request,
        "crm/dues/overview.html",
        {
            "arrears": arrears,
            "arrears_max": max((row["members"] for row in arrears), default=0),
            "failed": dues_selectors.recent_failed_payments(request.user),
            "income": income,
            "income_max": max((row["pence"] for row in income), default=0),
            "joins": dues_selectors.unfinished_joins(request.user),
            "events": dues_selectors.events_for_review(request.user),
            "grace_days": settings.DUES_GRACE_DAYS,
        },
    )


@login_required
def rate_list(request: HttpRequest) -> HttpResponse:
    _require(dues_selectors.can_view_dues_overview(request.user))
    return render(
        request,
        "crm/dues/rates.html",
        {"rates": SubscriptionRate.objects.all(), "can_edit": dues_services.can_edit_rates(request.user)},
    )


@login_required
def rate_edit(request: HttpRequest, rate_id: int | None = None) -> HttpResponse:
    _require(dues_services.can_edit_rates(request.user))
    rate = None
    if rate_id is not None:
        rate = SubscriptionRate.objects.filter(pk=rate_id).first()
        if rate is None:
            raise Http404("No such rate.")
    initial = {f: getattr(rate, f) for f in ("category", "pay_band", "monthly_pence", "is_active")} if rate else None
    form = RateForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            dues_services.save_rate(actor=request.user, rate=rate, **form.cleaned_data)
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, "Rate saved.")
            return redirect("rate_list")
    return render(request, "crm/dues/rate_form.html", {"form": form, "rate": rate}, status=400 if form.errors else 200)
