"""The portal's activity pages: the member's events, training record and ballots. Thin: each reads through the
events and elections selectors and acts through their services. Every page works on the signed-in member
(portal.access.member_required); an id in the URL is looked up among the member's own rows only, so another
member's id answers 404, exactly as an id that does not exist."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from crm.errors import ServiceError
from crm.models import Member
from elections import selectors as election_selectors
from elections.ballot_views import ballot_paper_page, private
from elections.election_forms import (
    AcceptNominationForm,
    CandidatePhotoForm,
    MemberNominationForm,
    ReceiptCheckForm,
    ReservedSeatsForm,
)
from elections.models import Candidate, Election, RollEntry
from elections.services import nominations, photos, setup
from events import selectors as event_selectors
from events import services as event_services
from events import tokens
from events.models import Registration
from portal.access import member_required

# --- Events -----------------------------------------------------------------------------------------------


def _calendar_feed_url(request: HttpRequest, member: Member) -> str:
    return request.build_absolute_uri(reverse("events:calendar_feed", args=[tokens.calendar_token(member)]))


def _own_registration(member: Member, registration_id: int) -> Registration:
    try:
        return event_selectors.own_registration(member, registration_id)
    except Registration.DoesNotExist as error:
        raise Http404("No such registration.") from error


@member_required
def events(request: HttpRequest, member: Member) -> HttpResponse:
    return render(
        request,
        "portal/events.html",
        {
            "member": member,
            "registrations": event_selectors.upcoming_registrations_of(member),
            "bookable": event_selectors.events_open_to(request.user, member),
            "calendar_url": _calendar_feed_url(request, member),
        },
    )


@member_required
def registration(request: HttpRequest, member: Member, registration_id: int) -> HttpResponse:
    registration = _own_registration(member, registration_id)
    is_registered = registration.status == Registration.Status.REGISTERED
    code = tokens.checkin_code(registration) if is_registered else ""
    return render(
        request,
        "portal/registration.html",
        {
            "registration": registration,
            "event": registration.event,
            "code": code,
            "qr": mark_safe(tokens.qr_svg(code)) if code else "",  # noqa: S308 - segno's own SVG of our code
            "calendar_url": _calendar_feed_url(request, member),
        },
    )


@member_required
@require_http_methods(["GET", "POST"])
def registration_cancel(request: HttpRequest, member: Member, registration_id: int) -> HttpResponse:
    """GET asks "Cancel your place at X on DATE?" (the Cancel links land here, so one slip of a thumb on a
    phone cancels nothing); the form's POST cancels. Both are plain HTML: no script needed."""
    registration = _own_registration(member, registration_id)
    if request.method == "GET":
        if registration.status == Registration.Status.CANCELLED:
            messages.info(request, "This registration is already cancelled.")
            return redirect("portal:registration", registration_id=registration.pk)
        return render(
            request, "portal/registration_cancel.html", {"registration": registration, "event": registration.event}
        )
    try:
        event_services.cancel_registration(actor=request.user, registration=registration)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("portal:registration", registration_id=registration.pk)
    messages.success(request, f"Your registration for {registration.event.title} is cancelled.")
    return redirect("portal:events")


# --- Training ---------------------------------------------------------------------------------------------


@member_required
def training(request: HttpRequest, member: Member) -> HttpResponse:
    return render(
        request,
        "portal/training.html",
        {
            "member": member,
            "certificate_links": True,  # the member's own record: each course completed has its certificate
            "certifications": event_selectors.certifications_of(member),
            "training_status": event_selectors.training_status_of(member),
            "bookings": event_selectors.own_registrations(member).filter(event__course__isnull=False),
            "attendance": event_selectors.attendance_of(member, viewer=request.user),
        },
    )


# --- Ballots ----------------------------------------------------------------------------------------------


def _own_roll_entry(member: Member, election_id: int) -> RollEntry:
    try:
        return election_selectors.roll_entry_of(member, election_id)
    except RollEntry.DoesNotExist as error:
        raise Http404("No such ballot.") from error


@member_required
def ballots(request: HttpRequest, member: Member) -> HttpResponse:
    entries = list(election_selectors.roll_entries_of(member))
    return render(
        request,
        "portal/ballots.html",
        {
            "open_entries": [e for e in entries if e.roll.election.status == Election.Status.VOTING],
            "past_entries": [e for e in entries if e.roll.election.status != Election.Status.VOTING],
            "standing": election_selectors.standing_candidacies(member),
            "open_nominations": election_selectors.nominations_open_to(member),
            "nominate_form": MemberNominationForm(),
            "accept_form": AcceptNominationForm(),
            "photo_form": CandidatePhotoForm(),
        },
    )


