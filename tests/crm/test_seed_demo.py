"""seed_demo builds a small demo union that keeps the invariants the services keep, one login per role,
and the same union for the same seed; it never writes over data it was not asked to flush."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from crm.management.demo_seed import DEMO_PASSWORD
from crm.models import Branch, Member, MembershipSnapshot, Position, User, Workplace
from crm.phones import normalise_mobile
from crm.selectors import members_visible_to, membership_trend_for
from crm.services import next_membership_number

MEMBERS = 300


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", members=MEMBERS, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def seeded(db):
    return seed(seed=5)


def union_fingerprint() -> list:
    """What a seed decides, without database ids (which depend on what was deleted before)."""
    members = list(
        Member.objects.order_by("membership_number").values_list(
            "membership_number",
            "first_name",
            "last_name",
            "email",
            "mobile",
            "postcode",
            "branch__name",
            "workplace__name",
            "employer__name",
            "category",
            "status",
            "joined_on",
            "has_arrears",
            "sms_consent",
        )
    )
    positions = sorted(
        Position.objects.values_list("member__membership_number", "kind", "started_on", "ended_on"), key=str
    )
    workplaces = sorted(Workplace.objects.values_list("name", "branch__name", "sector", "eligible_staff"))
    return [members, positions, workplaces]


def test_every_role_gets_a_login_with_the_demo_password(seeded):
    users = {user.username: user for user in User.objects.all()}
    assert set(users) == {"admin", "organiser", "branchsec", "rep", "member", "scrutineer"}
    assert all(user.check_password(DEMO_PASSWORD) for user in users.values())

    admin = users["admin"]
    assert admin.is_superuser and admin.is_staff and admin.role == User.Role.NATIONAL_ADMIN
    assert members_visible_to(admin).count() == MEMBERS

    organiser = users["organiser"]
    assert organiser.role == User.Role.ORGANISER
    assert organiser.regions.count() == 1 and not organiser.branches.exists()
    region = organiser.regions.get()
    assert set(members_visible_to(organiser)) == set(Member.objects.filter(branch__region=region))

    branchsec = users["branchsec"]
    assert branchsec.role == User.Role.ORGANISER
    assert branchsec.branches.count() == 1 and not branchsec.regions.exists()

    rep = users["rep"]
    assert rep.role == User.Role.REP and rep.member is not None
    assert Position.objects.current().filter(member=rep.member, kind=Position.Kind.WORKPLACE_REP).exists()
    assert members_visible_to(rep).count() > 1  # their workplace, not only themselves

    member = users["member"]
    assert member.role == User.Role.MEMBER and member.member is not None
    assert list(members_visible_to(member)) == [member.member]
    assert member.member in members_visible_to(rep)  # a colleague of the demo rep

    assert users["scrutineer"].role == User.Role.SCRUTINEER
    assert not members_visible_to(users["scrutineer"]).exists()
    assert len({u.member_id for u in users.values() if u.member_id}) == 3  # no member has two logins


def test_the_output_lists_the_logins_and_says_the_password_is_for_demos(seeded):
    for username in ("admin", "organiser", "branchsec", "rep", "member", "scrutineer"):
        assert f"\n  {username} " in seeded
    assert DEMO_PASSWORD in seeded and "demo" in seeded.lower()


def test_members_keep_the_invariants_the_services_keep(seeded):
    members = Member.objects.all()
    assert members.count() == MEMBERS
    at_work = members.exclude(workplace=None)
    assert at_work.exists()
    assert not at_work.exclude(branch=F("workplace__branch")).exists()
    assert not at_work.exclude(employer=F("workplace__employer")).exists()
    assert not members.filter(category__in=["supply", "retired"]).exclude(workplace=None).exists()
    assert (
        not members.filter(category="lecturer", workplace__isnull=False)
        .exclude(workplace__sector__in=["further_education", "sixth_form"])
        .exists()
    )

    mobiles = list(members.exclude(mobile="").values_list("mobile", flat=True))
    assert len(mobiles) > MEMBERS // 2
    assert all(normalise_mobile(mobile) == mobile for mobile in mobiles)
    assert not members.filter(sms_consent=True, mobile="").exists()
    for channel in ("email", "sms"):
        consenting = members.filter(**{f"{channel}_consent": True})
        assert consenting.exists()
        assert not consenting.filter(**{f"{channel}_consent_source": ""}).exists()
        assert not consenting.filter(**{f"{channel}_consent_at": None}).exists()
    assert all(
        email.rsplit("@", 1)[1].startswith("example.")
        for email in members.exclude(email="").values_list("email", flat=True)
    )
    assert set(members.values_list("status", flat=True)) >= {"active", "lapsed", "resigned"}


def test_positions_are_held_where_their_holders_belong(seeded):
    positions = Position.objects.select_related("member")
    assert positions.filter(kind=Position.Kind.WORKPLACE_REP).exists()
    assert positions.filter(kind=Position.Kind.BRANCH_SECRETARY).exists()
    assert positions.filter(kind=Position.Kind.REGIONAL_OFFICER).exists()
    assert positions.exclude(ended_on=None).exists()
    for position in positions:
        assert position.ended_on is None or position.ended_on >= position.started_on
        if position.workplace_id:
            assert position.member.workplace_id == position.workplace_id
            assert Workplace.objects.filter(pk=position.workplace_id).exists()
        elif position.branch_id:
            assert position.member.branch_id == position.branch_id
        else:
            assert Branch.objects.get(pk=position.member.branch_id).region_id == position.region_id


def test_numbers_continue_in_the_q_series_and_the_trend_has_history(seeded):
    numbers = set(Member.objects.values_list("membership_number", flat=True))
    assert numbers == {f"Q{n:07d}" for n in range(1, MEMBERS + 1)}
    assert next_membership_number() == f"Q{MEMBERS + 1:07d}"
    assert MembershipSnapshot.objects.values("taken_on").distinct().count() >= 3
    assert len(membership_trend_for(User.objects.get(username="admin"))) >= 3


def test_refuses_a_database_with_data_unless_told_to_flush(seeded):
    before = union_fingerprint()
    with pytest.raises(CommandError, match="--flush"):
        seed(seed=5)
    assert union_fingerprint() == before

    seed(seed=6, flush=True)
    assert Member.objects.count() == MEMBERS
    assert User.objects.filter(username="admin").count() == 1
    assert union_fingerprint() != before


def test_flush_keeps_other_users_but_unlinks_them(seeded):
    keeper = User.objects.create(username="someone", role=User.Role.REP, member=Member.objects.first())
    seed(seed=5, flush=True)
    keeper.refresh_from_db()
    assert keeper.member is None and keeper.role == User.Role.MEMBER


def test_the_same_seed_builds_the_same_union(db):
    seed(seed=9)
    first = union_fingerprint()
    seed(seed=9, flush=True)
    assert union_fingerprint() == first
