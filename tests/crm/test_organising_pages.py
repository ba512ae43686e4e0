"""Organising views: density and its trend, members by assessment, workplaces without a rep; in scope."""

from __future__ import annotations

import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.selectors import workplaces_with_density
from crm.selectors.organising import assessment_counts, density_trend, workplaces_without_rep
from crm.services.conversations import record_assessment
from tests.factories import MemberFactory

ROLES = ["national", "organiser_north", "organiser_bristol", "rep_oak", "member_oak", "scrutineer", "outsider"]
PAGES = ["organising_home", "organising_density", "organising_assessments", "organising_without_reps"]
WORKPLACES = {
    "national": {"Oak Primary", "Elm Academy", "Ash College"},
    "organiser_north": {"Oak Primary", "Elm Academy"},
    "organiser_bristol": {"Ash College"},
    "rep_oak": {"Oak Primary"},
}


@pytest.mark.parametrize("persona", ROLES)
def test_organising_pages_show_only_the_workplaces_in_scope(client, union, persona):
    client.force_login(getattr(union.users, persona))
    for name in PAGES:
        response = client.get(reverse(name))
        if persona not in WORKPLACES:
            assert response.status_code == 403, name
            continue
        assert response.status_code == 200, name
        html = response.content.decode()
        if name in ("organising_density", "organising_assessments"):
            shown = {w for w in WORKPLACES["national"] if w in html}
            assert shown == WORKPLACES[persona], name


def test_density_trend_is_derived_from_joins_and_status_changes(union):
    today = timezone.localdate()
    elm = union.workplaces.elm
    MemberFactory(workplace=elm, joined_on=today - datetime.timedelta(days=700), status="lapsed",
                  status_changed_on=today - datetime.timedelta(days=30))  # fmt: skip
    MemberFactory(workplace=elm, joined_on=today - datetime.timedelta(days=40))
    MemberFactory(workplace=elm, joined_on=today - datetime.timedelta(days=200))
    rows = {row["workplace"].name: row for row in density_trend(list(workplaces_with_density(union.users.national)))}
    row = rows["Elm Academy"]
    # Now: Ella and the two recent joiners (3). Three months ago: Ella, the lapsed one, the 200-day joiner (3).
    # Twelve months ago: Ella and the lapsed one (2). Elm has 80 eligible staff.
    assert row["workplace"].members_count == 3
    assert [(t["months"], t["members"]) for t in row["then"]] == [(3, 3), (12, 2)]
    assert row["then"][1]["percent"] == round(100 * 2 / 80) and row["change_12"] == 1


def test_members_by_latest_assessment_per_workplace(client, union):
    organiser = union.users.organiser_north
    record_assessment(
        actor=organiser,
        member=union.members.oak,
        score=4,
        assessed_on=timezone.localdate() - datetime.timedelta(days=9),
    )
    record_assessment(actor=organiser, member=union.members.oak, score=2, assessed_on=timezone.localdate())
    record_assessment(actor=organiser, member=union.members.oak_lapsed, score=5, assessed_on=timezone.localdate())
    rows = {r["workplace"].name: r for r in assessment_counts(list(workplaces_with_density(organiser)))}
    oak = rows["Oak Primary"]
    # Active at Oak: Rita (not assessed) and Owen (latest 2); Lara is lapsed and not counted.
    assert [c["members"] for c in oak["scores"]] == [0, 1, 0, 0, 0] and oak["not_assessed"] == 1
    client.force_login(organiser)
    html = client.get(reverse("organising_assessments")).content.decode()
    assert 'class="score score-2"' in html


def test_workplaces_without_a_current_workplace_rep(client, union):
    assert {w.name for w in workplaces_without_rep(union.users.national)} == {"Elm Academy", "Ash College"}
    union.rep_position.ended_on = timezone.localdate() - datetime.timedelta(days=1)
    union.rep_position.save()
    assert "Oak Primary" in {w.name for w in workplaces_without_rep(union.users.organiser_north)}
    client.force_login(union.users.organiser_bristol)
    html = client.get(reverse("organising_without_reps")).content.decode()
    assert "Ash College" in html and "Oak Primary" not in html and "Elm Academy" not in html


def test_the_organising_home_links_reps_by_training_status_for_organisers_only(client, union):
    gaps = reverse("events:training_gaps")
    for persona, shown in (("national", True), ("organiser_north", True), ("rep_oak", False)):
        client.force_login(getattr(union.users, persona))
        html = client.get(reverse("organising_home")).content.decode()
        assert (f'href="{gaps}"' in html) is shown, persona


def test_seed_demo_flush_clears_organising_data_too(union):
    from django.core.management import call_command

    from crm.models import Conversation, EqualitiesAnswers, Segment
    from crm.services.equalities import save_own_equalities_answers
    from crm.services.segments import save_segment

    record_assessment(actor=union.users.national, member=union.members.oak, score=2, assessed_on=timezone.localdate())
    save_own_equalities_answers(user=union.users.member_oak, answers={"lgbt_member": "yes"})
    save_segment(actor=union.users.national, name="All", filters={"branch": [str(union.branches.leeds.pk)]})
    call_command("seed_demo", members=100, seed=3, flush=True, stdout=io.StringIO(), stderr=io.StringIO())
    assert not EqualitiesAnswers.objects.exists() and not Segment.objects.exists()
    assert not Conversation.objects.exists()
