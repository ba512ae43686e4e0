"""Pages for voters: the ballot (credential in, receipt out), my ballots, results and the receipt list.

The ballot page needs no sign-in: the one-time credential from the member's message is the key. It works
without JavaScript: choose or number, review, cast. Responses are never cached and send a referrer only to this site, so
the credential in the link does not travel to anyone else.
"""

from __future__ import annotations

import json
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from crm.errors import ServiceError
from elections import selectors
from elections.counting.report import stage_table, svg_chart
from elections.election_forms import (
    AcceptNominationForm,
    CandidatePhotoForm,
    MemberNominationForm,
    ReservedSeatsForm,
    read_ballot,
)
from elections.models import Candidate, CandidatePhoto, Count, Election, RollEntry
from elections.permissions import can_manage_election, can_scrutinise
from elections.services import nominations, photos, setup
from elections.services.voting import (
    BallotPaper,
    BallotRefused,
    CredentialRefused,
    cast_ballot,
    check_choices,
    votable_election,
)
from elections.services.voting import check_credential as credential_check

MAX_CHOICES_JSON = 20_000
# The ballot page needs no sign-in, so its photo links carry a signed, expiring token instead: it says only
# "this page may show this candidate's photo", never who the voter is (no credential in an image address).
PHOTO_SIGNER_SALT = "elections.candidate-photo"
PHOTO_LINK_MAX_AGE = 2 * 24 * 3600


def private(view: Any) -> Any:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        response["Referrer-Policy"] = "same-origin"  # no-referrer would send Origin: null and fail CSRF
        return response

    return wrapped


def _describe(paper: BallotPaper, choices: dict[str, Any]) -> list[str]:
    """The voter's choices in words, for the review step."""
    if choices.get("spoilt"):
        return ["You are spoiling your ballot: it will be counted as cast, for nobody."]
    names = dict(paper.candidates)
    if "ranking" in choices:
        return [f"{n}. {names[pk]}" for n, pk in enumerate(choices["ranking"], start=1)] or [
            "You have not numbered anyone: your ballot will be blank."
        ]
    if "marks" in choices:
        return [f"✓ {names[pk]}" for pk in choices["marks"]] or [
            "You have not marked anyone: your ballot will be blank."
        ]
    lines = []
    for pk, text, options in paper.questions:
        answer = choices.get("answers", {}).get(str(pk))
        lines.append(f"{text} {options[answer] if answer is not None else '(left blank)'}")
    return lines


def _ballot_page(request: HttpRequest, paper: BallotPaper, credential: str, **extra: Any) -> HttpResponse:
    choices = extra.pop("choices", {}) or {}
    errors = extra.pop("errors", {})

    def part(name: str, kind: type) -> Any:  # what came back may have been tampered with: show only what fits
        value = choices.get(name) if isinstance(choices, dict) else None
        return value if isinstance(value, kind) else kind()

    ranking, marks, answers = part("ranking", list), part("marks", list), part("answers", dict)
    ranks = {pk: n for n, pk in enumerate(ranking, start=1) if isinstance(pk, int)}
    typed = extra.pop("typed", None)  # what the voter typed, shown back as typed when it could not be read
    if typed is not None:
        ranks = {pk: typed.get(f"rank-{pk}", "")[:4] for pk, _name in paper.candidates}
    context = {
        "election": paper.election,
        "paper": paper,
        "credential": credential,
        "candidates": [
            {
                "pk": pk,
                "name": name,
                "rank": ranks.get(pk, ""),
                "marked": pk in marks,
                "error": errors.get(f"rank-{pk}", ""),
                "photo_url": _photo_link(paper.election.pk, pk) if pk in paper.photo_ids else "",
            }
            for pk, name in paper.candidates
        ],
        "questions": [
            {
                "pk": pk,
                "text": text,
                "options": list(enumerate(options)),
                "answer": answers.get(str(pk)),
            }
            for pk, text, options in paper.questions
        ],
        "errors": errors,
        **extra,
    }
    return render(request, "elections/vote.html", context, status=400 if context["errors"] else 200)


def _photo_link(election_id: int, candidate_id: int) -> str:
    token = signing.TimestampSigner(salt=PHOTO_SIGNER_SALT).sign(f"{election_id}.{candidate_id}")
    return reverse("elections:candidate_photo", args=[election_id, candidate_id]) + "?" + urlencode({"t": token})


def _has_photo_link(request: HttpRequest, election_id: int, candidate_id: int) -> bool:
    token = request.GET.get("t", "")[:200]
    try:
        signed = signing.TimestampSigner(salt=PHOTO_SIGNER_SALT).unsign(token, max_age=PHOTO_LINK_MAX_AGE)
    except signing.BadSignature:
        return False
    return signed == f"{election_id}.{candidate_id}"


