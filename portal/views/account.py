"""The portal's Account section: my details (with a workplace move an organiser confirms), my preferences
(campaign emails and texts) and my equalities answers. Every page works on request.user's own member."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from crm.errors import ServiceError
from crm.models import Member
from crm.models.equalities import CONSENT_WORDING, CONSENT_WORDING_VERSION, EqualitiesAccess
from crm.models.member_account import WorkplaceChange
from crm.services import equalities as equalities_services
from crm.services import member_account
from portal.access import member_required
from portal.forms import DetailsForm, EqualitiesForm, PreferencesForm, WorkplaceChoiceForm, WorkplaceSearchForm

SEARCH_RESULTS = 20


def _show_error(form, error: ServiceError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@member_required
@require_http_methods(["GET", "POST"])
def details(request: HttpRequest, member: Member) -> HttpResponse:
    initial = {name: getattr(member, name) for name in member_account.OWN_DETAIL_FIELDS}
    form = DetailsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            member_account.update_own_details(user=request.user, details=form.details())
        except ServiceError as error:
            _show_error(form, error)
        else:
            messages.success(request, "Your details are saved.")
            return redirect("portal:details")
    pending = WorkplaceChange.objects.filter(member=member, status=WorkplaceChange.Status.PENDING).first()
    decided = WorkplaceChange.objects.filter(member=member, status__in=["confirmed", "rejected"])
    last_decided = decided.order_by("-decided_at").first()
    return render(
        request,
        "portal/details.html",
        {"form": form, "member": member, "pending": pending, "last_decided": last_decided},
        status=400 if form.errors else 200,
    )


@member_required
@require_http_methods(["GET", "POST"])
def workplace_change(request: HttpRequest, member: Member) -> HttpResponse:
    """Search (GET ?q=) then choose (POST): the choice waits for an organiser."""
    query = request.GET.get("q", "") if request.method == "GET" else request.POST.get("q", "")
    search = WorkplaceSearchForm({"q": query} if query else None)
    found = member_account.workplaces_matching(search.cleaned_data["q"])[:SEARCH_RESULTS] if search.is_valid() else []
    choice = WorkplaceChoiceForm(
        request.POST if request.method == "POST" else None,
        workplaces=member_account.workplaces_matching(query) if query else member.branch.workplaces.none(),
    )
    if request.method == "POST" and choice.is_valid():
        try:
            member_account.request_workplace_change(user=request.user, workplace=choice.cleaned_data["workplace"])
        except ServiceError as error:
            _show_error(choice, error)
        else:
            messages.success(request, "Your move is waiting for an organiser to confirm it.")
            return redirect("portal:details")
    status = 400 if (query and search.errors) or choice.errors else 200
    return render(
        request,
        "portal/workplace_change.html",
        {"member": member, "search": search, "found": found, "choice": choice, "query": query},
        status=status,
    )


@member_required
@require_POST
def workplace_change_withdraw(request: HttpRequest, member: Member) -> HttpResponse:
    if member_account.withdraw_workplace_change(user=request.user):
        messages.success(request, "Your request to move is withdrawn.")
    return redirect("portal:details")


@member_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, member: Member) -> HttpResponse:
    form = PreferencesForm(
        request.POST if request.method == "POST" else None,
        initial={"email_consent": member.email_consent, "sms_consent": member.sms_consent},
    )
    if request.method == "POST" and form.is_valid():
        try:
            member_account.set_own_preferences(
                user=request.user,
                email_consent=form.cleaned_data["email_consent"],
                sms_consent=form.cleaned_data["sms_consent"],
            )
        except ServiceError as error:
            _show_error(form, error)
        else:
            messages.success(request, "Your preferences are saved.")
            return redirect("portal:preferences")
    records = member_account.latest_consent_records(member)
    channels = [
        {
            "field": form["email_consent"],
            "name": "Campaign emails",
            "wording": member_account.CAMPAIGN_CONSENT_WORDING["email"],
            "given": member.email_consent,
            "at": member.email_consent_at,
            "source": member.get_email_consent_source_display(),
            "record": records["email"],
        },
        {
            "field": form["sms_consent"],
            "name": "Campaign texts",
            "wording": member_account.CAMPAIGN_CONSENT_WORDING["sms"],
            "given": member.sms_consent,
            "at": member.sms_consent_at,
            "source": member.get_sms_consent_source_display(),
            "record": records["sms"],
        },
    ]
    return render(
        request,
        "portal/preferences.html",
        {
            "form": form,
            "member": member,
            "channels": channels,
            "version": member_account.CAMPAIGN_CONSENT_VERSION,
            "no_texts": member_account.number_is_opted_out(member),
        },
        status=400 if form.errors else 200,
    )


@member_required
@require_http_methods(["GET", "POST"])
def equalities(request: HttpRequest, member: Member) -> HttpResponse:
    answers = equalities_services.read_equalities_answers(
        reader=request.user, member=member, via=EqualitiesAccess.Via.PAGE
    )
    initial = {name: getattr(answers, name) for name in equalities_services.ANSWER_FIELDS} if answers else {}
    form = EqualitiesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            equalities_services.save_own_equalities_answers(user=request.user, answers=form.answers())
        except ServiceError as error:
            _show_error(form, error)
        else:
            messages.success(request, "Your equalities answers are saved.")
            return redirect("portal:equalities")
    return render(
        request,
        "portal/equalities.html",
        {"form": form, "answers": answers, "wording": CONSENT_WORDING, "version": CONSENT_WORDING_VERSION},
        status=400 if form.errors else 200,
    )


@member_required
@require_POST
def equalities_erase(request: HttpRequest, member: Member) -> HttpResponse:
    removed = equalities_services.withdraw_own_equalities_answers(user=request.user)
    messages.success(request, "Your equalities answers are deleted." if removed else "You had given no answers.")
    return redirect("portal:equalities")
