"""Setting up, opening, casting, closing: the services, with the union's personas."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Message
from elections.models import Ballot, Count, Election, RollEntry
from elections.selectors import electorate_preview, non_voters_for, turnout
from elections.services import closing, setup, voting
from tests.elections.voting_helpers import contest, credentials_sent, details, open_with_credentials


def test_setup_is_validated_scoped_and_audited(union):
    u = union.users
    election = setup.create_election(actor=u.organiser_north, details=details(branch=union.branches.leeds))
    assert election.status == Election.Status.DRAFT and len(election.seed) == 32
    assert AuditEntry.objects.filter(target_type="elections.election", target_id=election.pk, action="create").exists()
    with pytest.raises(NotPermitted):
        setup.create_election(actor=u.organiser_north, details=details(branch=union.branches.bristol))
    with pytest.raises(NotPermitted):
        setup.create_election(actor=u.organiser_bristol, details=details())  # the whole union: national only
    with pytest.raises(NotPermitted):
        setup.update_election(actor=u.organiser_bristol, election=election, details={"title": "Mine now"})
    bad = [
        ({"title": "  "}, "title"),
        ({"kind": "referendum"}, "kind"),
        ({"method": "borda"}, "method"),
        ({"method": "irv", "seats": 2}, "seats"),
        ({"seats": 0}, "seats"),
        ({"seats": 2, "method": "stv", "reserved_seats": 3}, "reserved_seats"),
        ({"seats": 2, "method": "stv", "reserved_seats": 1}, "reserved_label"),
        ({"voting_closes_at": timezone.now() - datetime.timedelta(hours=3)}, "voting_closes_at"),
        ({"statement_word_limit": 0}, "statement_word_limit"),
        ({"electorate": "branch", "electorate_values": []}, "electorate_values"),
        ({"electorate": "branch", "electorate_values": [union.branches.bristol.pk]}, "electorate_values"),
        ({"electorate": "sector", "electorate_values": ["nursery'; drop"]}, "electorate_values"),
        ({"electorate": "strand", "electorate_values": ["women"]}, "electorate_values"),
        ({"kind": "ballot", "is_industrial_action": True, "turnout_threshold": "150%"}, "turnout_threshold"),
        ({"is_industrial_action": True}, "kind"),
    ]
    for change, field in bad:
        with pytest.raises(ServiceError) as refused:
            setup.create_election(actor=u.organiser_north, details=details(branch=union.branches.leeds, **change))
        assert refused.value.field == field, change
    assert Election.objects.count() == 1
    setup.update_election(actor=u.organiser_north, election=election, details={"title": "Branch president"})
    change = AuditEntry.objects.filter(target_type="elections.election", action="update").get()
    assert change.changes["title"] == ["Branch secretary 2026", "Branch president"]


def test_strand_electorate_needs_a_strand_by_name(union):
    with pytest.raises(ServiceError, match="Choose one equalities strand"):
        setup.create_election(actor=union.users.national, details=details(electorate="strand", electorate_values=[1]))


def test_electorate_preview_counts_good_standing_members_by_branch(union):
    election = setup.create_election(actor=union.users.national, details=details())
    preview = electorate_preview(election)
    by_branch = {row["branch__name"]: row["members"] for row in preview["branches"]}
    # Leeds: Rita and Owen (Lara is lapsed, Sam in arrears); York: Ella; Bristol: Ash.
    assert by_branch == {"Leeds": 2, "York": 1, "Bristol": 1}
    assert preview["total"] == 4
    narrowed = setup.create_election(
        actor=union.users.national, details=details(electorate="category", electorate_values=["lecturer"])
    )
    assert electorate_preview(narrowed)["total"] == 1
    everyone = setup.create_election(actor=union.users.national, details=details(requires_good_standing=False))
    assert electorate_preview(everyone)["total"] == 6


def test_candidates_must_consent_be_eligible_and_keep_to_the_word_limit(union):
    u, m = union.users, union.members
    election = setup.create_election(
        actor=u.organiser_north,
        details=details(
            branch=union.branches.leeds,
            statement_word_limit=5,
            voting_opens_at=timezone.now() + datetime.timedelta(hours=1),
        ),
    )
    with pytest.raises(ServiceError, match="consent"):
        setup.add_candidate(actor=u.organiser_north, election=election, member=m.oak, has_consented=False)
    with pytest.raises(ServiceError, match="good standing"):
        setup.add_candidate(actor=u.organiser_north, election=election, member=m.oak_lapsed, has_consented=True)
    with pytest.raises(ServiceError, match="electorate"):
        setup.add_candidate(actor=u.organiser_north, election=election, member=m.elm, has_consented=True)
    with pytest.raises(ServiceError, match="6 words; the limit is 5"):
        setup.add_candidate(
            actor=u.organiser_north,
            election=election,
            member=m.oak,
            has_consented=True,
            statement="one two three four five six",
        )
    candidate = setup.add_candidate(
        actor=u.organiser_north, election=election, member=m.oak, has_consented=True, statement="Fair pay for all."
    )
    with pytest.raises(ServiceError, match="already standing"):
        setup.add_candidate(actor=u.organiser_north, election=election, member=m.oak, has_consented=True)
    assert AuditEntry.objects.filter(target_type="elections.candidate", target_id=candidate.pk, member=m.oak).exists()
    setup.withdraw_candidate(actor=u.organiser_north, candidate=candidate)
    assert AuditEntry.objects.filter(target_type="elections.candidate", action="update").exists()


def test_ballot_order_by_surname_and_by_lot_is_recorded(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep, m.elm, m.ash], method="stv", seats=2)
    ordered = setup.set_ballot_order(actor=u.national, election=election)
    assert [c.member.last_name for c in ordered] == ["Ashworth", "Elmore", "Oakley", "Rep"]
    setup.update_election(actor=u.national, election=election, details={"ballot_order": "lot"})
    first = [c.name for c in setup.set_ballot_order(actor=u.national, election=election)]
    again = [c.name for c in setup.set_ballot_order(actor=u.national, election=election)]
    assert first == again  # drawn from the published seed: anyone can repeat it
    audit = AuditEntry.objects.filter(summary__startswith="Set the ballot order").first()
    assert audit.changes["ballot_order"] == again


def test_open_voting_freezes_the_roll_and_sends_one_hashed_credential_each(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    early = contest(
        u.national,
        [m.oak, m.rep],
        title="Later",
        voting_opens_at=timezone.now() + datetime.timedelta(hours=1),
    )
    with pytest.raises(ServiceError, match="Voting opens at"):
        setup.open_voting(actor=u.national, election=early)
    credentials = open_with_credentials(u.national, election)
    entries = RollEntry.objects.filter(roll__election=election)
    assert {e.member_id for e in entries} == {m.rep.pk, m.oak.pk, m.elm.pk, m.ash.pk}
    assert set(credentials) == {m.rep.pk, m.oak.pk, m.elm.pk, m.ash.pk}
    for entry in entries:
        secret = credentials[entry.member_id]
        assert len(secret) >= 32 and secret not in entry.credential_hash and len(entry.credential_hash) == 64
    assert setup.issue_credentials(election_id=election.pk) == 0  # running twice sends nothing more
    assert Message.objects.filter(key__startswith=f"election:{election.pk}:").count() == 4
    assert election.roll.size_at_freeze == 4
    # Frozen: a member who joins now is not on the roll.
    with pytest.raises(ServiceError, match="Voting has opened"):
        setup.add_candidate(actor=u.national, election=election, member=m.elm, has_consented=True)


def test_late_addition_needs_a_reason_and_is_audited(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    open_with_credentials(u.national, election)
    with pytest.raises(ServiceError, match="Say why"):
        setup.add_to_roll(actor=u.national, election=election, member=m.supply, reason=" ")
    with pytest.raises(ServiceError, match="already on the roll"):
        setup.add_to_roll(actor=u.national, election=election, member=m.oak, reason="typo")
    entry = setup.add_to_roll(
        actor=u.national, election=election, member=m.supply, reason="Arrears paid, wrongly flagged"
    )
    assert entry.is_late_addition and entry.credential_hash
    audit = AuditEntry.objects.get(target_type="elections.rollentry", target_id=entry.pk)
    assert audit.changes["reason"] == "Arrears paid, wrongly flagged" and audit.member == m.supply
    assert m.supply.pk in credentials_sent(election)


def test_cast_once_then_refused_with_the_day(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    owen, rita = election.candidates.order_by("pk")
    credentials = open_with_credentials(u.national, election)
    ballot = voting.cast_ballot(
        election=election, credential=credentials[m.elm.pk], choices={"ranking": [rita.pk, owen.pk]}
    )
    assert ballot.cast_on == timezone.localdate() and len(ballot.receipt_code) == 14
    entry = RollEntry.objects.get(member=m.elm)
    assert entry.has_voted and entry.voted_on == timezone.localdate()
    with pytest.raises(voting.CredentialRefused, match=f"on {timezone.localdate():%-d %B %Y}"):
        voting.cast_ballot(election=election, credential=credentials[m.elm.pk], choices={"ranking": [owen.pk]})
    assert Ballot.objects.count() == 1
    # Casting leaves no audit row and no message that could date or link the ballot.
    assert not AuditEntry.objects.filter(summary__icontains="cast").exists()


def test_reissue_kills_the_old_credential_and_is_audited(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    old = open_with_credentials(u.national, election)[m.ash.pk]
    entry = RollEntry.objects.get(member=m.ash)
    with pytest.raises(NotPermitted):
        setup.reissue_credential(actor=u.organiser_north, entry=entry)  # Ash is in Bristol: not theirs
    setup.reissue_credential(actor=u.national, entry=entry)
    new = credentials_sent(election)[m.ash.pk]
    assert new != old
    with pytest.raises(voting.CredentialRefused, match="replaced by a newer one"):
        voting.cast_ballot(election=election, credential=old, choices={})
    voting.cast_ballot(election=election, credential=new, choices={})
    assert AuditEntry.objects.filter(target_type="elections.rollentry", summary__startswith="Reissued").count() == 1
    with pytest.raises(ServiceError, match="already voted"):
        setup.reissue_credential(actor=u.national, entry=entry)


def test_turnout_by_branch_and_a_reps_non_voters(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    credentials = open_with_credentials(u.national, election)
    voting.cast_ballot(election=election, credential=credentials[m.rep.pk], choices={})
    national = turnout(u.national, election, by="branch")
    assert {r["name"]: (r["voted"], r["on_roll"]) for r in national["rows"]} == {
        "Bristol": (0, 1),
        "Leeds": (1, 2),
        "York": (0, 1),
    }
    assert national["percent"] == 25.0
    rep_view = turnout(u.rep_oak, election, by="workplace")
    assert [(r["name"], r["voted"], r["on_roll"]) for r in rep_view["rows"]] == [("Oak Primary", 1, 2)]
    assert [e.member for e in non_voters_for(u.rep_oak, election)] == [m.oak]
    assert list(non_voters_for(u.scrutineer, election)) == []  # scrutineers see no member data
    assert turnout(u.member_oak, election)["rows"] == []


def test_close_seals_counts_and_results_follow_certification(union):
    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    owen, rita = election.candidates.order_by("pk")
    credentials = open_with_credentials(u.national, election)
    voting.cast_ballot(election=election, credential=credentials[m.elm.pk], choices={"ranking": [rita.pk]})
    voting.cast_ballot(election=election, credential=credentials[m.ash.pk], choices={"ranking": [rita.pk, owen.pk]})
    voting.cast_ballot(election=election, credential=credentials[m.oak.pk], choices={"spoilt": True})
    with pytest.raises(ServiceError, match="cannot be closed early"):
        closing.close_election(actor=u.national, election=election)
    later = election.voting_closes_at + datetime.timedelta(seconds=1)
    with pytest.raises(voting.CredentialRefused, match="Voting has closed"):
        voting.cast_ballot(election=election, credential=credentials[m.rep.pk], choices={}, now=later)
    closing.close_election(actor=u.national, election=election, now=later)
    election.refresh_from_db()
    assert election.status == Election.Status.CLOSED
    counted = Count.objects.get(election=election)
    assert counted.blt_sha256 == election.ballots_sha256 == closing.sha256(counted.blt_text)
    assert counted.blt_text.splitlines()[:4] == ["2 1", "1 2 0", "1 2 1 0", "1 0"]
    assert '"elected": [\n    "Rita Rep"\n  ]' in counted.result_json
    with pytest.raises(ServiceError, match="certify"):
        closing.publish_results(actor=u.national, election=election)
    from elections.services import certify_count

    certify_count(actor=u.scrutineer, count=counted)
    closing.publish_results(actor=u.national, election=election)
    election.refresh_from_db()
    assert election.status == Election.Status.PUBLISHED


def test_industrial_action_ballot_reports_each_threshold(union):
    u, m = union.users, union.members
    election = setup.create_election(
        actor=u.national,
        details=details(kind="ballot", method="", is_industrial_action=True, important_public_services=True),
    )
    question = setup.add_question(actor=u.national, election=election, text="Will you strike?", options=["Yes", "No"])
    with pytest.raises(ServiceError, match="yes/no"):
        setup.add_question(actor=u.national, election=election, text="Which day?", options=["Monday", "Friday"])
    credentials = open_with_credentials(u.national, election)
    for member in (m.rep, m.oak):
        voting.cast_ballot(
            election=election, credential=credentials[member.pk], choices={"answers": {str(question.pk): 0}}
        )
    voting.cast_ballot(election=election, credential=credentials[m.elm.pk], choices={"answers": {str(question.pk): 1}})
    closing.close_election(actor=u.national, election=election, now=election.voting_closes_at)
    election.refresh_from_db()
    result = election.question_results["questions"][0]
    checks = {c["name"]: (c["actual"], c["met"]) for c in result["checks"]}
    assert result["votes_cast"] == 3 and result["electorate"] == 4
    assert checks == {"turnout": ("75.00%", True), "electorate support": ("50.00%", True)}
    assert result["passed"] is True
    with pytest.raises(NotPermitted):
        closing.certify_question_results(actor=u.organiser_north, election=election)
    closing.certify_question_results(actor=u.scrutineer, election=election)
    closing.publish_results(actor=u.national, election=election)


def test_reserved_seats_need_enough_candidates_and_are_kept_in_the_count(union):
    u, m = union.users, union.members
    election = setup.create_election(
        actor=u.national, details=details(method="stv", seats=2, reserved_seats=1, reserved_label="women members")
    )
    setup.add_candidate(actor=u.national, election=election, member=m.oak, has_consented=True)
    setup.add_candidate(actor=u.national, election=election, member=m.rep, has_consented=True)
    with pytest.raises(ServiceError, match="reserved for women members, but only 0"):
        setup.open_voting(actor=u.national, election=election)
    ella = setup.add_candidate(
        actor=u.national, election=election, member=m.elm, has_consented=True, is_in_reserved_group=True
    )
    credentials = open_with_credentials(u.national, election)
    owen, rita = election.candidates.exclude(pk=ella.pk).order_by("pk")
    # Ella has the fewest votes, yet the reserved seat goes to her.
    for member in (m.oak, m.rep, m.elm):
        voting.cast_ballot(
            election=election, credential=credentials[member.pk], choices={"ranking": [owen.pk, rita.pk]}
        )
    voting.cast_ballot(election=election, credential=credentials[m.ash.pk], choices={"ranking": [ella.pk]})
    closing.close_election(actor=u.national, election=election, now=election.voting_closes_at)
    counted = Count.objects.get(election=election)
    assert counted.reserved_seats == 1 and counted.reserved_group == [3]
    assert "Ella Elmore" in counted.result_json.split('"elected": [')[-1]


def test_elections_close_on_the_timetable_once(union):
    from elections import tasks

    u, m = union.users, union.members
    election = contest(u.national, [m.oak, m.rep])
    credentials = open_with_credentials(u.national, election)
    owen = election.candidates.order_by("pk").first()
    voting.cast_ballot(election=election, credential=credentials[m.elm.pk], choices={"ranking": [owen.pk]})
    assert closing.close_due_elections() == []  # still open
    later = election.voting_closes_at + datetime.timedelta(minutes=1)
    assert closing.close_due_elections(now=later) == [election.pk]
    assert closing.close_due_elections(now=later) == []
    assert tasks.close_due_elections() == []  # the task, run again, finds nothing to do
    election.refresh_from_db()
    assert election.status == Election.Status.CLOSED and Count.objects.filter(election=election).exists()
    audit = AuditEntry.objects.get(summary__startswith="Closed and sealed")
    assert audit.actor is None and audit.actor_name == "system"