def candidate_photo(request: HttpRequest, election_id: int, candidate_id: int) -> HttpResponse:
    """A candidate's photo, to whoever may see it (elections.selectors.candidate_photo_for); else 404."""
    photo = selectors.candidate_photo_for(
        request.user,
        election_id,
        candidate_id,
        from_ballot_page=_has_photo_link(request, election_id, candidate_id),
    )
    if photo is None:
        raise Http404("No such photo.")
    response = HttpResponse(bytes(photo.image), content_type=photos.CONTENT_TYPE)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'inline; filename="candidate-{candidate_id}.jpg"'
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=300"
    return response


def _from_another_site(request: HttpRequest) -> bool:
    """A browser posting a form says where the page came from (Origin, else Referer); a cross-site post is
    refused. (The credential in the form is what authorises a cast: see "Casting speed" in the README.)"""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return bool(source)  # no header: not a browser's cross-site form post; "null": an opaque origin
    parts = urlsplit(source)
    return parts.netloc != request.get_host() or (request.is_secure() and parts.scheme != "https")


@csrf_exempt  # no cookie or session for a voting link: the one-time credential is the key (README)
@private
def vote(request: HttpRequest, election_id: int) -> HttpResponse:
    if request.method == "POST" and _from_another_site(request):
        return HttpResponse("This ballot can only be sent from this site's own ballot page.", status=403)
    election = votable_election(election_id)
    if election is None:
        raise Http404("No such election.")
    credential = (request.POST if request.method == "POST" else request.GET).get("credential", "")
    step = request.POST.get("step", "review") if request.method == "POST" else ""
    if step != "cast":  # casting checks the credential itself, under its lock
        try:
            credential_check(election=election, credential=credential)
        except CredentialRefused as refusal:
            return render(
                request, "elections/vote_refused.html", {"election": election, "reason": refusal.message}, status=403
            )
    paper = BallotPaper.of(election)
    if request.method != "POST":
        return _ballot_page(request, paper, credential)
    if step in ("change", "cast"):
        raw = request.POST.get("choices", "")
        try:
            choices = json.loads(raw) if len(raw) <= MAX_CHOICES_JSON else None
        except ValueError:
            choices = None
        if choices is None and step == "change":
            return _ballot_page(
                request, paper, credential, errors={"ballot": "Your choices were lost; please choose again."}
            )
        if step == "change":
            return _ballot_page(request, paper, credential, choices=choices)
        try:
            ballot = cast_ballot(election=election, credential=credential, choices=choices, paper=paper)
        except CredentialRefused as refusal:
            return render(
                request, "elections/vote_refused.html", {"election": election, "reason": refusal.message}, status=403
            )
        except BallotRefused as refusal:  # unreadable choices come here too, after the credential was checked
            kept = choices if isinstance(choices, dict) else {}
            return _ballot_page(request, paper, credential, choices=kept, errors={"ballot": refusal.message})
        return render(request, "elections/vote_receipt.html", {"election": election, "receipt": ballot.receipt_code})
    choices, errors = read_ballot(paper, request.POST)
    if not errors:
        try:
            check_choices(paper, choices)
        except BallotRefused as refusal:
            errors = {"ballot": refusal.message}
    if errors:
        return _ballot_page(request, paper, credential, choices=choices, errors=errors, typed=request.POST)
    return render(
        request,
        "elections/vote_review.html",
        {
            "election": election,
            "credential": credential,
            "choices_json": json.dumps(choices),
            "lines": _describe(paper, choices),
        },
    )


@login_required
def my_ballots(request: HttpRequest) -> HttpResponse:
    member = request.user.member
    entries = selectors.roll_entries_of(member) if member else RollEntry.objects.none()
    open_nominations = selectors.nominations_open_to(member) if member else []
    standing = (
        Candidate.objects.filter(member=member, withdrawn_at__isnull=True, election__status=Election.Status.DRAFT)
        .annotate(has_photo=Exists(CandidatePhoto.objects.filter(candidate=OuterRef("pk"))))
        .select_related("election")
        if member
        else []
    )
    return render(
        request,
        "elections/my_ballots.html",
        {
            "entries": entries,
            "standing": standing,
            "open_nominations": open_nominations,
            "nominate_form": MemberNominationForm(),
            "accept_form": AcceptNominationForm(),
            "photo_form": CandidatePhotoForm(),
        },
    )


def _nomination_election(request: HttpRequest, election_id: int) -> Election:
    member = request.user.member
    for item in selectors.nominations_open_to(member) if member else []:
        if item["election"].pk == election_id:
            return item["election"]
    raise Http404("No such election taking nominations from you.")


