"""The subject access export: everything held on a member, and a check that no model referring to a member
(or to a member's user account) is left out of it without a stated reason."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.utils import timezone

from crm.models import Member, Message, User
from crm.selectors.privacy import (
    BALLOT_STATEMENT,
    EXPORT_COVERAGE,
    NOT_EXPORTED,
    SECTIONS,
    section_counts,
    subject_access_export,
)

pytestmark = pytest.mark.django_db


def models_referring_to_members() -> set[str]:
    """Every installed model (auto-made many-to-many tables included) with a relation to Member or User."""
    found = set()
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.get_fields():
            if field.is_relation and field.concrete and field.related_model in (Member, User):
                found.add(model._meta.label)
        if model in (Member, User):
            found.add(model._meta.label)
    return found


def test_every_model_that_refers_to_a_member_is_exported_or_excluded_with_a_reason():
    referring = models_referring_to_members()
    missing = sorted(referring - set(EXPORT_COVERAGE) - set(NOT_EXPORTED))
    assert not missing, (
        "These models refer to a member or a user but are not in the subject access export: add each to "
        f"EXPORT_COVERAGE (and the export) or to NOT_EXPORTED with the reason, in crm/selectors/privacy.py: {missing}"
    )
    assert not set(EXPORT_COVERAGE) & set(NOT_EXPORTED)
    assert all(reason.strip() for reason in NOT_EXPORTED.values())
    stale = sorted((set(EXPORT_COVERAGE) | set(NOT_EXPORTED)) - referring)
    assert not stale, f"Listed but no longer referring to members: {stale}"


def test_the_walk_finds_the_kinds_of_relation_it_must():
    # The walk itself can fail: it finds a foreign key, a one-to-one, a many-to-many table and a user relation.
    referring = models_referring_to_members()
    assert {"crm.Position", "crm.EqualitiesAnswers", "crm.Member_tags", "otp_totp.TOTPDevice"} <= referring


def test_every_covered_section_is_in_the_export(owen):
    export = subject_access_export(owen.member)
    assert {key for key, _title, _about in SECTIONS} | {"about"} == set(export)
    assert set(EXPORT_COVERAGE.values()) <= set(export)


def test_the_export_holds_a_row_of_every_kind_for_a_member_who_has_one(owen):
    export = subject_access_export(owen.member)
    json.dumps(export)  # JSON-able throughout
    counts = section_counts(export)
    empty = [key for key, n in counts.items() if not n]
    assert not empty, f"sections with nothing in them for a member with a row of every kind: {empty}"
    assert export["member"]["email"] == owen.member.email
    assert export["member"]["tags"] == ["strike committee"]
    assert export["conversations"][0]["notes"] == owen.conversation.notes
    assert export["assessments"][0]["notes"] == owen.assessment.notes
    assert export["equalities"]["answers"][0]["ethnicity"] == "white_irish"
    assert export["equalities"]["reads"][0]["reader_name"] == owen.user.username
    assert export["events"]["registrations"][0]["access_needs"] == owen.registration.access_needs
    assert export["elections"]["nominations_by_you"][0]["nominee"]["id"] == owen.nomination.nominee_id
    assert export["voter_rolls"][0]["has_voted"] is True
    assert export["imports"][0]["name"] == "Owen Oakley"
    assert export["closure_requests"][0]["reason"] == owen.closure.reason
    assert export["security_log"]["account_events"][0]["ip_address"] == "192.0.2.7"
    assert export["dues"]["payments"][0]["amount_pence"] == 2450
    assert export["audit_trail"]["about_you"][-1]["changes"]["email"][1] == owen.member.email
    assert export["account"]["authenticator_apps"][0]["name"] == "Owen's phone"
    assert export["security_log"]["sign_ins"][0]["user_agent"] == "Firefox"
    assert owen.test_send.key in {row["key"] for row in export["messages"]}  # found by address, not by link


def test_secrets_are_never_exported(owen):
    text = json.dumps(subject_access_export(owen.member))
    assert owen.user.password not in text
    assert owen.token.key not in text
    assert owen.totp.key not in text
    assert owen.roll_entry.credential_hash not in text
    messages = {row["key"]: row for row in subject_access_export(owen.member)["messages"]}
    assert messages[owen.credential_message.key]["body"] == "[confidential]"


def test_the_export_says_ballots_are_not_linkable(owen):
    export = subject_access_export(owen.member)
    assert export["about"]["ballots"] == BALLOT_STATEMENT
    assert "ballot" not in {key.lower() for key in export}
    assert "choices" not in json.dumps(export["voter_rolls"])


def test_the_export_holds_nothing_of_another_member(owen, union):
    text = json.dumps(subject_access_export(owen.member))
    for other in (union.members.elm, union.members.ash, union.members.supply):
        assert other.email not in text
        assert other.membership_number not in text


def test_a_member_with_no_account_and_no_records_exports_cleanly(union):
    export = subject_access_export(union.members.elm)
    assert export["account"] is None
    assert export["member"]["membership_number"] == union.members.elm.membership_number
    assert section_counts(export)["conversations"] == 0


def test_the_export_leaves_out_another_members_messages_at_a_shared_address(owen, union):
    partner = union.members.elm
    Member.objects.filter(pk=partner.pk).update(email=owen.member.email)
    Message.objects.create(
        key=f"welcome:{partner.pk}", member=partner, channel="email", basis="service", to=owen.member.email,
        subject="Welcome, Elm", body="Dear Elm Partner, welcome.", status="sent", sent_at=timezone.now(),
    )  # fmt: skip
    text = json.dumps(subject_access_export(owen.member), default=str)
    assert "Dear Elm Partner" not in text
    assert "Hello Owen" in text  # the test send to the address, naming no member, is still theirs