@private  # the ballot paper carries a fresh credential: never cached, referrer only to this site
@member_required
@require_POST
def ballot_vote(request: HttpRequest, member: Member, election_id: int) -> HttpResponse:
    """The "Vote" button: a fresh credential for the member's own roll entry (elections' reissue checks,
    audited), straight onto the ballot paper, which then works as from the link in their message."""
    entry = _own_roll_entry(member, election_id)
    try:
        credential = setup.credential_for_portal_vote(actor=request.user, entry=entry)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("portal:ballots")
    return ballot_paper_page(request, entry.roll.election, credential)


@member_required
@require_POST
def ballot_new_link(request: HttpRequest, member: Member, election_id: int) -> HttpResponse:
    entry = _own_roll_entry(member, election_id)
    try:
        setup.reissue_credential(actor=request.user, entry=entry)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "A new voting link is on its way. The old one no longer works.")
    return redirect("portal:ballots")


@member_required
def receipt_check(request: HttpRequest, member: Member) -> HttpResponse:
    """Is my receipt in the count? Checked against the published receipt list of an election the member was
    on the roll for, once voting is over. Nothing is stored and nothing is logged: a receipt names nobody."""
    elections = election_selectors.closed_elections_of(member)
    form = ReceiptCheckForm(request.POST or None, elections=elections)
    found = None
    if request.method == "POST" and form.is_valid():
        found = election_selectors.is_receipt_in_count(form.cleaned_data["election"], form.cleaned_data["receipt_code"])
    return render(
        request,
        "portal/receipt_check.html",
        {"form": form, "found": found, "has_elections": elections.exists()},
        status=400 if form.errors else 200,
    )


def _nomination_election(member: Member, election_id: int) -> Election:
    for item in election_selectors.nominations_open_to(member):
        if item["election"].pk == election_id:
            return item["election"]
    raise Http404("No such election taking nominations from you.")


@member_required
@require_POST
def nominate(request: HttpRequest, member: Member, election_id: int) -> HttpResponse:
    election = _nomination_election(member, election_id)
    form = MemberNominationForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("membership_number", ["Give a membership number."])))
        return redirect("portal:ballots")
    nominee = form.cleaned_data["membership_number"]
    try:
        nominations.nominate_by_member(actor=request.user, election=election, nominee=nominee)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"You nominated {nominee.full_name}.")
    return redirect("portal:ballots")


@member_required
@require_POST
def accept_nomination(request: HttpRequest, member: Member, election_id: int) -> HttpResponse:
    election = _nomination_election(member, election_id)
    form = AcceptNominationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The statement is too long.")
        return redirect("portal:ballots")
    try:
        nominations.accept_nomination(actor=request.user, election=election, **form.cleaned_data)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"You are standing in {election.title}.")
    return redirect("portal:ballots")


@member_required
@require_POST
def reserved_seats(request: HttpRequest, member: Member, candidate_id: int) -> HttpResponse:
    """A candidate counts themselves in (or out) for their election's reserved seats for a strand."""
    candidate = Candidate.objects.filter(pk=candidate_id, member=member).first()
    if candidate is None:
        raise Http404("No such candidacy.")
    form = ReservedSeatsForm(request.POST)
    form.is_valid()  # a single optional tick: anything else reads as not ticked
    try:
        setup.count_for_reserved_seats(actor=request.user, candidate=candidate, counts=form.cleaned_data["counts"])
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Saved.")
    return redirect("portal:ballots")


@member_required
@require_POST
def candidate_photo(request: HttpRequest, member: Member, candidate_id: int) -> HttpResponse:
    """A candidate sets, replaces or removes their own photo (elections.services.photos checks the file)."""
    candidate = Candidate.objects.filter(pk=candidate_id, member=member).first()
    if candidate is None:
        raise Http404("No such candidacy.")
    try:
        if request.POST.get("action") == "remove":
            photos.remove_candidate_photo(actor=request.user, candidate=candidate)
            messages.success(request, "Removed.")
        else:
            form = CandidatePhotoForm(request.POST, request.FILES)
            if not form.is_valid():
                messages.error(request, " ".join(form.errors.get("photo", ["Choose a photo to upload."])))
                return redirect("portal:ballots")
            photos.set_candidate_photo(actor=request.user, candidate=candidate, data=form.read())
            messages.success(request, "Photo saved.")
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect("portal:ballots")
