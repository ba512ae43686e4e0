"""Certificates in the portal and the public certificate checker. A member sees a certificate only for their
own courses (another member's id answers exactly as one that does not exist); the checker tells whoever holds
a code which course, when and for whom (first name and initial), and answers forged, malformed and oversized
codes with one plain "not a certificate we issued" or a form error, revealing nothing."""

import datetime

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from events import services, tokens
from events.models import Certification, Course, Event
from events.training import add_standard_courses
from tests.events.conftest import certify, event_details

pytestmark = pytest.mark.django_db

NO_SUCH_ID = 987_654
NOT_OURS = "Not a certificate we issued."


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def certificates(union):
    """Owen (member_oak) completed the foundation course, recorded by the North organiser; Rita (rep_oak)
    completed health and safety stage 1."""
    add_standard_courses(Course)
    owen = certify(union.members.oak, Course.objects.get(code="foundation"), on=datetime.date(2025, 3, 4))
    organiser = union.users.organiser_north
    organiser.first_name, organiser.last_name = "Nora", "North"
    organiser.save(update_fields=["first_name", "last_name"])
    owen.awarded_by = organiser
    owen.save(update_fields=["awarded_by"])
    rita = certify(union.members.rep, Course.objects.get(code="health-safety-1"), on=datetime.date(2024, 5, 6))
    return owen, rita


def check(code, client=None):
    return (client or Client()).get(reverse("certificates:check"), {"code": code})


def test_my_training_links_each_course_to_its_certificate(union, certificates):
    owen, rita = certificates
    page = signed_in(union.users.member_oak).get(reverse("portal:training")).content.decode()
    completed = page.split('id="certifications-heading"')[1].split("</section>")[0]
    assert reverse("portal:certificate", args=[owen.pk]) in completed
    assert reverse("portal:certificate", args=[rita.pk]) not in page
    # Staff reading a member's record on the events pages get no portal links.
    staff = signed_in(union.users.organiser_north).get(reverse("events:member_training", args=[union.members.oak.pk]))
    assert reverse("portal:certificate", args=[owen.pk]) not in staff.content.decode()


