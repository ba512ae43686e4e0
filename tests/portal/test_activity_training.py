"""My training in the portal: the member's own courses completed, training for positions held and bookings.
The old events "my training" address is gone; a member opening their own record by id is sent here."""

import datetime

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

from events import services
from events.models import Course, Event
from events.training import add_standard_courses
from tests.events.conftest import certify, event_details

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def courses(db):
    add_standard_courses(Course)
    return {c.code: c for c in Course.objects.all()}


def test_my_training_shows_my_certificates_positions_and_bookings(union, courses):
    certify(union.members.rep, courses["foundation"], on=datetime.date(2025, 3, 4))
    certify(union.members.oak, courses["health-safety-1"], on=datetime.date(2024, 5, 6))  # Owen's, not Rita's
    session = services.create_event(
        actor=union.users.organiser_north,
        details=event_details(union, kind=Event.Kind.TRAINING, course=courses["health-safety-1"], title="H&S 1"),
    )
    booking = services.register_for_event(actor=union.users.rep_oak, event=session, member=union.members.rep)
    page = signed_in(union.users.rep_oak).get(reverse("portal:training")).content.decode()
    completed = page.split('id="certifications-heading"')[1].split("</section>")[0]
    assert "Rep foundation" in completed and "4 Mar 2025" in completed
    assert "Health and safety stage 1" not in completed  # Owen's certificate is not on Rita's record
    assert "Workplace rep at Oak Primary" in page and "Training done" in page
    booked = page.split('id="bookings-heading"')[1].split("</section>")[0]
    assert "H&amp;S 1" in booked and reverse("portal:registration", args=[booking.pk]) in booked
    assert 'aria-current="page"' in page.split('id="main"')[1].split("</nav>")[0]


def test_the_old_address_is_gone_and_my_own_record_by_id_sends_me_here(union):
    with pytest.raises(NoReverseMatch):
        reverse("events:my_training")
    client = signed_in(union.users.member_oak)
    assert client.get("/events/training/").status_code == 404
    own = client.get(reverse("events:member_training", args=[union.members.oak.pk]))
    assert own.status_code == 302 and own["Location"] == reverse("portal:training")
    # Staff still read a member's record in their scope on the events page.
    organiser = signed_in(union.users.organiser_north).get(
        reverse("events:member_training", args=[union.members.oak.pk])
    )
    assert organiser.status_code == 200 and "Training record: Owen Oakley" in organiser.content.decode()


def test_my_training_is_for_members_only(union):
    for persona in ("national", "organiser_north", "outsider", "scrutineer"):
        assert signed_in(getattr(union.users, persona)).get(reverse("portal:training")).status_code == 403
    signed_out = Client().get(reverse("portal:training"))
    assert signed_out.status_code == 302 and signed_out["Location"].startswith(reverse("login"))
    # The page takes no id: another member's record cannot be asked for through it.
    assert Client().get(f"{reverse('portal:training')}{union.members.rep.pk}/").status_code == 404


def test_the_site_menu_and_the_events_pages_link_members_to_the_portal(union):
    client = signed_in(union.users.member_oak)
    page = client.get(reverse("events:event_list")).content.decode()
    assert f'href="{reverse("portal:training")}"' in page and f'href="{reverse("portal:ballots")}"' in page
    assert "/events/training/" not in page and "/elections/my/" not in page
    courses_page = client.get(reverse("events:course_list")).content.decode()
    assert f'href="{reverse("portal:training")}"' in courses_page
