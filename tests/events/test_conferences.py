"""Conference delegates: shared between branches from their active members, by a rule per conference."""

import pytest
from django.urls import reverse

from crm.errors import NotPermitted, ServiceError
from events import services
from events.models import Delegate, DelegateAllocation, DelegateRule
from tests.events.conftest import snapshot
from tests.factories import MemberFactory, PositionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("members", "per", "minimum", "expected"),
    [(0, 10, 1, 0), (1, 10, 1, 1), (10, 10, 1, 1), (11, 10, 1, 2), (250, 100, 1, 3), (5, 100, 2, 2), (5, 1, 0, 5)],
)
def test_one_delegate_per_n_members_or_part_thereof_with_a_minimum(members, per, minimum, expected):
    assert services.delegates_for(members, members_per_delegate=per, minimum_per_branch=minimum) == expected


def test_a_regional_conference_allocates_to_its_branches_from_active_members(union, make_event):
    conference = make_event(kind="conference", audience="region", audience_region=union.regions.north)
    for _ in range(4):
        MemberFactory(workplace=union.workplaces.elm)
    allocations = services.allocate_delegates(
        actor=union.users.organiser_north, event=conference, members_per_delegate=2
    )
    # Leeds: Rita, Owen and Sam are active (Lara has lapsed); York: Ella and four more. Bristol is not in North.
    assert {(a.branch.name, a.members, a.delegates) for a in allocations} == {("Leeds", 3, 2), ("York", 5, 3)}
    again = services.allocate_delegates(
        actor=union.users.organiser_north, event=conference, members_per_delegate=10, minimum_per_branch=1
    )
    assert {(a.branch.name, a.delegates) for a in again} == {("Leeds", 1), ("York", 1)}
    assert DelegateAllocation.objects.count() == 2 and DelegateRule.objects.get().members_per_delegate == 10


def test_delegate_allocation_refusals_change_nothing(union, make_event):
    conference = make_event(kind="conference")
    meeting = make_event()
    before = snapshot()
    with pytest.raises(NotPermitted):
        services.allocate_delegates(actor=union.users.organiser_bristol, event=conference, members_per_delegate=5)
    with pytest.raises(ServiceError, match="conferences only"):
        services.allocate_delegates(actor=union.users.organiser_north, event=meeting, members_per_delegate=5)
    for bad in (0, -1, "5", None, 10**7):
        with pytest.raises(ServiceError):
            services.allocate_delegates(actor=union.users.organiser_north, event=conference, members_per_delegate=bad)
    assert snapshot() == before and not DelegateRule.objects.exists()


def test_the_delegates_page(client, union, make_event):
    conference = make_event(kind="conference", title="Annual reps' conference")
    url = reverse("events:conference_delegates", args=[conference.pk])
    client.force_login(union.users.organiser_north)
    assert client.post(url, {"action": "allocate", "members_per_delegate": "none"}).status_code == 400
    assert not DelegateRule.objects.exists()
    response = client.post(url, {"action": "allocate", "members_per_delegate": "2", "minimum_per_branch": "1"})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "One delegate per 2 active members" in page and "Bristol" in page  # an all-members conference
    client.force_login(union.users.rep_oak)
    assert client.get(url).status_code == 200
    assert (
        client.post(url, {"action": "allocate", "members_per_delegate": "1", "minimum_per_branch": "0"}).status_code
        == 403
    )
    assert DelegateRule.objects.get().members_per_delegate == 2
    assert client.get(reverse("events:conference_delegates", args=[make_event().pk])).status_code == 404


def test_branches_name_delegates_within_their_allocation(union, make_event):
    conference = make_event(kind="conference", audience="region", audience_region=union.regions.north)
    services.allocate_delegates(actor=union.users.organiser_north, event=conference, members_per_delegate=2)
    leeds = union.branches.leeds  # 3 active members: 2 delegates
    services.name_delegate(
        actor=union.users.organiser_north,
        event=conference,
        branch=leeds,
        membership_number=union.members.rep.membership_number,
    )
    before = snapshot(), Delegate.objects.count()
    for number, message in [
        (union.members.rep.membership_number, "already a delegate"),
        (union.members.elm.membership_number, "No member of Leeds branch"),  # York's member
        (union.members.oak_lapsed.membership_number, "not an active member"),
        ("", "No member of Leeds branch"),
        ("x" * 500, "No member of Leeds branch"),
    ]:
        with pytest.raises(ServiceError, match=message):
            services.name_delegate(
                actor=union.users.organiser_north, event=conference, branch=leeds, membership_number=number
            )
    with pytest.raises(NotPermitted):
        services.name_delegate(
            actor=union.users.rep_oak,
            event=conference,
            branch=leeds,
            membership_number=union.members.oak.membership_number,
        )
    with pytest.raises(ServiceError, match="no delegates allocated"):
        services.name_delegate(
            actor=union.users.national,
            event=conference,
            branch=union.branches.bristol,
            membership_number=union.members.ash.membership_number,
        )
    assert (snapshot(), Delegate.objects.count()) == before
    services.name_delegate(
        actor=union.users.organiser_north,
        event=conference,
        branch=leeds,
        membership_number=union.members.oak.membership_number,
    )
    with pytest.raises(ServiceError, match="named all 2 of its delegates"):
        services.name_delegate(
            actor=union.users.organiser_north,
            event=conference,
            branch=leeds,
            membership_number=union.members.supply.membership_number,
        )


