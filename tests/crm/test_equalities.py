"""Equalities answers: special category data. Entered by the member or with recorded consent; readable only
with an explicit permission, every read logged; never shown elsewhere; aggregates suppressed."""

from __future__ import annotations

import itertools
import logging

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, EqualitiesAccess, EqualitiesAnswers, Member, User
from crm.selectors.equalities import equalities_summary, strand_members, suppress_row
from crm.services.conversations import log_conversation
from crm.services.equalities import (
    read_equalities_answers,
    record_equalities_answers,
    save_own_equalities_answers,
)
from crm.services.segments import save_segment
from tests.factories import MemberFactory

# Answers no page may show without the permission: a rare ethnicity, recognisable by value and by label.
SECRET_VALUE = "white_gypsy_traveller"
SECRET_LABEL = "Gypsy or Irish Traveller"
ANSWERS = {"ethnicity": SECRET_VALUE, "black_member": "no", "lgbt_member": "yes", "disabled_member":
           "prefer_not_to_say", "woman_member": "yes"}  # fmt: skip


def grant(user: User) -> User:
    user.user_permissions.add(Permission.objects.get(codename="view_equalities_answers"))
    return User.objects.get(pk=user.pk)  # fresh: permissions are cached on the instance


@pytest.fixture
def answered(union):
    """Every member of the union has given the same answers, themselves (as if through their portal)."""
    for member in Member.objects.all():
        EqualitiesAnswers.objects.create(
            member=member, **ANSWERS, entered_by="member", consent_wording_version="2026-1",
            consent_recorded_at="2026-01-01T00:00:00Z",
        )  # fmt: skip
    return union


# --- the member's own answers (in the member portal) -----------------------------------------------------------


def test_a_member_gives_changes_and_withdraws_their_own_answers(client, union):
    client.force_login(union.users.member_oak)
    page = client.get(reverse("portal:equalities"))
    assert page.status_code == 200 and "prefer not to say" in page.content.decode().lower()
    assert client.post(reverse("portal:equalities"), ANSWERS | {"consent": "on"}).status_code == 302
    row = EqualitiesAnswers.objects.get(member=union.members.oak)
    assert row.ethnicity == SECRET_VALUE and row.lgbt_member == "yes" and row.entered_by == "member"
    assert row.consent_recorded_by == union.users.member_oak and row.consent_wording_version == "2026-1"
    html = client.get(reverse("portal:equalities")).content.decode()
    assert f'value="{SECRET_VALUE}" selected' in html  # they see their own answers
    assert EqualitiesAccess.objects.filter(member=union.members.oak, reader=union.users.member_oak).count() == 3
    assert client.post(reverse("portal:equalities_erase")).status_code == 302
    assert not EqualitiesAnswers.objects.exists()


@pytest.mark.parametrize(
    "bad", [{"ethnicity": "martian"}, {"lgbt_member": "maybe"}, {"woman_member": "<script>x</script>"}]
)
def test_bad_answers_are_refused_and_nothing_is_saved(client, union, bad):
    client.force_login(union.users.member_oak)
    response = client.post(reverse("portal:equalities"), ANSWERS | {"consent": "on"} | bad)
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert "<script>x</script>" not in response.content.decode()
    assert not EqualitiesAnswers.objects.exists()
    with pytest.raises(ServiceError):
        save_own_equalities_answers(user=union.users.member_oak, answers=ANSWERS | bad)
    with pytest.raises(ServiceError, match="Unknown questions"):
        save_own_equalities_answers(user=union.users.member_oak, answers={"religion": "none"})
    assert not EqualitiesAnswers.objects.exists()


def test_users_without_a_member_record_have_no_answers_page(client, union):
    for persona in ("scrutineer", "outsider", "national"):
        client.force_login(getattr(union.users, persona))
        assert client.get(reverse("portal:equalities")).status_code == 403
    with pytest.raises(NotPermitted):
        save_own_equalities_answers(user=union.users.outsider, answers=ANSWERS)


# --- the permission -----------------------------------------------------------------------------------------


