"""Ballot secrecy (DESIGN.md rule 3) checked on the models themselves, and every bad vote refused cleanly."""

from __future__ import annotations

import datetime
import logging

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.utils import timezone

from crm.models import AuditEntry, Message
from elections.models import Ballot, Election, RollEntry
from elections.services import closing, setup, voting
from tests.elections.voting_helpers import contest, credentials_sent, details, open_with_credentials

BALLOT_FIELDS = {"id", "election", "cast_on", "receipt_code", "choices", "is_spoilt"}


def test_a_ballot_row_cannot_be_joined_to_a_member_roll_entry_or_credential():
    fields = {field.name: field for field in Ballot._meta.get_fields()}
    # Any new field on Ballot must be looked at for secrecy before this list changes.
    assert set(fields) == BALLOT_FIELDS
    relations = [f for f in Ballot._meta.get_fields() if f.is_relation]
    assert [(f.name, f.related_model) for f in relations] == [("election", Election)]
    assert isinstance(Ballot._meta.pk, models.UUIDField)  # random keys, not a sequence in casting order
    # Nothing points at a ballot: no table anywhere can hold a ballot id beside a member or credential.
    # (AuditEntry's target_type/target_id could name any row; casting writes no audit row, checked below.)
    for model in apps.get_models():
        for field in model._meta.get_fields():
            forward = field.concrete or (field.many_to_many and not field.auto_created)
            if field.is_relation and forward and field.related_model is Ballot:
                pytest.fail(f"{model.__name__}.{field.name} refers to a ballot")
    # The roll knows that, and the day, never which ballot or receipt.
    roll_fields = {f.name for f in RollEntry._meta.get_fields()}
    assert not {"ballot", "receipt_code", "choices"} & roll_fields
    assert isinstance(RollEntry._meta.get_field("voted_on"), models.DateField)
    assert not isinstance(RollEntry._meta.get_field("voted_on"), models.DateTimeField)


def test_ballots_hold_no_time_finer_than_the_day():
    for field in Ballot._meta.concrete_fields:
        assert not isinstance(field, models.DateTimeField | models.TimeField), field.name
    assert type(Ballot._meta.get_field("cast_on")) is models.DateField


def test_casting_leaves_no_trace_that_links_the_ballot_and_ids_do_not_follow_casting_order(union, caplog):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep, m.elm], method="approval")
    candidates = list(election.candidates.values_list("pk", flat=True))
    credentials = open_with_credentials(u.national, election)
    audit_before, messages_before = AuditEntry.objects.count(), Message.objects.count()
    caplog.set_level(logging.DEBUG)
    cast_order = []
    for member in (m.rep, m.oak, m.elm, m.ash):
        ballot = voting.cast_ballot(election=election, credential=credentials[member.pk], choices={"marks": candidates})
        cast_order.append(ballot.pk)
    assert AuditEntry.objects.count() == audit_before and Message.objects.count() == messages_before
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for member, credential in credentials.items():
        assert credential not in logged
    assert not any(code in logged for code in Ballot.objects.values_list("receipt_code", flat=True))
    # Ballot ids are random UUIDs (version 4): nothing in them counts up in the order of casting.
    assert all(pk.version == 4 for pk in cast_order)
    closing.close_election(actor=u.national, election=election, now=election.voting_closes_at)
    # The published ballots (BLT) aggregate identical ballots and sort them: no order of casting survives.
    blt = election.count.blt_text.splitlines()
    assert blt[1] == "4 1 2 3 0"


def test_many_ballots_are_rewritten_in_random_order_at_the_seal(union):
    """Thirty ballots cast in turn: after the close their storage order is shuffled (a fixed order would
    match 30! orders to one, so a chance match is not a worry)."""
    from tests.factories import MemberFactory

    u = union.users
    voters = [MemberFactory(workplace=union.workplaces.ash) for _ in range(30)]
    election = contest(u.national, [union.members.oak, union.members.rep], method="fptp")
    first = election.candidates.order_by("pk").first()
    credentials = open_with_credentials(u.national, election)
    receipts = [
        voting.cast_ballot(election=election, credential=credentials[v.pk], choices={"marks": [first.pk]}).receipt_code
        for v in voters
    ]
    closing.close_election(actor=u.national, election=election, now=election.voting_closes_at)
    stored = list(Ballot.objects.filter(election=election).order_by().values_list("receipt_code", flat=True))
    assert sorted(stored) == sorted(receipts) and stored != receipts
    by_id = list(Ballot.objects.filter(election=election).order_by("pk").values_list("receipt_code", flat=True))
    assert by_id != receipts