def test_a_branch_secretary_names_their_branchs_delegates_on_the_page(client, union, make_event):
    conference = make_event(kind="conference", audience="region", audience_region=union.regions.north)
    services.allocate_delegates(actor=union.users.organiser_north, event=conference, members_per_delegate=2)
    PositionFactory(member=union.members.rep, kind="branch_secretary", workplace=None, branch=union.branches.leeds)
    url = reverse("events:conference_delegates", args=[conference.pk])
    client.force_login(union.users.rep_oak)
    york = {
        "action": "name",
        "delegate-branch": union.branches.york.pk,
        "delegate-membership_number": union.members.elm.membership_number,
    }
    assert client.post(url, york).status_code == 400  # not their branch: not a choice
    leeds = {
        "action": "name",
        "delegate-branch": union.branches.leeds.pk,
        "delegate-membership_number": union.members.oak.membership_number,
    }
    assert client.post(url, leeds).status_code == 302
    assert list(Delegate.objects.values_list("member__last_name", flat=True)) == ["Oakley"]
    page = client.get(url).content.decode()
    assert "1 of 2: Owen Oakley" in page and "0 of 1" in page  # York: a count, no names
    client.force_login(union.users.member_oak)
    assert "Owen Oakley" not in client.get(url).content.decode()
    assert client.post(url, leeds).status_code == 403


def test_a_delegate_credential_is_checked_once_and_only_at_its_conference(client, union, make_event):
    from events import tokens
    from events.services import CheckInRefused

    conference = make_event(kind="conference", title="Annual conference")
    other = make_event(kind="conference", title="Sector conference")
    for event in (conference, other):
        services.allocate_delegates(actor=union.users.national, event=event, members_per_delegate=10)
    delegate = services.name_delegate(
        actor=union.users.national,
        event=conference,
        branch=union.branches.leeds,
        membership_number=union.members.oak.membership_number,
    )
    elsewhere = services.name_delegate(
        actor=union.users.national,
        event=other,
        branch=union.branches.leeds,
        membership_number=union.members.oak.membership_number,
    )
    code = tokens.delegate_code(delegate)
    before = snapshot(), list(Delegate.objects.values_list("credential_checked_at", flat=True))
    for bad, message in [
        (code[:-1] + ("A" if code[-1] != "A" else "B"), "not a valid delegate credential"),
        ("R" + code[1:], "not a valid"),  # a check-in code's shape with a delegate's signature
        (tokens.delegate_code(elsewhere), "another conference: Sector conference"),
    ]:
        with pytest.raises(CheckInRefused, match=message):
            if bad.startswith("D"):
                services.check_delegate_credential(actor=union.users.national, event=conference, code=bad)
            else:
                services.check_in(actor=union.users.national, event=conference, code=bad)
    with pytest.raises(NotPermitted):
        services.check_delegate_credential(actor=union.users.organiser_bristol, event=conference, code=code)
    assert (snapshot(), list(Delegate.objects.values_list("credential_checked_at", flat=True))) == before

    client.force_login(union.users.member_oak)
    page = client.get(reverse("events:delegate_credential", args=[delegate.pk])).content.decode()
    assert code in page and "<svg" in page
    client.force_login(union.users.rep_oak)
    assert client.get(reverse("events:delegate_credential", args=[delegate.pk])).status_code == 404
    client.force_login(union.users.national)
    url = reverse("events:event_check_in", args=[conference.pk])
    ok = client.post(url, {"code": code.lower()})
    assert "Owen Oakley</strong> is a delegate for Leeds: credential checked." in ok.content.decode()
    again = client.post(url, {"code": code})
    assert again.status_code == 400 and "already checked" in again.content.decode()
