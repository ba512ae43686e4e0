"""Erasure by pseudonymisation: nothing personal left anywhere in the database, every count and result the
same as before, refused while it would break something still running, and for anyone but a national admin."""

from __future__ import annotations

import datetime

import pytest
from django.apps import apps
from django.db.models import Count

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, DuesAccount, Member, MembershipSnapshot, Message, SmsOptOut, User
from crm.selectors import dashboard_for
from crm.selectors.privacy import erasure_refusals
from crm.services import take_membership_snapshot
from crm.services.privacy import erase_member
from elections.models import Candidate, Election, RollEntry, VoterRoll
from tests.privacy.conftest import OWEN_MOBILE, _election

pytestmark = pytest.mark.django_db


def rows_containing(needle: str, *, skip: tuple[type, ...] = ()) -> list[str]:
    """Every (model, field) in the whole database whose stored value contains the needle, case ignored."""
    needle = needle.lower()
    found = []
    for model in apps.get_models():
        if model in skip or model._meta.proxy:
            continue
        fields = [f for f in model._meta.concrete_fields if not f.is_relation]
        for values in model.objects.values_list(*[f.attname for f in fields]):
            for field, value in zip(fields, values, strict=True):
                text = bytes(value).decode("utf-8", "ignore") if isinstance(value, bytes | memoryview) else str(value)
                if needle in text.lower():
                    found.append(f"{model._meta.label}.{field.name}")
    return found


def counts_and_results() -> dict:
    """Everything erasure must leave as it was: counts by status and branch, snapshots, turnout, results."""
    return {
        "members": list(Member.objects.order_by().values_list("branch", "status").annotate(n=Count("pk"))),
        "snapshots": list(MembershipSnapshot.objects.values_list("taken_on", "branch", "status", "members")),
        "turnout": list(RollEntry.objects.order_by().values_list("roll", "has_voted").annotate(n=Count("pk"))),
        "candidates": list(Candidate.objects.values_list("election", "name", "ballot_position")),
        "elections": list(Election.objects.values_list("pk", "status", "question_results", "ballots_sha256")),
        "messages": list(Message.objects.order_by().values_list("status").annotate(n=Count("pk"))),
    }


def test_erasure_leaves_nothing_personal_anywhere(owen, union):
    SmsOptOut.objects.create(number=OWEN_MOBILE)  # the suppression list keeps the number, so it is never texted
    old = [owen.member.first_name, owen.member.last_name, owen.member.email, OWEN_MOBILE, "Owenfield", "LS1 4OW"]
    old += [owen.member.membership_number, owen.user.username, "owen.old@example.org"]
    for needle in old:
        assert rows_containing(needle, skip=(SmsOptOut,)), f"the fixture holds {needle!r} somewhere"
    erase_member(actor=union.users.national, member=owen.member, reason="Asked to be forgotten")
    for needle in old:
        assert rows_containing(needle, skip=(SmsOptOut,)) == [], needle
    owen.member.refresh_from_db()
    assert owen.member.full_name == "Erased member" and owen.member.erased_at is not None


def test_erasure_keeps_every_count_and_result(owen, union):
    before = counts_and_results()
    dashboard = dashboard_for(union.users.national)
    erase_member(actor=union.users.national, member=owen.member, reason="Asked to be forgotten")
    assert counts_and_results() == before
    after = dashboard_for(union.users.national)
    assert (after["by_status"], after["total"]) == (dashboard["by_status"], dashboard["total"])
    # A snapshot taken again the same day finds the same figures: the member is still counted as resigned.
    snapshot = list(MembershipSnapshot.objects.values_list("branch", "status", "members"))
    take_membership_snapshot()
    assert list(MembershipSnapshot.objects.values_list("branch", "status", "members")) == snapshot


def test_erasure_closes_the_account_and_deletes_what_only_describes_them(owen, union):
    erase_member(actor=union.users.national, member=owen.member, reason="Asked to be forgotten")
    user = User.objects.get(pk=owen.user.pk)
    assert not user.is_active and not user.has_usable_password() and user.email == ""
    assert not owen.member.__class__.objects.get(pk=owen.member.pk).tags.exists()
    assert (
        not hasattr(Member.objects.get(pk=owen.member.pk), "equalities")
        or not Member.objects.filter(pk=owen.member.pk, equalities__isnull=False).exists()
    )
    owen.conversation.refresh_from_db()
    owen.registration.refresh_from_db()
    owen.credential_message.refresh_from_db()
    assert owen.conversation.notes == "" and owen.conversation.outcome == "supportive"
    assert owen.registration.access_needs == "" and owen.registration.status == "registered"
    assert owen.credential_message.body == "[confidential: removed after sending]"
    assert DuesAccount.objects.get(pk=owen.dues.pk).stripe_customer_id == "cus_A1"


