"""Every page, for every persona: exactly their scope, 404 for what they may not see, 403 for pages not theirs."""

import re

import pytest
from django.urls import reverse

from crm.models import AuditEntry, Member, Position
from tests.conftest import visible_members_by_role

ROLES = ["national", "organiser_north", "organiser_bristol", "rep_oak", "member_oak", "scrutineer", "outsider"]
LIST_ROLES = {"national", "organiser_north", "organiser_bristol", "rep_oak"}
DASHBOARD_ROLES = {"national", "organiser_north", "organiser_bristol"}


def client_for(client, user):
    client.force_login(user)
    return client


def linked_member_ids(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/members/(\d+)/"', html)}


@pytest.mark.parametrize("persona", ROLES)
def test_member_list_shows_exactly_the_scope(client, union, persona):
    client = client_for(client, getattr(union.users, persona))
    response = client.get(reverse("member_list"))
    if persona not in LIST_ROLES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    expected = {m.pk for m in visible_members_by_role(union)[persona]}
    assert linked_member_ids(response.content.decode()) == expected
    assert f"<strong>{len(expected)}</strong> member" in response.content.decode()


@pytest.mark.parametrize("persona", ROLES)
def test_member_pages_answer_404_outside_scope_including_guessed_ids(client, union, persona):
    client = client_for(client, getattr(union.users, persona))
    visible = visible_members_by_role(union)[persona]
    for member in Member.objects.all():
        response = client.get(reverse("member_detail", args=[member.pk]))
        assert response.status_code == (200 if member in visible else 404), member
    assert client.get(reverse("member_detail", args=[999999])).status_code == 404


@pytest.mark.parametrize("persona", ROLES)
def test_workplace_pages_follow_scope(client, union, persona):
    client = client_for(client, getattr(union.users, persona))
    w = union.workplaces
    expected = {
        "national": {w.oak, w.elm, w.ash},
        "organiser_north": {w.oak, w.elm},
        "organiser_bristol": {w.ash},
        "rep_oak": {w.oak},
    }.get(persona, set())
    for workplace in (w.oak, w.elm, w.ash):
        response = client.get(reverse("workplace_detail", args=[workplace.pk]))
        assert response.status_code == (200 if workplace in expected else 404)
        if workplace in expected:
            shown = linked_member_ids(response.content.decode())
            assert shown == {m.pk for m in visible_members_by_role(union)[persona] if m.workplace == workplace}


@pytest.mark.parametrize("persona", ROLES)
def test_dashboard_is_for_national_staff_and_organisers(client, union, persona):
    client = client_for(client, getattr(union.users, persona))
    response = client.get(reverse("dashboard"))
    assert response.status_code == (200 if persona in DASHBOARD_ROLES else 403)


def test_dashboard_counts_only_the_organisers_patch(client, union):
    response = client_for(client, union.users.organiser_bristol).get(reverse("dashboard"))
    html = response.content.decode()
    assert "1 members in your area" in html.replace("\n", " ") or '1</span> <span class="stat-label">Active' in html
    assert "Oak Primary" not in html
    assert "Ash College" in html


def test_my_workplaces_shows_a_reps_workplaces_with_density(client, union):
    response = client_for(client, union.users.rep_oak).get(reverse("my_workplaces"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Oak Primary" in html and "Elm Academy" not in html
    # Oak has 3 members of whom 2 are active, among 40 eligible staff: 5%.
    assert "2 / 40" in html and "5%" in html


def test_home_sends_each_role_to_its_start_page(client, union):
    expected = {
        "national": reverse("dashboard"),
        "rep_oak": reverse("my_workplaces"),
        "member_oak": reverse("portal:home"),
    }
    for persona, url in expected.items():
        client.force_login(getattr(union.users, persona))
        assert client.get("/")["Location"] == url


def test_anonymous_visitors_are_sent_to_sign_in(client, union):
    for url in [reverse("member_list"), reverse("dashboard"), reverse("member_detail", args=[union.members.oak.pk])]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_login_page_signs_in_and_bad_password_says_so(client, union):
    response = client.post(reverse("login"), {"username": "national", "password": "wrong"})
    assert response.status_code == 200 and "Please enter a correct username and password" in response.content.decode()
    response = client.post(reverse("login"), {"username": "national", "password": union.password})
    assert response.status_code == 302


def test_password_reset_sends_a_link(client, union, mailoutbox):
    union.users.national.email = "national@example.org"
    union.users.national.save()
    response = client.post(reverse("password_reset"), {"email": "national@example.org"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and "/accounts/reset/" in mailoutbox[0].body


class TestMemberListFilters:
    def ids(self, client, **params):
        return linked_member_ids(client.get(reverse("member_list"), params).content.decode())

    def test_filters_narrow_the_list(self, client, union):
        client.force_login(union.users.national)
        m = union.members
        assert self.ids(client, status="lapsed") == {m.oak_lapsed.pk}
        assert self.ids(client, branch=union.branches.york.pk) == {m.elm.pk}
        assert self.ids(client, region=union.regions.south.pk) == {m.ash.pk}
        assert self.ids(client, workplace=union.workplaces.oak.pk) == {m.rep.pk, m.oak.pk, m.oak_lapsed.pk}
        assert self.ids(client, category="supply") == {m.supply.pk}
        assert self.ids(client, good_standing="false") == {m.oak_lapsed.pk, m.supply.pk}
        assert self.ids(client, position="workplace_rep") == {m.rep.pk}
        assert self.ids(client, has_mobile="true") == {m.rep.pk}
        assert self.ids(client, q="Elmo") == {m.elm.pk}
        assert self.ids(client, q=m.ash.membership_number) == {m.ash.pk}

    def test_an_out_of_scope_filter_value_is_an_error_not_a_leak(self, client, union):
        client.force_login(union.users.organiser_bristol)
        response = client.get(reverse("member_list"), {"branch": union.branches.leeds.pk})
        assert "Some filters could not be used" in response.content.decode()
        assert linked_member_ids(response.content.decode()) == set()

    @pytest.mark.parametrize(
        "params",
        [{"status": "zombie"}, {"branch": "abc"}, {"q": "x" * 5000}, {"page": "-1"}, {"ordering": "password"}],
    )
    def test_malformed_filters_answer_clearly(self, client, union, params):
        client.force_login(union.users.national)
        response = client.get(reverse("member_list"), params)
        assert response.status_code == 200
        html = response.content.decode()
        if "page" not in params:
            assert "Some filters could not be used" in html


def member_row(member):
    return Member.objects.filter(pk=member.pk).values().get()


class TestMemberForms:
    def valid_details(self, union, **overrides):
        data = {
            "first_name": "Nadia",
            "last_name": "New",
            "email": "nadia@example.org",
            "mobile": "07911 123456",
            "workplace": union.workplaces.oak.pk,
            "category": "teacher",
            "status": "active",
            "email_consent": "on",
        }
        data.update(overrides)
        return data

    def test_organiser_adds_a_member_and_the_audit_trail_says_so(self, client, union):
        client.force_login(union.users.organiser_north)
        response = client.post(reverse("member_create"), self.valid_details(union))
        assert response.status_code == 302
        member = Member.objects.get(last_name="New")
        assert member.mobile == "+447911123456"
        assert member.branch == union.branches.leeds and member.employer == union.employers.council
        assert member.email_consent and member.email_consent_at is not None
        entry = AuditEntry.objects.get(member=member)
        assert entry.actor == union.users.organiser_north and entry.action == "create"
        page = client.get(reverse("member_detail", args=[member.pk])).content.decode()
        assert "organiser_north" in page and "Added Nadia New" in page

    @pytest.mark.parametrize(
        "overrides, field",
        [
            ({"first_name": ""}, "first_name"),
            ({"first_name": "x" * 5000}, "first_name"),
            ({"mobile": "12345"}, "mobile"),
            ({"mobile": "<script>alert(1)</script>"}, "mobile"),
            ({"email": "not an email"}, "email"),
            ({"status": "zombie"}, "status"),
            ({"workplace": "999999"}, "workplace"),
            ({"workplace": "", "branch": ""}, "branch"),
            ({"joined_on": "31/31/2020"}, "joined_on"),
            ({"sms_consent": "on", "mobile": ""}, "sms_consent"),
        ],
    )
    def test_bad_input_is_refused_clearly_and_nothing_is_added(self, client, union, overrides, field):
        client.force_login(union.users.organiser_north)
        before = Member.objects.count()
        response = client.post(reverse("member_create"), self.valid_details(union, **overrides))
        assert response.status_code == 400
        assert field in response.context["form"].errors or response.context["form"].non_field_errors()
        assert "There is a problem" in response.content.decode()
        assert Member.objects.count() == before
        assert not AuditEntry.objects.exists()

    def test_an_organiser_cannot_add_a_member_outside_their_patch(self, client, union):
        client.force_login(union.users.organiser_bristol)
        response = client.post(reverse("member_create"), self.valid_details(union))
        assert response.status_code == 400 and "workplace" in response.context["form"].errors
        assert not Member.objects.filter(last_name="New").exists()

    def test_reps_members_and_scrutineers_cannot_add_members(self, client, union):
        for persona in ["rep_oak", "member_oak", "scrutineer"]:
            client.force_login(getattr(union.users, persona))
            assert client.post(reverse("member_create"), self.valid_details(union)).status_code == 403
        assert not Member.objects.filter(last_name="New").exists()

    def test_edit_records_each_change(self, client, union):
        client.force_login(union.users.organiser_north)
        member = union.members.oak
        data = self.valid_details(union, first_name=member.first_name, last_name=member.last_name, status="lapsed")
        response = client.post(reverse("member_edit", args=[member.pk]), data)
        assert response.status_code == 302
        member.refresh_from_db()
        assert member.status == "lapsed"
        entry = AuditEntry.objects.get(member=member)
        assert entry.changes["status"] == ["active", "lapsed"]

    def test_bad_edit_changes_nothing(self, client, union):
        client.force_login(union.users.organiser_north)
        member = union.members.oak
        before = member_row(member)
        response = client.post(reverse("member_edit", args=[member.pk]), self.valid_details(union, mobile="999"))
        assert response.status_code == 400
        assert member_row(member) == before

    def test_edit_outside_scope_is_404_and_rep_edit_is_403(self, client, union):
        client.force_login(union.users.organiser_bristol)
        assert client.get(reverse("member_edit", args=[union.members.oak.pk])).status_code == 404
        client.force_login(union.users.rep_oak)
        assert client.get(reverse("member_edit", args=[union.members.oak.pk])).status_code == 403


class TestPositionForms:
    def test_add_and_end_a_position(self, client, union):
        client.force_login(union.users.organiser_north)
        member = union.members.oak
        url = reverse("position_create", args=[member.pk])
        response = client.post(
            url, {"kind": "health_safety_rep", "workplace": union.workplaces.oak.pk, "started_on": "2025-09-01"}
        )
        assert response.status_code == 302
        position = Position.objects.get(member=member)
        response = client.post(reverse("position_end", args=[position.pk]), {"ended_on": "2026-07-31"})
        assert response.status_code == 302
        position.refresh_from_db()
        assert str(position.ended_on) == "2026-07-31"
        assert AuditEntry.objects.filter(member=member).count() == 2

    @pytest.mark.parametrize(
        "data",
        [
            {"kind": "health_safety_rep", "started_on": "2025-09-01"},
            {"kind": "branch_secretary", "workplace": "W", "started_on": "2025-09-01"},
            {"kind": "branch_secretary", "workplace": "W", "branch": "B", "started_on": "2025-09-01"},
            {"kind": "health_safety_rep", "workplace": "W", "started_on": "2025-09-01", "ended_on": "2024-01-01"},
            {"kind": "astronaut", "workplace": "W", "started_on": "2025-09-01"},
            {"kind": "health_safety_rep", "workplace": "W", "started_on": "yesterday"},
        ],
    )
    def test_bad_positions_are_refused(self, client, union, data):
        client.force_login(union.users.organiser_north)
        data = {k: {"W": union.workplaces.oak.pk, "B": union.branches.leeds.pk}.get(v, v) for k, v in data.items()}
        response = client.post(reverse("position_create", args=[union.members.oak.pk]), data)
        assert response.status_code == 400
        assert not Position.objects.filter(member=union.members.oak).exists()

    def test_a_position_cannot_end_before_it_starts(self, client, union):
        client.force_login(union.users.organiser_north)
        response = client.post(reverse("position_end", args=[union.rep_position.pk]), {"ended_on": "2000-01-01"})
        assert response.status_code == 400
        union.rep_position.refresh_from_db()
        assert union.rep_position.ended_on is None

    def test_a_lapsed_member_cannot_take_a_position(self, client, union):
        client.force_login(union.users.organiser_north)
        response = client.post(
            reverse("position_create", args=[union.members.oak_lapsed.pk]),
            {"kind": "learning_rep", "workplace": union.workplaces.oak.pk, "started_on": "2025-09-01"},
        )
        assert response.status_code == 400 and "good standing" in response.content.decode()


def workplace_options(html: str, field: str = "workplace") -> str:
    start = html.index(f'id="id_{field}"')
    return html[start : html.index("</select>", start)]


def test_a_long_workplace_list_is_narrowed_to_the_chosen_branch(client, union, monkeypatch):
    monkeypatch.setattr("crm.views.MAX_FILTER_CHOICES", 1)
    client.force_login(union.users.national)
    html = client.get(reverse("member_list")).content.decode()
    assert "Choose a branch and apply to list its workplaces." in html
    assert "Oak Primary" not in workplace_options(html)
    html = client.get(reverse("member_list"), {"branch": union.branches.leeds.pk}).content.decode()
    assert "Oak Primary" in workplace_options(html) and "Elm Academy" not in workplace_options(html)
    # Any workplace in scope is still accepted, and stays selected.
    response = client.get(reverse("member_list"), {"workplace": union.workplaces.elm.pk})
    assert linked_member_ids(response.content.decode()) == {union.members.elm.pk}
    assert f'<option value="{union.workplaces.elm.pk}" selected>Elm Academy' in workplace_options(
        response.content.decode()
    )


def test_a_long_employer_list_follows_the_branch_and_keeps_agencies(client, union, monkeypatch):
    from tests.factories import EmployerFactory

    EmployerFactory(name="Supply Solutions", kind="agency")
    monkeypatch.setattr("crm.views.MAX_FILTER_CHOICES", 1)
    client.force_login(union.users.national)
    options = workplace_options(client.get(reverse("member_list")).content.decode(), "employer")
    assert "Supply Solutions" in options and "Leeds City Council" not in options
    html = client.get(reverse("member_list"), {"branch": union.branches.leeds.pk}).content.decode()
    options = workplace_options(html, "employer")
    assert "Leeds City Council" in options and "White Rose Trust" not in options
    # Any employer is still accepted, and stays selected.
    response = client.get(reverse("member_list"), {"employer": union.employers.trust.pk})
    assert linked_member_ids(response.content.decode()) == {union.members.elm.pk}
    assert f'<option value="{union.employers.trust.pk}" selected>White Rose Trust' in workplace_options(
        response.content.decode(), "employer"
    )
