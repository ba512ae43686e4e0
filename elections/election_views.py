"""Pages for organisers, scrutineers and reps: set-up, roll, turnout, close, results. Thin."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from crm.errors import ServiceError
from crm.models import AuditEntry, Message
from crm.selectors.equalities import SMALL
from elections import selectors
from elections.election_forms import (
    BranchNominationForm,
    CandidateForm,
    CandidatePhotoForm,
    ElectionForm,
    QuestionForm,
    RollAdditionForm,
)
from elections.models import CandidatePhoto, Count, Election, RollEntry
from elections.permissions import can_create_elections, can_manage_election, can_scrutinise, can_see_turnout
from elections.services import closing, nominations, photos, setup


def _election_or_404(request: HttpRequest, election_id: int) -> Election:
    try:
        return selectors.election_for(request.user, election_id)
    except Election.DoesNotExist as error:
        raise Http404("No such election.") from error


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _form_error(form: Any, error: ServiceError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@login_required
def election_list(request: HttpRequest) -> HttpResponse:
    elections = selectors.elections_for(request.user)
    _require(request.user.is_staff_role or can_scrutinise(request.user))
    return render(
        request,
        "elections/election_list.html",
        {"elections": elections, "can_create": can_create_elections(request.user)},
    )


@login_required
def election_create(request: HttpRequest) -> HttpResponse:
    _require(can_create_elections(request.user))
    form = ElectionForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            election = setup.create_election(actor=request.user, details=form.details())
        except ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(request, f"Set up “{election.title}”. Add candidates or questions next.")
            return redirect("elections:election_detail", election_id=election.pk)
    return render(
        request, "elections/election_form.html", {"form": form, "election": None}, status=400 if form.errors else 200
    )


@login_required
def election_edit(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(can_manage_election(request.user, election))
    form = ElectionForm(request.POST or None, user=request.user, initial=ElectionForm.initial_for(election))
    if request.method == "POST" and form.is_valid():
        try:
            setup.update_election(actor=request.user, election=election, details=form.details())
        except ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(request, "Saved.")
            return redirect("elections:election_detail", election_id=election.pk)
    return render(
        request,
        "elections/election_form.html",
        {"form": form, "election": election},
        status=400 if form.errors else 200,
    )


@login_required
def election_detail(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    manage = can_manage_election(request.user, election)
    roll = getattr(election, "roll", None) if election.status != Election.Status.DRAFT else None
    context = {
        "election": election,
        "can_manage": manage,
        "can_scrutinise": can_scrutinise(request.user),
        "candidates": election.candidates.select_related("member").annotate(
            has_photo=Exists(CandidatePhoto.objects.filter(candidate=OuterRef("pk")))
        ),
        "questions": election.questions.all(),
        "nominations": selectors.nominations_of(election)
        if election.nomination_route != Election.NominationRoute.ORGANISER
        else [],
        "preview": selectors.electorate_preview(election)
        if election.status == Election.Status.DRAFT and (manage or can_scrutinise(request.user))
        else None,
        "roll": roll,
        "roll_size": roll.entries.count() if roll else 0,
        "roll_is_suppressed": bool(roll)
        and election.electorate == Election.Electorate.STRAND
        and roll.size_at_freeze < SMALL,
        "credentials_sent": roll.entries.filter(credential_hash__isnull=False).count() if roll else 0,
        "undelivered": Message.objects.filter(
            key__startswith=f"election:{election.pk}:credential:",
            status__in=[Message.Status.SUPPRESSED, Message.Status.FAILED],
        ).count()
        if roll and manage
        else 0,
        "count": Count.objects.filter(election=election).first(),
        "is_certified": closing.is_certified(election),
        "photos_shown": manage or can_scrutinise(request.user) or photos.candidates_are_public(election),
        "audit": AuditEntry.objects.filter(target_type="elections.election", target_id=election.pk)[:30]
        if manage or can_scrutinise(request.user)
        else [],
    }
    return render(request, "elections/election_detail.html", context)


@login_required
def candidate_add(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(can_manage_election(request.user, election))
    form = CandidateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            setup.add_candidate(actor=request.user, election=election, **form.cleaned_data)
        except ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(request, "Candidate added.")
            return redirect("elections:election_detail", election_id=election.pk)
    return render(
        request,
        "elections/simple_form.html",
        {"form": form, "election": election, "heading": "Add a candidate", "button": "Add candidate"},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def candidate_withdraw(request: HttpRequest, election_id: int, candidate_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(can_manage_election(request.user, election))
    candidate = election.candidates.filter(pk=candidate_id).first()
    if candidate is None:
        raise Http404("No such candidate.")
    _run(request, lambda: setup.withdraw_candidate(actor=request.user, candidate=candidate), "Withdrawn.")
    return redirect("elections:election_detail", election_id=election.pk)


@login_required
def candidate_photo_edit(request: HttpRequest, election_id: int, candidate_id: int) -> HttpResponse:
    """An organiser sets, replaces or removes a candidate's photo while the election is being set up."""
    election = _election_or_404(request, election_id)
    _require(can_manage_election(request.user, election))
    candidate = election.candidates.filter(pk=candidate_id).first()
    if candidate is None:
        raise Http404("No such candidate.")
    if request.method == "POST" and request.POST.get("action") == "remove":
        _run(request, lambda: photos.remove_candidate_photo(actor=request.user, candidate=candidate), "Removed.")
        return redirect("elections:election_detail", election_id=election.pk)
    form = CandidatePhotoForm(request.POST, request.FILES) if request.method == "POST" else CandidatePhotoForm()
    if form.is_bound and form.is_valid():
        try:
            photos.set_candidate_photo(actor=request.user, candidate=candidate, data=form.read())
        except ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(request, f"Photo of {candidate.name} saved.")
            return redirect("elections:election_detail", election_id=election.pk)
    return render(
        request,
        "elections/candidate_photo_form.html",
        {
            "form": form,
            "election": election,
            "candidate": candidate,
            "has_photo": CandidatePhoto.objects.filter(candidate=candidate).exists(),
        },
        status=400 if form.errors else 200,
    )


