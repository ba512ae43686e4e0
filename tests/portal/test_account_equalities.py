"""My equalities answers in the portal: why the union asks, who sees them, 'prefer not to say' for every
question, the member's consent, and erasing them. (The rules themselves: tests/crm/test_equalities.py.)"""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape

from crm.models import EqualitiesAnswers
from crm.models.equalities import CONSENT_WORDING

pytestmark = pytest.mark.django_db

ANSWERS = {"ethnicity": "prefer_not_to_say", "black_member": "prefer_not_to_say", "lgbt_member": "yes",
           "disabled_member": "prefer_not_to_say", "woman_member": "no"}  # fmt: skip


def test_the_page_explains_and_offers_prefer_not_to_say_for_every_question(client, union):
    client.force_login(union.users.member_oak)
    html = client.get(reverse("portal:equalities")).content.decode()
    assert escape(CONSENT_WORDING) in html and "cannot see your answers" in html
    assert html.count('value="prefer_not_to_say"') == len(ANSWERS)


def test_answers_need_the_members_agreement_and_are_erased_on_request(client, union):
    client.force_login(union.users.member_oak)
    response = client.post(reverse("portal:equalities"), ANSWERS)
    assert response.status_code == 400 and not EqualitiesAnswers.objects.exists()
    assert client.post(reverse("portal:equalities"), ANSWERS | {"consent": "on"}).status_code == 302
    row = EqualitiesAnswers.objects.get()
    assert row.member == union.members.oak and row.consent_recorded_by == union.users.member_oak
    assert client.post(reverse("portal:equalities_erase")).status_code == 302
    assert not EqualitiesAnswers.objects.exists()


def test_a_forged_member_id_saves_nothing_for_another_member(client, union):
    client.force_login(union.users.member_oak)
    client.post(reverse("portal:equalities"), ANSWERS | {"consent": "on", "member": union.members.elm.pk})
    assert list(EqualitiesAnswers.objects.values_list("member", flat=True)) == [union.members.oak.pk]


def test_the_old_pages_are_gone():
    for name in ("my_equalities", "my_equalities_withdraw"):
        with pytest.raises(NoReverseMatch):
            reverse(name)
