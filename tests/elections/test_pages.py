"""Count pages and services: who may see and do what, uploads, results, downloads, recount and certify."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, User
from elections import services
from elections.models import Count, Recount

PASSWORD = "a long test password"
BLT = """4 2
3 1 2 0
2 1 3 0
4 2 0
3 3 2 0
1 4 0
0
"Ann Able"
"Bob Baker"
"Cy Cole"
"Di <Dee>"
"Branch committee 2026"
"""


@pytest.fixture
def people(db):
    def make(username, role, **extra):
        return User.objects.create_user(username=username, password=PASSWORD, role=role, **extra)

    return SimpleNamespace(
        national=make("national", "national_admin"),
        superuser=make("root", "member", is_superuser=True, is_staff=True),
        scrutineer=make("scrutineer", "scrutineer"),
        organiser=make("organiser", "organiser"),
        member=make("member", "member"),
    )


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def a_count(people) -> Count:
    return services.count_from_blt(
        actor=people.scrutineer, title="Branch committee", blt_text=BLT, method="stv", rule="scottish", seed="seed-1"
    )


# ---- services --------------------------------------------------------------------------------------------


def test_count_from_blt_stores_the_canonical_ballots_hashes_and_result(a_count, people):
    assert a_count.blt_text.startswith("4 2\n")
    assert a_count.blt_sha256 == hashlib.sha256(a_count.blt_text.encode()).hexdigest()
    assert a_count.source_sha256 == hashlib.sha256(BLT.encode()).hexdigest()
    assert a_count.result_sha256 == hashlib.sha256(a_count.result_json.encode()).hexdigest()
    result = json.loads(a_count.result_json)
    assert result["seed"] == "seed-1" and result["seats"] == 2 == a_count.seats
    assert a_count.counted_by == people.scrutineer
    audit = AuditEntry.objects.get(target_type="elections.count", target_id=a_count.pk)
    assert audit.action == "create" and audit.actor == people.scrutineer


def test_recount_is_identical_byte_for_byte(a_count, people):
    outcome = services.recount(a_count, actor=people.national)
    assert outcome.is_identical and outcome.difference == ""
    assert outcome.result_sha256 == a_count.result_sha256
    assert AuditEntry.objects.filter(target_type="elections.recount", target_id=outcome.pk).exists()


def test_recount_notices_a_tampered_result_and_tampered_ballots(a_count, people):
    Count.objects.filter(pk=a_count.pk).update(result_json=a_count.result_json.replace('"Ann Able"', '"Ann Abel"', 1))
    a_count.refresh_from_db()
    outcome = services.recount(a_count, actor=people.scrutineer)
    assert not outcome.is_identical and "line" in outcome.difference
    Count.objects.filter(pk=a_count.pk).update(blt_text=a_count.blt_text.replace("3 1 2 0", "3 2 1 0"))
    a_count.refresh_from_db()
    assert "no longer match their published hash" in services.recount(a_count).difference


def test_certify_recounts_first_and_only_once(a_count, people):
    certified = services.certify_count(actor=people.scrutineer, count=a_count)
    assert certified.is_certified and certified.certified_by == people.scrutineer
    assert Recount.objects.filter(count=a_count, is_identical=True).count() == 1
    with pytest.raises(ServiceError, match="already certified"):
        services.certify_count(actor=people.national, count=a_count)


def test_certify_refuses_a_result_the_recount_does_not_reproduce(a_count, people):
    Count.objects.filter(pk=a_count.pk).update(result_json=a_count.result_json + " ")
    a_count.refresh_from_db()
    with pytest.raises(ServiceError, match="did not reproduce"):
        services.certify_count(actor=people.scrutineer, count=a_count)
    a_count.refresh_from_db()
    assert not a_count.is_certified
    assert Recount.objects.filter(count=a_count, is_identical=False).exists()  # the failed check is kept


@pytest.mark.parametrize("who", ["organiser", "member"])
def test_only_national_admins_and_scrutineers_run_counts(people, who):
    with pytest.raises(NotPermitted):
        services.count_from_blt(
            actor=getattr(people, who), title="T", blt_text=BLT, method="stv", rule="scottish", seed="s"
        )
    assert not Count.objects.exists()


def test_a_bad_file_saves_nothing_and_names_the_line(people):
    with pytest.raises(ServiceError, match="BLT line 3"):
        services.count_from_blt(
            actor=people.national, title="T", blt_text="2 1\n1 1 0\n1 3 0\n0\nA\nB\n", method="fptp", seed="s"
        )
    assert not Count.objects.exists() and not AuditEntry.objects.exists()


def test_reserved_seats_and_other_methods_are_stored_and_recount(people):
    counted = services.count_from_blt(
        actor=people.national,
        title="Women's seat",
        blt_text=BLT,
        method="fptp",
        seed="s",
        reserved_seats=1,
        reserved_group=[4],
        reserved_label="women members",
    )
    result = json.loads(counted.result_json)
    assert "Di <Dee>" in result["elected"] and counted.rule == ""
    assert services.recount(counted).is_identical


# ---- pages: who sees what ----------------------------------------------------------------------------------


def test_list_is_forbidden_to_members_and_visible_to_organisers(people, a_count):
    url = reverse("elections:count_list")
    assert client_for(people.member).get(url).status_code == 403
    page = client_for(people.organiser).get(url)
    assert page.status_code == 200 and "Branch committee" in page.content.decode()
    assert "Count a BLT file" not in page.content.decode()
    assert "Count a BLT file" in client_for(people.scrutineer).get(url).content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(a_count):
    response = Client().get(reverse("elections:count_detail", args=[a_count.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize(
    "name", ["count_detail", "count_json", "count_csv", "count_blt", "count_print", "count_recount"]
)
def test_detail_pages_are_404_to_members(people, a_count, name):
    assert client_for(people.member).get(reverse(f"elections:{name}", args=[a_count.pk])).status_code == 404
    assert client_for(people.organiser).get(reverse(f"elections:{name}", args=[a_count.pk])).status_code == 200


def test_missing_count_is_404(people):
    assert client_for(people.national).get(reverse("elections:count_detail", args=[999])).status_code == 404


def test_organisers_may_not_upload_recount_or_certify(people, a_count):
    organiser = client_for(people.organiser)
    assert organiser.get(reverse("elections:count_create")).status_code == 403
    assert organiser.post(reverse("elections:count_recount", args=[a_count.pk])).status_code == 403
    assert organiser.post(reverse("elections:count_certify", args=[a_count.pk])).status_code == 403
    member = client_for(people.member)
    assert member.post(reverse("elections:count_certify", args=[a_count.pk])).status_code == 404
    assert not Recount.objects.exists()


# ---- pages: upload, result, downloads ----------------------------------------------------------------------


def upload(client: Client, content: bytes, **fields):
    data = {"title": "NEC", "method": "stv", "rule": "scottish", "seed": "published", **fields}
    data["blt_file"] = SimpleUploadedFile("ballots.blt", content, content_type="text/plain")
    return client.post(reverse("elections:count_create"), data)


@pytest.mark.parametrize("who", ["national", "superuser", "scrutineer"])
def test_upload_counts_and_shows_the_result(people, who):
    client = client_for(getattr(people, who))
    assert client.get(reverse("elections:count_create")).status_code == 200
    response = upload(client, BLT.encode())
    count = Count.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("elections:count_detail", args=[count.pk])
    page = client.get(response["Location"]).content.decode()
    assert "<caption" in page and 'scope="row"' in page and "Stage 2" in page
    assert "<svg" in page and 'role="img"' in page
    assert "Di &lt;Dee&gt;" in page and "<Dee>" not in page
    assert count.blt_sha256 in page
    assert "<script" not in page


def test_upload_of_a_bad_file_shows_the_line_and_saves_nothing(people):
    client = client_for(people.scrutineer)
    response = upload(client, b"3 1\n1 1 2 0\n1 1 1 0\n0\nA\nB\nC\n")
    assert response.status_code == 400
    assert "BLT line 3: candidate number 1 is ranked twice" in response.content.decode()
    assert not Count.objects.exists()


def test_upload_of_non_utf8_shows_the_line(people):
    response = upload(client_for(people.scrutineer), "2 1\n1 1 0\n0\nA\nB\u00e9\n".encode("latin-1"))
    assert response.status_code == 400 and "line 5" in response.content.decode()
    assert not Count.objects.exists()


def test_upload_needs_a_seed_and_every_field_has_a_label(people):
    client = client_for(people.scrutineer)
    response = upload(client, BLT.encode(), seed="")
    assert response.status_code == 400 and not Count.objects.exists()
    page = client.get(reverse("elections:count_create")).content.decode()
    for field in ["title", "blt_file", "method", "rule", "seats", "seed", "reserved_seats", "reserved_group"]:
        assert f'<label for="id_{field}"' in page


def test_downloads(people, a_count):
    client = client_for(people.organiser)
    response = client.get(reverse("elections:count_json", args=[a_count.pk]))
    assert response.content == a_count.result_json.encode() and "attachment" in response["Content-Disposition"]
    blt = client.get(reverse("elections:count_blt", args=[a_count.pk]))
    assert blt.content.decode() == a_count.blt_text
    assert hashlib.sha256(blt.content).hexdigest() == a_count.blt_sha256 == blt["X-Content-SHA256"]
    csv = client.get(reverse("elections:count_csv", args=[a_count.pk])).content.decode()
    assert csv.startswith("Candidate,Stage 1 total")
    printed = client.get(reverse("elections:count_print", args=[a_count.pk])).content.decode()
    assert "elections.css" in printed and "<caption" in printed


def test_recount_and_certify_through_the_pages(people, a_count):
    client = client_for(people.scrutineer)
    response = client.post(reverse("elections:count_recount", args=[a_count.pk]), follow=True)
    assert "identical, byte for byte" in response.content.decode()
    response = client.post(reverse("elections:count_certify", args=[a_count.pk]), follow=True)
    assert "Certified" in response.content.decode()
    a_count.refresh_from_db()
    assert a_count.certified_by == people.scrutineer
    again = client.post(reverse("elections:count_certify", args=[a_count.pk]), follow=True)
    assert "already certified" in again.content.decode()