def test_erasure_is_audited_without_the_old_values(owen, union):
    erase_member(actor=union.users.national, member=owen.member, reason="Asked to be forgotten")
    entry = AuditEntry.objects.filter(member=owen.member).order_by("-id").first()
    assert entry.action == "delete" and entry.actor == union.users.national
    assert "Asked to be forgotten" in entry.summary
    assert "Owen" not in str(entry.changes) and "Oakley" not in entry.summary


def test_a_second_erasure_is_refused(owen, union):
    erase_member(actor=union.users.national, member=owen.member, reason="Asked")
    with pytest.raises(ServiceError, match="already been erased"):
        erase_member(actor=union.users.national, member=owen.member, reason="Again")


@pytest.mark.parametrize("persona", ["organiser_north", "rep_oak", "member_oak", "scrutineer", "outsider"])
def test_only_a_national_admin_may_erase(owen, union, persona):
    before = list(Member.objects.values())
    with pytest.raises(NotPermitted):
        erase_member(actor=getattr(union.users, persona), member=owen.member, reason="x")
    assert list(Member.objects.values()) == before


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201])
def test_a_reason_is_required_and_short(owen, union, reason):
    with pytest.raises(ServiceError):
        erase_member(actor=union.users.national, member=owen.member, reason=reason)
    owen.member.refresh_from_db()
    assert owen.member.erased_at is None


def _refused(member, union, match: str) -> None:
    before = list(Member.objects.values()), list(AuditEntry.objects.values_list("pk"))
    with pytest.raises(ServiceError, match=match):
        erase_member(actor=union.users.national, member=member, reason="Asked")
    assert (list(Member.objects.values()), list(AuditEntry.objects.values_list("pk"))) == before


def test_refused_for_a_current_member(union):
    _refused(union.members.elm, union, "still a member")


def test_refused_while_on_the_roll_of_an_open_election(owen, union):
    voting = _election("Strike ballot", Election.Status.VOTING, union)
    RollEntry.objects.create(roll=VoterRoll.objects.create(election=voting), member=owen.member)
    _refused(owen.member, union, "roll of an election")


def test_refused_while_standing_in_an_unpublished_election(owen, union):
    closed = _election("Regional officer", Election.Status.CLOSED, union)
    Candidate.objects.create(election=closed, member=owen.member, name="Owen Oakley", sort_name="Oakley, Owen")
    _refused(owen.member, union, "results are not published")


def test_refused_with_a_live_subscription_or_a_current_position(owen, union):
    DuesAccount.objects.filter(pk=owen.dues.pk).update(subscription_status="active", stripe_subscription_id="sub_1")
    owen.position.ended_on = None
    owen.position.save()
    reasons = erasure_refusals(owen.member)
    assert any("Stripe" in r for r in reasons) and any("position" in r for r in reasons)
    _refused(owen.member, union, "Stripe")


def test_a_past_candidates_name_stays_on_the_published_result(owen, union):
    """A published result is the union's public record of an election: the name on it stays."""
    rita = union.members.rep
    Member.objects.filter(pk=rita.pk).update(status="resigned")
    union.rep_position.ended_on = datetime.date(2025, 1, 1)
    union.rep_position.save()
    rita.refresh_from_db()
    erase_member(actor=union.users.national, member=rita, reason="Asked")
    assert Candidate.objects.get(pk=owen.candidate_rita.pk).name == "Rita Rep"
    assert rows_containing(rita.email) == []


def test_erasure_leaves_another_members_messages_at_a_shared_address(owen, union):
    """Two members at one address (a couple, a school office): erasing one keeps the other's messages and
    texts, which name the other member, whole; what was sent to the address without naming anyone goes."""
    from crm.models import InboundText

    partner = union.members.elm
    Member.objects.filter(pk=partner.pk).update(email=owen.member.email, mobile=OWEN_MOBILE)
    theirs = Message.objects.create(
        key=f"welcome:{partner.pk}", member=partner, channel="email", basis="service", to=owen.member.email,
        subject="Welcome, Elm", body="Dear Elm, welcome.", status="queued",
    )  # fmt: skip
    their_text = InboundText.objects.create(
        from_number=OWEN_MOBILE, body="Elm here", member=partner, provider_id="SM0002"
    )
    queued_test_send = Message.objects.create(
        key="campaign:test:2", channel="email", basis="consent", to=owen.member.email, subject="Test 2",
        body="Hello", status="queued",
    )  # fmt: skip
    erase_member(actor=union.users.national, member=owen.member, reason="Asked to be forgotten")
    theirs.refresh_from_db()
    their_text.refresh_from_db()
    queued_test_send.refresh_from_db()
    assert (theirs.to, theirs.body, theirs.status) == (owen.member.email, "Dear Elm, welcome.", "queued")
    assert (their_text.from_number, their_text.body) == (OWEN_MOBILE, "Elm here")
    # Sent by address alone: blanked, and cancelled rather than left queued with no address.
    assert (queued_test_send.to, queued_test_send.body, queued_test_send.status) == ("", "", "cancelled")