def test_nobody_holds_the_permission_by_default_not_even_national_admins(answered):
    for user in vars(answered.users).values():
        assert not user.has_perm("crm.view_equalities_answers")
        with pytest.raises(NotPermitted):
            read_equalities_answers(reader=user, member=answered.members.elm, via="page")
    assert not EqualitiesAccess.objects.exists()


@pytest.mark.parametrize("persona", ["national", "organiser_north", "rep_oak"])
def test_staff_without_the_permission_get_403_and_no_link(client, answered, persona):
    client.force_login(getattr(answered.users, persona))
    member = answered.members.oak
    assert client.get(reverse("member_equalities", args=[member.pk])).status_code == 403
    assert client.get(reverse("member_equalities_edit", args=[member.pk])).status_code == 403
    assert (
        reverse("member_equalities", args=[member.pk])
        not in client.get(reverse("member_detail", args=[member.pk])).content.decode()
    )
    assert not EqualitiesAccess.objects.exists()


def test_with_the_permission_a_read_is_logged_and_outside_the_scope_is_404(client, answered):
    organiser = grant(answered.users.organiser_north)
    client.force_login(organiser)
    member = answered.members.oak
    assert (
        reverse("member_equalities", args=[member.pk])
        in client.get(reverse("member_detail", args=[member.pk])).content.decode()
    )
    response = client.get(reverse("member_equalities", args=[member.pk]))
    assert response.status_code == 200 and SECRET_LABEL in response.content.decode()
    access = EqualitiesAccess.objects.get()
    assert (access.reader, access.member, access.via) == (organiser, member, "page")
    # Ash is in Bristol: 404 as for any member outside the patch, and no read is logged.
    assert client.get(reverse("member_equalities", args=[answered.members.ash.pk])).status_code == 404
    assert EqualitiesAccess.objects.count() == 1


def test_staff_record_answers_only_with_the_members_consent(client, union):
    organiser = grant(union.users.organiser_north)
    client.force_login(organiser)
    url = reverse("member_equalities_edit", args=[union.members.elm.pk])
    page = client.get(url).content.decode()
    assert "Wording version 2026-1" in page
    response = client.post(url, ANSWERS)  # no consent ticked
    assert response.status_code == 400 and "Record the member&#x27;s consent" in response.content.decode()
    assert not EqualitiesAnswers.objects.exists()
    assert client.post(url, ANSWERS | {"consent": "on"}).status_code == 302
    row = EqualitiesAnswers.objects.get()
    assert row.entered_by == "staff" and row.consent_recorded_by == organiser and row.consent_recorded_at
    with pytest.raises(ServiceError, match="agreed"):
        record_equalities_answers(actor=organiser, member=union.members.elm, answers=ANSWERS, member_consented=False)
    with pytest.raises(NotPermitted):
        record_equalities_answers(
            actor=union.users.national, member=union.members.elm, answers=ANSWERS, member_consented=True
        )


# --- never shown, never logged, without the permission ------------------------------------------------------


def test_answers_never_appear_anywhere_without_the_permission(client, answered, caplog):
    """Every page and API response a persona can reach, and every log line, holds no answer."""
    caplog.set_level(logging.DEBUG)
    u, m = answered.users, answered.members
    save_segment(actor=u.organiser_north, name="Everyone", filters={})
    log_conversation(actor=u.organiser_north, member=m.oak, channel="phone", outcome="supportive",
                     held_on=m.oak.joined_on)  # fmt: skip
    urls = [
        reverse("member_list"),
        reverse("member_list") + "?status=active",
        reverse("dashboard"),
        reverse("my_workplaces"),
        reverse("organising_home"),
        reverse("organising_density"),
        reverse("organising_assessments"),
        reverse("organising_without_reps"),
        reverse("equalities_summary"),
        reverse("segment_list"),
        reverse("follow_up_list"),
        reverse("bulk_tag"),
        "/api/v1/members/",
        "/api/v1/conversations/",
        "/api/v1/assessments/",
        "/api/v1/segments/",
        "/api/v1/equalities/summary/",
    ]
    for member in Member.objects.all():
        urls += [
            reverse("member_detail", args=[member.pk]),
            reverse("member_equalities", args=[member.pk]),
            f"/api/v1/members/{member.pk}/",
            f"/api/v1/equalities/members/{member.pk}/",
        ]
        if member.workplace_id:
            urls.append(reverse("workplace_detail", args=[member.workplace_id]))
    for persona in ("national", "organiser_north", "organiser_bristol", "rep_oak", "scrutineer", "outsider"):
        client.force_login(getattr(u, persona))
        for url in urls:
            body = client.get(url).content.decode()
            assert SECRET_VALUE not in body and SECRET_LABEL not in body, (persona, url)
        segment_id = answered.users.organiser_north.segments.get().pk
        body = client.get(f"/api/v1/segments/{segment_id}/members/").content.decode()
        assert SECRET_VALUE not in body
    assert not EqualitiesAccess.objects.exists()
    assert SECRET_VALUE not in caplog.text and SECRET_LABEL not in caplog.text


