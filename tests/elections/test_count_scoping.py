"""Who sees a count: an election's count stays with its organisers, national admins and scrutineers until
the results are published; counts of uploaded BLT files keep the old rule (everyone who sees results)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from elections import services
from elections.models import Count, Election
from elections.selectors import count_for, counts_for
from tests.elections.test_pages import BLT
from tests.elections.voting_helpers import details

PAGES = ("count_detail", "count_print", "count_json", "count_csv", "count_blt", "count_recount")


def an_election_count(union, **held_by) -> Count:
    """A count linked to an election held by `held_by`, as the close would store it."""
    election = services.setup.create_election(actor=union.users.national, details=details(**held_by))
    count = services.count_from_blt(
        actor=union.users.scrutineer, title=election.title, blt_text=BLT, method="stv", rule="scottish", seed="s"
    )
    Count.objects.filter(pk=count.pk).update(election=election)
    Election.objects.filter(pk=election.pk).update(status=Election.Status.CLOSED)
    count.refresh_from_db()
    return count


# Who sees the count of a closed (unpublished) election held by the North region, by persona.
CLOSED_NORTH = {
    "national": True,
    "scrutineer": True,
    "organiser_north": True,  # manages it: the whole North region is theirs
    "organiser_bristol": False,  # an organiser, but not of this election
    "rep_oak": False,
    "member_oak": False,
    "outsider": False,
}


@pytest.mark.parametrize("who, sees", CLOSED_NORTH.items())
def test_a_closed_elections_count_is_for_its_organisers_admins_and_scrutineers(union, client, who, sees):
    count = an_election_count(union, region=union.regions.north)
    user = getattr(union.users, who)
    assert (count in counts_for(user)) is sees
    client.force_login(user)
    for name in PAGES:
        response = client.get(reverse(f"elections:{name}", args=[count.pk]))
        assert (response.status_code == 200) is sees, name
        if not sees:
            assert response.status_code in (403, 404)
            assert b"Ann Able" not in response.content


@pytest.mark.parametrize("who", ["national", "scrutineer", "organiser_north", "organiser_bristol"])
def test_once_published_every_organiser_sees_it(union, client, who):
    count = an_election_count(union, region=union.regions.north)
    Election.objects.filter(pk=count.election_id).update(status=Election.Status.PUBLISHED)
    user = getattr(union.users, who)
    assert count_for(user, count.pk) == count
    client.force_login(user)
    assert client.get(reverse("elections:count_detail", args=[count.pk])).status_code == 200


@pytest.mark.parametrize("who", ["rep_oak", "member_oak", "outsider"])
def test_published_or_not_members_and_reps_never_read_counts_here(union, client, who):
    count = an_election_count(union, region=union.regions.north)
    Election.objects.filter(pk=count.election_id).update(status=Election.Status.PUBLISHED)
    user = getattr(union.users, who)
    with pytest.raises(Count.DoesNotExist):
        count_for(user, count.pk)
    client.force_login(user)
    assert client.get(reverse("elections:count_detail", args=[count.pk])).status_code == 404


def test_a_branch_election_is_managed_by_the_organiser_of_that_branch_only(union):
    count = an_election_count(union, branch=union.branches.bristol)
    assert count_for(union.users.organiser_bristol, count.pk) == count
    with pytest.raises(Count.DoesNotExist):
        count_for(union.users.organiser_north, count.pk)


def test_a_whole_union_elections_count_waits_for_publication_for_every_organiser(union):
    count = an_election_count(union)
    for who in ("organiser_north", "organiser_bristol"):
        with pytest.raises(Count.DoesNotExist):
            count_for(getattr(union.users, who), count.pk)
    assert count_for(union.users.national, count.pk) == count


def test_uploaded_blt_counts_keep_the_old_rule(union, client):
    count = services.count_from_blt(
        actor=union.users.scrutineer, title="Uploaded", blt_text=BLT, method="stv", rule="scottish", seed="s"
    )
    for who in ("national", "scrutineer", "organiser_north", "organiser_bristol"):
        assert count_for(getattr(union.users, who), count.pk) == count
    client.force_login(union.users.organiser_bristol)
    listed = client.get(reverse("elections:count_list")).content.decode()
    assert "Uploaded" in listed
    client.force_login(union.users.member_oak)
    assert client.get(reverse("elections:count_list")).status_code == 403


def test_the_list_leaves_out_counts_the_organiser_may_not_see(union, client):
    hidden = an_election_count(union, region=union.regions.north, title="Northern executive")
    client.force_login(union.users.organiser_bristol)
    listed = client.get(reverse("elections:count_list")).content.decode()
    assert hidden.title not in listed
    client.force_login(union.users.organiser_north)
    assert hidden.title in client.get(reverse("elections:count_list")).content.decode()


@pytest.mark.parametrize("count_id", ["0", "99999", "-1", "abc", "1%27%20or%201=1"])
def test_missing_or_malformed_count_ids_are_404(union, client, count_id):
    client.force_login(union.users.national)
    assert client.get(f"/elections/counts/{count_id}/").status_code == 404
