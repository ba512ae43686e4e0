"""Pages for voters: the ballot (credential in, receipt out), results and the receipt list. A member's own
ballots, nominations and receipt checker are in the member portal (portal/views/activity.py).

The ballot page needs no sign-in: the one-time credential from the member's message is the key. It works
without JavaScript: choose or number, review, cast. Responses are never cached and send a referrer only to this site, so
the credential in the link does not travel to anyone else.
"""

from __future__ import annotations

import json
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt

from elections import selectors
from elections.counting.report import stage_table, svg_chart
from elections.election_forms import read_ballot
from elections.models import Count, Election, RollEntry
from elections.permissions import can_manage_election, can_scrutinise
from elections.services import photos
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


def ballot_paper_page(request: HttpRequest, election: Election, credential: str) -> HttpResponse:
    """The empty ballot paper for a credential just made: where the member portal's "Vote" button lands
    (portal.views.activity.ballot_vote). Wrap the calling view in `private`, as the ballot's own views are."""
    return _ballot_page(request, BallotPaper.of(election), credential)


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
