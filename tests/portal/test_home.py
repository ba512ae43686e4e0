"""The portal's front page: a member's own overview, reached from the site's home page."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_member_lands_on_their_own_overview(client, union):
    client.force_login(union.users.member_oak)
    assert client.get(reverse("home"))["Location"] == reverse("portal:home")
    html = client.get(reverse("portal:home")).content.decode()
    assert "Owen Oakley" in html
    assert union.members.oak.membership_number in html
    assert "Oak Primary" in html
    # Nobody else's record is on the page.
    assert union.members.rep.membership_number not in html


def test_an_account_with_no_member_record_is_refused(client, union):
    client.force_login(union.users.outsider)
    assert client.get(reverse("portal:home")).status_code == 403


def test_signed_out_goes_to_sign_in(client, union):
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
