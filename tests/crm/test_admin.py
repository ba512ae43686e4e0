"""The admin is scoped like every other page for staff who are not superusers."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from crm.models import AuditEntry, Member
from tests.conftest import visible_members_by_role


@pytest.fixture
def staff_organiser(union):
    user = union.users.organiser_bristol
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="crm"))
    return user


def test_organiser_sees_only_their_patch_in_the_admin(client, union, staff_organiser):
    client.force_login(staff_organiser)
    html = client.get(reverse("admin:crm_member_changelist")).content.decode()
    expected = visible_members_by_role(union)["organiser_bristol"]
    for member in Member.objects.all():
        assert (member.membership_number in html) == (member in expected)
    assert client.get(reverse("admin:crm_member_change", args=[union.members.oak.pk])).status_code == 302
    assert client.get(reverse("admin:crm_member_change", args=[union.members.ash.pk])).status_code == 200


def test_admin_workplace_choices_are_scoped(client, union, staff_organiser):
    client.force_login(staff_organiser)
    html = client.get(reverse("admin:crm_position_add")).content.decode()
    assert "Ash College" in html and "Oak Primary" not in html


def test_admin_changes_are_audited(client, union, staff_organiser):
    client.force_login(staff_organiser)
    member = union.members.ash
    url = reverse("admin:crm_member_change", args=[member.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "tags"}
    data.update(
        {
            "first_name": "Ashleigh",
            "positions-TOTAL_FORMS": "0",
            "positions-INITIAL_FORMS": "0",
            "positions-MIN_NUM_FORMS": "0",
            "positions-MAX_NUM_FORMS": "1000",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = AuditEntry.objects.get(member=member)
    assert entry.actor == staff_organiser and "first_name" in entry.changes


def test_only_national_admins_see_other_accounts(client, union, staff_organiser):
    client.force_login(staff_organiser)
    html = client.get(reverse("admin:crm_user_changelist")).content.decode()
    assert "organiser_bristol" in html and "organiser_north" not in html
