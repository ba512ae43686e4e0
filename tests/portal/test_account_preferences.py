"""My preferences: consent to campaign emails and texts, with the wording and time recorded."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from crm.models import AuditEntry, ConsentRecord, Member, SmsOptOut
from crm.services import member_account
from crm.services.messages import opt_out_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def owen(client, union):
    client.force_login(union.users.member_oak)
    return union.members.oak


def test_a_member_gives_consent_and_the_wording_and_time_are_kept(client, owen):
    page = client.get(reverse("portal:preferences")).content.decode()
    assert escape(member_account.CAMPAIGN_CONSENT_WORDING["email"]) in page
    assert client.post(reverse("portal:preferences"), {"email_consent": "on"}).status_code == 302
    owen.refresh_from_db()
    assert owen.email_consent and owen.email_consent_source == "member_portal" and owen.email_consent_at
    record = ConsentRecord.objects.get(member=owen)
    assert (record.channel, record.is_given, record.wording_version) == ("email", True, "2026-1")
    assert record.wording == member_account.CAMPAIGN_CONSENT_WORDING["email"]
    assert AuditEntry.objects.filter(member=owen, summary__contains="preferences").count() == 1
    assert "You agreed to wording version 2026-1" in client.get(reverse("portal:preferences")).content.decode()
    # Withdrawing is recorded too; saving the same choice again records nothing new.
    client.post(reverse("portal:preferences"), {})
    client.post(reverse("portal:preferences"), {})
    assert list(ConsentRecord.objects.order_by("pk").values_list("is_given", flat=True)) == [True, False]


def test_texts_need_a_mobile_and_nothing_changes_without_one(client, owen):
    response = client.post(reverse("portal:preferences"), {"sms_consent": "on", "email_consent": "on"})
    assert response.status_code == 400 and "mobile number" in response.content.decode()
    owen.refresh_from_db()
    assert not owen.sms_consent and not owen.email_consent and not ConsentRecord.objects.exists()


def test_consenting_to_texts_takes_the_members_number_off_the_no_texts_list(client, owen):
    Member.objects.filter(pk=owen.pk).update(mobile="+447911123457")
    SmsOptOut.objects.create(number="+447911123457", source="keyword")
    assert "no-texts list" in client.get(reverse("portal:preferences")).content.decode()
    client.post(reverse("portal:preferences"), {"sms_consent": "on"})
    owen.refresh_from_db()
    assert owen.sms_consent and not SmsOptOut.objects.exists()


def test_forged_fields_are_ignored(client, union, owen):
    client.post(
        reverse("portal:preferences"),
        {"email_consent": "on", "email_consent_source": "import", "member": union.members.elm.pk, "status": "resigned"},
    )
    owen.refresh_from_db()
    elm = Member.objects.get(pk=union.members.elm.pk)
    assert owen.email_consent_source == "member_portal" and owen.status == "active"
    assert not elm.email_consent and not ConsentRecord.objects.filter(member=elm).exists()


def test_the_unsubscribe_page_points_to_preferences(client, owen):
    url = reverse("opt_out", args=[opt_out_token(owen.pk, "email")])
    assert reverse("portal:preferences") in client.get(url).content.decode()
    assert reverse("portal:preferences") in client.post(url).content.decode()