@login_required
@require_POST
def my_nomination(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _nomination_election(request, election_id)
    form = MemberNominationForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("membership_number", ["Give a membership number."])))
        return redirect("elections:my_ballots")
    nominee = form.cleaned_data["membership_number"]
    try:
        nominations.nominate_by_member(actor=request.user, election=election, nominee=nominee)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"You nominated {nominee.full_name}.")
    return redirect("elections:my_ballots")


@login_required
@require_POST
def my_acceptance(request: HttpRequest, election_id: int) -> HttpResponse:
    election = _nomination_election(request, election_id)
    form = AcceptNominationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The statement is too long.")
        return redirect("elections:my_ballots")
    try:
        nominations.accept_nomination(actor=request.user, election=election, **form.cleaned_data)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"You are standing in {election.title}.")
    return redirect("elections:my_ballots")


@login_required
@require_POST
def my_reserved_seats(request: HttpRequest, candidate_id: int) -> HttpResponse:
    """A candidate counts themselves in (or out) for their election's reserved seats for a strand."""
    candidate = Candidate.objects.filter(pk=candidate_id, member_id=request.user.member_id).first()
    if candidate is None or not request.user.member_id:
        raise Http404("No such candidacy.")
    form = ReservedSeatsForm(request.POST)
    form.is_valid()  # a single optional tick: anything else reads as not ticked
    try:
        setup.count_for_reserved_seats(actor=request.user, candidate=candidate, counts=form.cleaned_data["counts"])
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Saved.")
    return redirect("elections:my_ballots")


@login_required
@require_POST
def my_candidate_photo(request: HttpRequest, candidate_id: int) -> HttpResponse:
    """A candidate sets, replaces or removes their own photo from My ballots."""
    candidate = Candidate.objects.filter(pk=candidate_id, member_id=request.user.member_id).first()
    if candidate is None or not request.user.member_id:
        raise Http404("No such candidacy.")
    if request.POST.get("action") == "remove":
        _run_photo(request, lambda: photos.remove_candidate_photo(actor=request.user, candidate=candidate), "Removed.")
        return redirect("elections:my_ballots")
    form = CandidatePhotoForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("photo", ["Choose a photo to upload."])))
        return redirect("elections:my_ballots")
    data = form.read()
    _run_photo(
        request, lambda: photos.set_candidate_photo(actor=request.user, candidate=candidate, data=data), "Photo saved."
    )
    return redirect("elections:my_ballots")


def _run_photo(request: HttpRequest, action: Any, success: str) -> None:
    try:
        action()
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)


@login_required
@require_POST
def my_new_link(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = RollEntry.objects.filter(pk=entry_id, member_id=request.user.member_id).first()
    if entry is None or not request.user.member_id:
        raise Http404("No such ballot.")
    try:
        setup.reissue_credential(actor=request.user, entry=entry)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "A new voting link is on its way. The old one no longer works.")
    return redirect("elections:my_ballots")


def _may_see_results(user: Any, election: Election) -> bool:
    if election.status == Election.Status.CLOSED:
        return can_manage_election(user, election) or can_scrutinise(user)
    if election.status != Election.Status.PUBLISHED:
        return False
    if can_scrutinise(user) or selectors.elections_for(user).filter(pk=election.pk).exists():
        return True
    return bool(user.member_id) and RollEntry.objects.filter(roll__election=election, member_id=user.member_id).exists()


def results_context(election: Election) -> dict[str, Any]:
    context: dict[str, Any] = {"election": election, **selectors.results_turnout(election)}
    counted = Count.objects.filter(election=election).first()
    if counted:
        result = json.loads(counted.result_json)
        context.update(
            count=counted,
            result=result,
            table=stage_table(result),
            chart=mark_safe(svg_chart(result)),  # noqa: S308 - report.svg_chart escapes every text
        )
    return context


@login_required
def results(request: HttpRequest, election_id: int) -> HttpResponse:
    election = Election.objects.filter(pk=election_id).first()
    if election is None or not _may_see_results(request.user, election):
        raise Http404("No results to show.")
    return render(request, "elections/results.html", results_context(election))


def receipts(request: HttpRequest, election_id: int) -> HttpResponse:
    """The receipt codes of every ballot in the count, published after the close, for anyone to check."""
    election = Election.objects.filter(
        pk=election_id, status__in=[Election.Status.CLOSED, Election.Status.PUBLISHED]
    ).first()
    if election is None:
        raise Http404("The receipt list is published when voting closes.")
    return render(
        request, "elections/receipts.html", {"election": election, "receipts": selectors.receipts_of(election)}
    )
