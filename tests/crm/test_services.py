import datetime

import pytest
from django.db import IntegrityError

from crm import services
from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Member, Position
from tests.factories import MemberFactory


def details(union, **overrides):
    data = {"first_name": "Ada", "last_name": "Lovelace", "category": "teacher", "status": "active"}
    data["workplace"] = union.workplaces.oak
    data.update(overrides)
    return data


def test_membership_numbers_continue_the_series(union):
    first = services.create_member(actor=union.users.national, details=details(union))
    second = services.create_member(actor=union.users.national, details=details(union, last_name="Byron"))
    assert first.membership_number == "Q0000001" and second.membership_number == "Q0000002"


def test_a_given_membership_number_that_is_taken_is_refused(union):
    with pytest.raises(ServiceError) as error:
        services.create_member(
            actor=union.users.national, details=details(union), membership_number=union.members.oak.membership_number
        )
    assert error.value.field == "membership_number"
    assert not Member.objects.filter(last_name="Lovelace").exists()


def test_workplace_and_branch_must_agree(union):
    with pytest.raises(ServiceError) as error:
        services.create_member(actor=union.users.national, details=details(union, branch=union.branches.bristol))
    assert error.value.field == "branch"


def test_member_without_workplace_needs_a_branch(union):
    with pytest.raises(ServiceError):
        services.create_member(actor=union.users.national, details=details(union, workplace=None))
    member = services.create_member(
        actor=union.users.national, details=details(union, workplace=None, branch=union.branches.york)
    )
    assert member.branch == union.branches.york and member.workplace is None


def test_reps_cannot_write_members(union):
    with pytest.raises(NotPermitted):
        services.create_member(actor=union.users.rep_oak, details=details(union))
    with pytest.raises(NotPermitted):
        services.update_member(actor=union.users.rep_oak, member=union.members.oak, details={"first_name": "X"})


def test_an_organiser_cannot_move_a_member_out_of_their_patch(union):
    with pytest.raises(NotPermitted):
        services.update_member(
            actor=union.users.organiser_north, member=union.members.oak, details={"workplace": union.workplaces.ash}
        )
    union.members.oak.refresh_from_db()
    assert union.members.oak.workplace == union.workplaces.oak


def test_unknown_fields_are_refused(union):
    with pytest.raises(ServiceError):
        services.update_member(actor=union.users.national, member=union.members.oak, details={"is_superuser": True})


def test_consent_change_is_stamped_with_source_and_time(union):
    member = services.update_member(
        actor=union.users.national,
        member=union.members.rep,
        details={"sms_consent": True, "consent_source": Member.ConsentSource.PAPER_FORM},
    )
    assert member.sms_consent and member.sms_consent_source == "paper_form" and member.sms_consent_at
    assert AuditEntry.objects.get(member=member).changes["sms_consent"] == [False, True]


def test_sms_consent_needs_a_mobile(union):
    with pytest.raises(ServiceError) as error:
        services.update_member(actor=union.users.national, member=union.members.oak, details={"sms_consent": True})
    assert error.value.field == "sms_consent"


def test_an_update_that_changes_nothing_writes_no_audit(union):
    services.update_member(actor=union.users.national, member=union.members.oak, details={"first_name": "Owen"})
    assert not AuditEntry.objects.exists()


def test_status_change_dates_the_change(union):
    member = services.update_member(
        actor=union.users.national, member=union.members.oak, details={"status": Member.Status.RESIGNED}
    )
    assert member.status_changed_on == datetime.date.today()
    assert not member.is_in_good_standing
    assert not Member.objects.in_good_standing().filter(pk=member.pk).exists()


def test_good_standing_means_active_and_not_in_arrears(union):
    standing = set(Member.objects.in_good_standing())
    assert union.members.supply not in standing  # active but in arrears
    assert union.members.oak_lapsed not in standing
    assert union.members.oak in standing
    assert standing | set(Member.objects.not_in_good_standing()) == set(Member.objects.all())


def test_positions_are_held_at_exactly_one_place(union):
    with pytest.raises(ServiceError):
        services.add_position(
            actor=union.users.national,
            member=union.members.oak,
            kind=Position.Kind.BRANCH_SECRETARY,
            started_on=datetime.date(2025, 1, 1),
            branch=union.branches.leeds,
            region=union.regions.north,
        )
    position = services.add_position(
        actor=union.users.national,
        member=union.members.oak,
        kind=Position.Kind.BRANCH_SECRETARY,
        started_on=datetime.date(2025, 1, 1),
        branch=union.branches.leeds,
    )
    assert position.is_current()


def test_database_refuses_a_position_in_two_places(union):
    with pytest.raises(IntegrityError):
        Position.objects.create(
            member=union.members.oak,
            kind="workplace_rep",
            workplace=union.workplaces.oak,
            branch=union.branches.leeds,
            started_on=datetime.date(2025, 1, 1),
        )


def test_database_refuses_sms_consent_without_a_mobile(union):
    with pytest.raises(IntegrityError):
        MemberFactory(mobile="", sms_consent=True, sms_consent_source="paper_form")