def _run(request: HttpRequest, action: Any, success: str) -> bool:
    try:
        action()
    except ServiceError as error:
        messages.error(request, error.message)
        return False
    messages.success(request, success)
    return True


@login_required
@require_POST
def ballot_order(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(can_manage_election(request.user, election))
    _run(request, lambda: setup.set_ballot_order(actor=request.user, election=election), "Ballot order set.")
    return redirect("elections:election_detail", election_id=election.pk)


@login_required
def question_add(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(can_manage_election(request.user, election))
    form = QuestionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            setup.add_question(
                actor=request.user,
                election=election,
                text=form.cleaned_data["text"],
                options=form.cleaned_data["options"].splitlines(),
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(request, "Question added.")
            return redirect("elections:election_detail", election_id=election.pk)
    return render(
        request,
        "elections/simple_form.html",
        {"form": form, "election": election, "heading": "Add a question", "button": "Add question"},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def election_open(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(can_manage_election(request.user, election))
    _run(
        request,
        lambda: setup.open_voting(actor=request.user, election=election),
        "Voting is open: the roll is frozen and credentials are being sent.",
    )
    return redirect("elections:election_detail", election_id=election.pk)


@login_required
def roll_add(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(can_manage_election(request.user, election))
    form = RollAdditionForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            setup.add_to_roll(
                actor=request.user,
                election=election,
                member=form.cleaned_data["membership_number"],
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(request, "Added to the roll; a credential is on its way.")
            return redirect("elections:election_detail", election_id=election.pk)
    return render(
        request,
        "elections/simple_form.html",
        {"form": form, "election": election, "heading": "Add a member to the roll", "button": "Add to the roll"},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def roll_reissue(request: HttpRequest, election_id: int, entry_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(can_manage_election(request.user, election))
    entry = RollEntry.objects.filter(roll__election=election, pk=entry_id).first()
    if entry is None:
        raise Http404("No such roll entry.")
    _run(request, lambda: setup.reissue_credential(actor=request.user, entry=entry), "A new credential was sent.")
    return redirect("elections:election_turnout", election_id=election.pk)


@login_required
def election_turnout(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(can_see_turnout(request.user, election) and election.status != Election.Status.DRAFT)
    by = request.GET.get("by", "branch")
    if by not in selectors.voting.TURNOUT_GROUPS:
        by = "branch"
    return render(
        request,
        "elections/turnout.html",
        {
            "election": election,
            "turnout": selectors.turnout(request.user, election, by=by),
            "non_voters": selectors.non_voters_for(request.user, election)[:500],
            "can_manage": can_manage_election(request.user, election),
        },
    )


@login_required
@require_POST
def election_close(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(can_manage_election(request.user, election))
    _run(request, lambda: closing.close_election(actor=request.user, election=election), "Closed, sealed and counted.")
    return redirect("elections:election_detail", election_id=election.pk)


@login_required
@require_POST
def election_certify(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(can_scrutinise(request.user))
    _run(request, lambda: closing.certify_question_results(actor=request.user, election=election), "Certified.")
    return redirect("elections:election_detail", election_id=election.pk)


@login_required
@require_POST
def election_publish(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(can_manage_election(request.user, election))
    _run(request, lambda: closing.publish_results(actor=request.user, election=election), "Results published.")
    return redirect("elections:election_detail", election_id=election.pk)


@login_required
def branch_nomination_add(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _election_or_404(request, election_id)
    _require(request.user.is_national or request.user.role == "organiser")
    form = BranchNominationForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            nominations.nominate_by_branch(
                actor=request.user,
                election=election,
                branch=form.cleaned_data["branch"],
                nominee=form.cleaned_data["membership_number"],
            )
        except ServiceError as error:
            _form_error(form, error)
        else:
            messages.success(request, "Branch nomination recorded.")
            return redirect("elections:election_detail", election_id=election.pk)
    return render(
        request,
        "elections/simple_form.html",
        {"form": form, "election": election, "heading": "Record a branch nomination", "button": "Record"},
        status=400 if form.errors else 200,
    )
