"""A segment is its saved filters applied afresh, within the user's scope."""

import pytest

from crm.errors import ServiceError
from crm.models import Segment
from crm.selectors.segments import segment_members


def make_segment(owner, **filters):
    return Segment.objects.create(name="Test", owner=owner, filters=filters)


def test_a_segment_is_evaluated_within_the_users_scope(union):
    everyone_active = make_segment(union.users.national, status=["active"])
    m = union.members
    assert set(segment_members(union.users.national, everyone_active)) == {m.rep, m.oak, m.elm, m.ash, m.supply}
    # The same saved filter, used by an organiser, never reaches past their patch.
    assert set(segment_members(union.users.organiser_bristol, everyone_active)) == {m.ash}


def test_a_segment_stays_live(union):
    segment = make_segment(union.users.organiser_north, workplace=[str(union.workplaces.oak.pk)], status="active")
    before = set(segment_members(union.users.organiser_north, segment))
    union.members.oak.status = "lapsed"
    union.members.oak.save()
    assert set(segment_members(union.users.organiser_north, segment)) == before - {union.members.oak}


def test_a_filter_outside_the_scope_is_an_error_not_an_empty_list(union):
    segment = make_segment(union.users.national, branch=[str(union.branches.bristol.pk)])
    with pytest.raises(ServiceError, match="no longer applies"):
        segment_members(union.users.organiser_north, segment)