def test_a_member_sees_only_their_own_answers(client, answered):
    client.force_login(answered.users.member_oak)
    assert client.get(f"/api/v1/equalities/members/{answered.members.elm.pk}/").status_code == 404
    assert client.get(f"/api/v1/equalities/members/{answered.members.oak.pk}/").status_code == 403
    assert client.get(reverse("member_equalities", args=[answered.members.elm.pk])).status_code == 404
    assert client.get("/api/v1/equalities/me/").json()["ethnicity"] == SECRET_VALUE


def test_the_audit_trail_says_answers_were_saved_but_never_what_they_are_nor_on_the_member_page(client, union):
    save_own_equalities_answers(user=union.users.member_oak, answers=ANSWERS)
    entry = AuditEntry.objects.get(target_type="crm.equalitiesanswers")
    assert entry.target_id == union.members.oak.pk and entry.summary == "Equalities answers saved by the member"
    assert entry.changes == {} and entry.member is None
    client.force_login(union.users.national)
    html = client.get(reverse("member_detail", args=[union.members.oak.pk])).content.decode()
    assert "Equalities answers" not in html
    assert SECRET_VALUE not in html and SECRET_LABEL not in html


# --- strand membership for later issues ---------------------------------------------------------------------


def test_strand_members_are_those_who_said_yes(union):
    save_own_equalities_answers(user=union.users.member_oak, answers={"lgbt_member": "yes", "woman_member": "no"})
    save_own_equalities_answers(user=union.users.rep_oak, answers={"lgbt_member": "prefer_not_to_say"})
    assert list(strand_members("lgbt_member")) == [union.members.oak]
    assert not strand_members("woman_member").exists()
    with pytest.raises(ValueError):
        strand_members("equalities__member__email")


# --- suppression --------------------------------------------------------------------------------------------


def possible_values(row: list[int], shown: list[str]) -> list[set[int]]:
    """What someone could work out about each cell from the shown row and its total (which they know from the
    member list), by trying every combination: "<5" is 0-4; "hidden" beside a "<5" is at least 5 and at most
    the smallest figure shown; "hidden" with no "<5" in the row is anything up to the total."""
    total = sum(row)
    visible = [int(s.replace(",", "")) for s in shown if s not in ("<5", "hidden")]
    smallest = min(visible, default=total)
    has_small = "<5" in shown
    ranges = []
    for mark in shown:
        if mark == "<5":
            ranges.append(range(0, 5))
        elif mark == "hidden":
            ranges.append(range(5, smallest + 1) if has_small else range(0, total + 1))
        else:
            ranges.append(range(int(mark.replace(",", "")), int(mark.replace(",", "")) + 1))
    found = [set() for _ in row]
    for candidate in itertools.product(*ranges):
        if sum(candidate) == total:
            for i, value in enumerate(candidate):
                found[i].add(value)
    return found


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=14), min_size=2, max_size=4))
def test_no_small_count_is_shown_and_no_hidden_one_can_be_worked_out_from_the_total(row):
    cells = suppress_row(row)
    shown = [text for _count, text in cells]
    for value, (count, text) in zip(row, cells, strict=True):
        if value < 5:
            assert count is None and text in ("<5", "hidden")
        if count is not None:
            assert count == value and text == str(value)
    possible = possible_values(row, shown)
    for i, (count, _text) in enumerate(cells):
        assert row[i] in possible[i]  # the true value is always one of the possibilities
        if count is None and sum(row) > 0:
            assert len(possible[i]) >= 2, (row, shown, i, possible[i])