def test_api_and_exports_never_carry_ballot_ids_or_receipts_before_the_close(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    credentials = open_with_credentials(u.national, election)
    ballot = voting.cast_ballot(election=election, credential=credentials[m.elm.pk], choices={})
    client = Client()
    client.force_login(u.national)
    for url in (
        f"/api/v1/elections/{election.pk}/",
        f"/api/v1/elections/{election.pk}/turnout/?by=workplace",
        f"/api/v1/elections/{election.pk}/roll/",
        f"/api/v1/elections/{election.pk}/results/",
        f"/elections/{election.pk}/",
        f"/elections/{election.pk}/turnout/",
    ):
        body = client.get(url).content.decode()
        assert str(ballot.pk) not in body and ballot.receipt_code not in body, url
    assert client.get(f"/api/v1/elections/{election.pk}/results/").status_code == 404


# Bad input: each refused clearly, nothing stored.


@pytest.fixture
def open_irv(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    credentials = open_with_credentials(u.national, election)
    return election, credentials, list(election.candidates.order_by("pk").values_list("pk", flat=True))


def _refused(exception, match, **kwargs):
    before = (Ballot.objects.count(), RollEntry.objects.filter(has_voted=True).count())
    with pytest.raises(exception, match=match):
        voting.cast_ballot(**kwargs)
    assert (Ballot.objects.count(), RollEntry.objects.filter(has_voted=True).count()) == before


def test_bad_credentials_are_refused_clearly(union, open_irv):
    election, credentials, (owen, rita) = open_irv
    u, m = union.users, union.members
    other = contest(u.national, [m.oak, m.rep], title="Another election")
    other_credentials = open_with_credentials(u.national, other)
    ok = {"ranking": [owen]}
    _refused(
        voting.CredentialRefused, "not valid", election=election, credential="made-up-credential-0000000000", choices=ok
    )
    _refused(
        voting.CredentialRefused, "not valid", election=election, credential=credentials[m.ash.pk][:-1], choices=ok
    )
    _refused(voting.CredentialRefused, "not valid", election=election, credential=None, choices=ok)
    _refused(voting.CredentialRefused, "not valid", election=election, credential="x" * 10_000, choices=ok)
    _refused(
        voting.CredentialRefused,
        "another election: Another election",
        election=election,
        credential=other_credentials[m.ash.pk],
        choices=ok,
    )
    # Expired: replaced by a reissue, or used after the close.
    old = credentials[m.ash.pk]
    setup.reissue_credential(actor=u.national, entry=RollEntry.objects.get(roll__election=election, member=m.ash))
    _refused(voting.CredentialRefused, "replaced by a newer one", election=election, credential=old, choices=ok)
    new = credentials_sent(election)[m.ash.pk]
    after = election.voting_closes_at + datetime.timedelta(minutes=1)
    _refused(voting.CredentialRefused, "Voting has closed", election=election, credential=new, choices=ok, now=after)
    before = election.voting_opens_at - datetime.timedelta(minutes=1)
    _refused(voting.CredentialRefused, "has not opened yet", election=election, credential=new, choices=ok, now=before)
    voting.cast_ballot(election=election, credential=new, choices=ok)
    _refused(voting.CredentialRefused, "already been used", election=election, credential=new, choices=ok)


def test_bad_ballots_are_refused_clearly(union, open_irv):
    election, credentials, (owen, rita) = open_irv
    credential = credentials[union.members.ash.pk]
    for choices, match in [
        ({"ranking": [owen, 999_999]}, "not standing"),
        ({"ranking": [owen, owen]}, "more than one preference"),
        ({"ranking": [owen, "1"]}, "list of candidate numbers"),
        ({"ranking": [True]}, "list of candidate numbers"),
        ({"ranking": "1,2"}, "list of candidate numbers"),
        ({"marks": [owen]}, "could not be read"),
        ({"ranking": [owen], "extra": 1}, "could not be read"),
        ({"spoilt": True, "ranking": [owen]}, "no choices"),
        (["ranking", owen], "could not be read"),
        (None, "could not be read"),
    ]:
        _refused(voting.BallotRefused, match, election=election, credential=credential, choices=choices)


def test_too_many_approvals_and_fptp_marks_are_refused(union):
    u, m = union.users, union.members
    approval = contest(u.national, [m.oak, m.rep, m.elm], method="approval", seats=1, max_choices=2, title="A")
    fptp = contest(u.national, [m.oak, m.rep, m.elm], method="fptp", seats=1, title="F")
    for election in (approval, fptp):
        credentials = open_with_credentials(u.national, election)
        everyone = list(election.candidates.values_list("pk", flat=True))
        _refused(
            voting.BallotRefused,
            "at most",
            election=election,
            credential=credentials[m.ash.pk],
            choices={"marks": everyone},
        )


def test_a_ballot_cannot_be_cast_in_an_election_that_is_not_open(union):
    u = union.users
    draft = setup.create_election(actor=u.national, details=details(title="Draft"))
    _refused(voting.CredentialRefused, "not valid", election=draft, credential="anything-at-all-here-0000", choices={})
    assert Client().get(f"/elections/{draft.pk}/vote/?credential=x").status_code == 404
    future = timezone.now() + datetime.timedelta(days=1)
    assert Election.objects.get(pk=draft.pk).voting_opens_at < future
