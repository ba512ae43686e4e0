import datetime

import pytest
from django.contrib.auth.models import AnonymousUser

from crm.selectors import members_visible_to, workplaces_visible_to
from tests.conftest import visible_members_by_role

ROLES = ["national", "organiser_north", "organiser_bristol", "rep_oak", "member_oak", "scrutineer", "outsider"]


@pytest.mark.parametrize("persona", ROLES)
def test_each_role_sees_exactly_its_scope(union, persona):
    user = getattr(union.users, persona)
    assert set(members_visible_to(user)) == visible_members_by_role(union)[persona]


def test_anonymous_and_inactive_users_see_nobody(union):
    assert not members_visible_to(AnonymousUser()).exists()
    union.users.national.is_active = False
    assert not members_visible_to(union.users.national).exists()


def test_a_rep_whose_position_ended_sees_only_themselves(union):
    union.rep_position.ended_on = datetime.date(2024, 6, 30)
    union.rep_position.save()
    assert set(members_visible_to(union.users.rep_oak)) == {union.members.rep}
    assert not workplaces_visible_to(union.users.rep_oak).exists()


def test_a_rep_position_that_has_not_started_gives_no_scope(union):
    union.rep_position.started_on = datetime.date.today() + datetime.timedelta(days=10)
    union.rep_position.save()
    assert set(members_visible_to(union.users.rep_oak)) == {union.members.rep}


def test_organiser_scope_follows_branches_added_to_their_region(union):
    from tests.factories import BranchFactory, MemberFactory, WorkplaceFactory

    hull = BranchFactory(name="Hull", region=union.regions.north)
    newcomer = MemberFactory(workplace=WorkplaceFactory(branch=hull))
    assert newcomer in members_visible_to(union.users.organiser_north)
    assert newcomer not in members_visible_to(union.users.organiser_bristol)