def test_suppression_examples():
    assert [t for _c, t in suppress_row([40, 300, 3, 500])] == ["hidden", "300", "<5", "500"]
    assert [t for _c, t in suppress_row([4, 4, 100, 200])] == ["<5", "<5", "hidden", "200"]  # 4+4=8 would tell
    assert [t for _c, t in suppress_row([10, 20, 30, 40])] == ["10", "20", "30", "40"]


def test_the_summary_counts_active_members_in_scope_with_every_small_cell_suppressed(answered):
    u = answered.users
    # Twenty more active members at Elm (York): twelve women members, eight not; none LGBT+.
    for i in range(20):
        member = MemberFactory(workplace=answered.workplaces.elm)
        EqualitiesAnswers.objects.create(member=member, woman_member="yes" if i < 12 else "no", lgbt_member="no",
                                         entered_by="member", consent_wording_version="2026-1",
                                         consent_recorded_at="2026-01-01T00:00:00Z")  # fmt: skip
    summary = equalities_summary(u.organiser_north)
    # North, active: rep, oak, elm, supply (from the fixture, all yes to both) and the twenty: 24. Lara is lapsed.
    assert summary["members"] == 24
    lgbt = next(row for row in summary["strands"] if row["strand"] == "lgbt_member")
    # 4 yes, 20 no, 0 prefer not to say, 0 not answered: the three small ones could be anything from 0 to 4
    # that adds up to 4, so nothing more is hidden.
    assert [(c.count, c.shown) for c in lgbt["cells"]] == [(None, "<5"), (20, "20"), (None, "<5"), (None, "<5")]
    woman = next(row for row in summary["strands"] if row["strand"] == "woman_member")
    # 16 yes, 8 no, 0, 0: showing 16 and 8 would tell that the two small cells are 0 (everyone answered), so
    # the 8 is hidden as well.
    assert [(c.count, c.shown) for c in woman["cells"]] == [(16, "16"), (None, "hidden"), (None, "<5"), (None, "<5")]
    for row in summary["strands"]:
        assert all(c.count is None or c.count >= 5 for c in row["cells"])
    assert all(c.count is None or c.count >= 5 for c in summary["ethnicity"])
    # black_member: 0 yes, 4 no, 0 prefer not to say, 20 not answered: the small ones add up to 4, any of them
    # could be 0 to 4, so the 20 can be shown.
    black = next(row for row in summary["strands"] if row["strand"] == "black_member")
    assert [c.shown for c in black["cells"]] == ["<5", "<5", "<5", "20"]
    york = equalities_summary(u.organiser_north, branch=answered.branches.york.pk)
    assert york["members"] == 21 and york["area"] == "York branch"
    with pytest.raises(ServiceError):
        equalities_summary(u.organiser_north, branch=answered.branches.bristol.pk)
    with pytest.raises(ServiceError):
        equalities_summary(u.organiser_bristol, region=answered.regions.north.pk)
    with pytest.raises(ServiceError):
        equalities_summary(u.organiser_bristol, branch="1 OR 1=1")


@pytest.mark.parametrize(
    ("persona", "status"),
    [("national", 200), ("organiser_north", 200), ("rep_oak", 403), ("member_oak", 403), ("scrutineer", 403)],
)
def test_the_summary_page_is_for_organisers_and_national_admins(client, answered, persona, status):
    client.force_login(getattr(answered.users, persona))
    response = client.get(reverse("equalities_summary"))
    assert response.status_code == status
    if status == 200:
        assert "&lt;5" in response.content.decode()
    client.force_login(answered.users.organiser_bristol)
    response = client.get(reverse("equalities_summary") + f"?branch={answered.branches.leeds.pk}")
    assert response.status_code == 400 and "not one of yours" in response.content.decode()