def test_my_certificate_shows_who_what_when_and_a_code_that_checks(union, certificates):
    owen, _rita = certificates
    response = signed_in(union.users.member_oak).get(reverse("portal:certificate", args=[owen.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    member = union.members.oak
    for text in (member.full_name, member.membership_number, owen.course.title, "4 March 2025"):
        assert text in page
    assert settings.QUORUM_UNION_NAME[:1].upper() + settings.QUORUM_UNION_NAME[1:] in page
    assert "<dt>Recorded by</dt><dd>Nora North</dd>" in page
    code = tokens.certificate_code(owen)
    assert code in page and reverse("certificates:check") in page
    assert "css/certificate.css" in page and "<script" not in page and "style=" not in page
    nav = page.split('aria-label="My Quorum"')[1].split("</nav>")[0]
    assert f'href="{reverse("portal:training")}" aria-current="page"' in nav
    answer = check(code).content.decode()
    assert "Valid certificate" in answer and owen.course.title in answer and "4 March 2025" in answer
    assert f"for {member.first_name} {member.last_name[0]}." in answer
    assert member.last_name not in answer and member.membership_number not in answer


def test_another_members_certificate_answers_as_one_that_does_not_exist(union, certificates):
    _owen, rita = certificates
    client = signed_in(union.users.member_oak)
    missing = client.get(reverse("portal:certificate", args=[NO_SUCH_ID]))
    theirs = client.get(reverse("portal:certificate", args=[rita.pk]))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.content == missing.content
    assert tokens.certificate_code(rita) not in theirs.content.decode()
    assert client.get(f"/me/training/certificates/{'9' * 30}/").status_code == 404  # oversized id
    assert client.get("/me/training/certificates/-1/").status_code == 404
    assert client.get(f"/me/training/certificates/{rita.pk}x/").status_code == 404


def test_accounts_without_a_member_record_are_refused_and_signed_out_goes_to_sign_in(union, certificates):
    owen, _rita = certificates
    url = reverse("portal:certificate", args=[owen.pk])
    for persona in ("national", "outsider", "scrutineer"):
        assert signed_in(getattr(union.users, persona)).get(url).status_code == 403
    signed_out = Client().get(url)
    assert signed_out.status_code == 302 and signed_out["Location"].startswith(reverse("login"))
    assert signed_in(union.users.member_oak).post(url).status_code == 405  # a page to read, nothing to post


def test_the_checker_is_public_and_accepts_a_code_typed_loosely(union, certificates):
    owen, rita = certificates
    blank = Client().get(reverse("certificates:check"))
    assert blank.status_code == 200 and "Valid certificate" not in blank.content.decode()
    assert NOT_OURS not in blank.content.decode()
    code = tokens.certificate_code(rita)
    loose = f" {code[:5].lower()} {code[5:]} "
    for typed in (code, loose):
        answer = check(typed, signed_in(union.users.organiser_north)).content.decode()
        assert "Valid certificate" in answer and rita.course.title in answer
        assert f"for {union.members.rep.first_name} {union.members.rep.last_name[0]}." in answer


@pytest.mark.parametrize(
    "make_code",
    [
        lambda owen, rita: f"C{owen.pk}-{tokens.certificate_code(rita).split('-')[1]}",  # another's MAC
        lambda owen, rita: (
            tokens.certificate_code(owen)[:-1] + ("B" if tokens.certificate_code(owen).endswith("A") else "A")
        ),
        lambda owen, rita: f"C{NO_SUCH_ID}-AAAAAAAAAAAAAAAA",  # shaped right, never issued
        lambda owen, rita: f"R{owen.pk}-AAAAAAAAAAAAAAAA",  # shaped as a check-in code
        lambda owen, rita: str(owen.pk),  # the bare id
        lambda owen, rita: "C1-<script>alert(1)</script>",
        lambda owen, rita: "'; DROP TABLE events_certification; --",
        lambda owen, rita: f"C{'9' * 13}-AAAAAAAAAAAAAAAA",  # id too long for the shape
        lambda owen, rita: "C\u0661-AAAAAAAAAAAAAAAA",  # a non-ASCII digit
    ],
)
def test_forged_and_malformed_codes_get_one_answer_that_reveals_nothing(union, certificates, make_code):
    owen, rita = certificates
    before = list(Certification.objects.values())
    forged = check(make_code(owen, rita))
    unknown = check("C987654-AAAAAAAAAAAAAAAA")
    page = forged.content.decode()
    assert forged.status_code == 200 and NOT_OURS in page and "Valid certificate" not in page
    for revealing in (owen.course.title, rita.course.title, union.members.oak.first_name, union.members.rep.first_name):
        assert revealing not in page
    assert "<script>alert" not in page
    # The answer is the same as for a code never issued (only the echoed input in the field may differ).
    assert (
        page.split('role="status"')[1].split("</div>")[0]
        == unknown.content.decode().split('role="status"')[1].split("</div>")[0]
    )
    assert list(Certification.objects.values()) == before


def test_an_oversized_or_empty_code_is_a_clear_form_error(union, certificates):
    for code, message in (("C1-" + "A" * 5000, "longer than any certificate"), ("", "Type the verification code")):
        response = check(code)
        page = response.content.decode()
        assert response.status_code == 400 and message in page and "There is a problem" in page
        assert "Valid certificate" not in page and NOT_OURS not in page
    assert Client().post(reverse("certificates:check"), {"code": "x"}).status_code == 405


def test_a_code_stops_checking_once_its_certification_is_gone(union, certificates):
    owen, _rita = certificates
    code = tokens.certificate_code(owen)
    assert "Valid certificate" in check(code).content.decode()
    owen.delete()
    assert NOT_OURS in check(code).content.decode()


def test_the_session_is_named_unless_it_was_a_strand_event(union, certificates):
    owen, _rita = certificates
    session = services.create_event(
        actor=union.users.organiser_north,
        details=event_details(union, kind=Event.Kind.TRAINING, course=owen.course, title="Foundation in Leeds"),
    )
    owen.session = session
    owen.save(update_fields=["session"])
    client = signed_in(union.users.member_oak)
    url = reverse("portal:certificate", args=[owen.pk])
    assert "<dt>Session</dt><dd>Foundation in Leeds</dd>" in client.get(url).content.decode()
    # A certificate is shown to others: a strand event's title would say how the member self-identifies.
    Event.objects.filter(pk=session.pk).update(audience=Event.Audience.STRAND, audience_strand="lgbt_member")
    page = client.get(url).content.decode()
    assert "Foundation in Leeds" not in page and "<dt>Session</dt>" not in page
    assert owen.course.title in page and tokens.certificate_code(owen) in page
