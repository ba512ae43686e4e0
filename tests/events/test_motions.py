"""Conference motions: submitted by branches before the deadline, amended, composited, ordered on the agenda."""

import datetime

import pytest
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from events import services
from events.models import Amendment, Event, Motion
from tests.events.conftest import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def conference(union, make_event):
    event = make_event(
        kind="conference", title="North conference", audience="region", audience_region=union.regions.north
    )
    services.set_motions_deadline(
        actor=union.users.organiser_north, event=event, closes_at=timezone.now() + datetime.timedelta(days=3)
    )
    return event


def rows():
    return snapshot(), list(Motion.objects.order_by("pk").values()), list(Amendment.objects.values())


def submit(union, event, branch="leeds", actor="organiser_north", title="Workload", text="Conference believes…"):
    return services.submit_motion(
        actor=getattr(union.users, actor), event=event, branch=getattr(union.branches, branch), title=title, text=text
    )


def test_motions_amendments_composite_and_agenda(union, conference):
    pay_leeds = submit(union, conference, title="Pay", text="Pay restoration now.")
    pay_york = submit(union, conference, branch="york", title="Pay (York)", text="A fully funded pay rise.")
    workload = submit(union, conference, title="Workload")
    amendment = services.submit_amendment(
        actor=union.users.organiser_north, motion=workload, branch=union.branches.york, text="Add: and marking."
    )
    assert amendment.motion == workload
    composite = services.composite_motions(
        actor=union.users.organiser_north,
        event=conference,
        motion_ids=[pay_leeds.pk, pay_york.pk],
        title="Composite A: pay",
        text="Pay restoration, fully funded.",
    )
    assert composite.is_composite
    assert set(composite.parts.values_list("pk", flat=True)) == {pay_leeds.pk, pay_york.pk}
    assert set(Motion.objects.filter(status="composited").values_list("pk", flat=True)) == {pay_leeds.pk, pay_york.pk}
    agenda = services.set_agenda(
        actor=union.users.organiser_north, event=conference, motion_ids=[workload.pk, composite.pk]
    )
    assert [(m.pk, m.agenda_position) for m in agenda] == [(workload.pk, 1), (composite.pk, 2)]


def test_motion_refusals_change_nothing(union, conference, make_event):
    motion = submit(union, conference)
    meeting = make_event()
    before = rows()
    with pytest.raises(NotPermitted):
        submit(union, conference, actor="rep_oak")
    with pytest.raises(NotPermitted):
        submit(union, conference, actor="organiser_bristol", branch="leeds")
    with pytest.raises(ServiceError, match="not part of this conference"):
        submit(union, conference, actor="national", branch="bristol")
    for title, text in [("", "x"), ("x" * 201, "x"), ("Fine", ""), ("Fine", "x" * 10_001)]:
        with pytest.raises(ServiceError):
            submit(union, conference, title=title, text=text)
    with pytest.raises(ServiceError, match="conferences only"):
        submit(union, meeting)
    with pytest.raises(ServiceError, match="two or more"):
        services.composite_motions(
            actor=union.users.organiser_north, event=conference, motion_ids=[motion.pk], title="C", text="C"
        )
    with pytest.raises(ServiceError, match="exactly once"):
        services.set_agenda(actor=union.users.organiser_north, event=conference, motion_ids=[motion.pk, motion.pk])
    with pytest.raises(NotPermitted):
        services.set_agenda(actor=union.users.organiser_bristol, event=conference, motion_ids=[motion.pk])
    assert rows() == before


def test_nothing_is_submitted_without_a_deadline_or_after_it(union, make_event, conference):
    unset = make_event(kind="conference", audience="region", audience_region=union.regions.north)
    with pytest.raises(ServiceError, match="not open yet"):
        submit(union, unset)
    motion = submit(union, conference)
    Event.objects.filter(pk=conference.pk).update(motions_close_at=timezone.now() - datetime.timedelta(minutes=1))
    before = rows()
    with pytest.raises(ServiceError, match="deadline .* has passed"):
        submit(union, conference)
    with pytest.raises(ServiceError, match="has passed"):
        services.submit_amendment(
            actor=union.users.organiser_north, motion=motion, branch=union.branches.leeds, text="x"
        )
    with pytest.raises(ServiceError, match="before the conference starts"):
        services.set_motions_deadline(
            actor=union.users.organiser_north,
            event=conference,
            closes_at=conference.starts_at + datetime.timedelta(days=1),
        )
    assert rows() == before


def test_a_composited_motion_takes_no_amendments(union, conference):
    a, b = submit(union, conference, title="A"), submit(union, conference, branch="york", title="B")
    services.composite_motions(
        actor=union.users.national, event=conference, motion_ids=[a.pk, b.pk], title="AB", text="AB"
    )
    with pytest.raises(ServiceError, match="amend the composite"):
        services.submit_amendment(actor=union.users.organiser_north, motion=a, branch=union.branches.leeds, text="x")


def test_the_motions_page(client, union, conference):
    from django.urls import reverse

    url = reverse("events:conference_motions", args=[conference.pk])
    client.force_login(union.users.organiser_north)
    before = rows()
    bad = client.post(
        url, {"action": "motion", "motion-branch": union.branches.bristol.pk, "motion-title": "X", "motion-text": "Y"}
    )
    assert bad.status_code == 400  # Bristol is not a choice for the North organiser
    assert client.post(url, {"action": "motion", "motion-branch": union.branches.leeds.pk}).status_code == 400
    assert rows() == before
    for branch, title in (
        (union.branches.leeds, "Pay"),
        (union.branches.york, "Pay too"),
        (union.branches.leeds, "Workload"),
    ):
        ok = client.post(
            url, {"action": "motion", "motion-branch": branch.pk, "motion-title": title, "motion-text": "Text"}
        )
        assert ok.status_code == 302
    pay, pay_too, workload = Motion.objects.order_by("pk")
    client.post(
        url,
        {
            "action": "amendment",
            "amendment-motion": workload.pk,
            "amendment-branch": union.branches.york.pk,
            "amendment-text": "And marking.",
        },
    )
    client.post(
        url,
        {
            "action": "composite",
            "composite-motions": [pay.pk, pay_too.pk],
            "composite-title": "Composite: pay",
            "composite-text": "Pay.",
        },
    )
    composite = Motion.objects.get(title="Composite: pay")
    same = client.post(
        url, {"action": "agenda", f"agenda-position_{workload.pk}": "1", f"agenda-position_{composite.pk}": "1"}
    )
    assert same.status_code == 400 and "different position" in same.content.decode()
    client.post(
        url, {"action": "agenda", f"agenda-position_{workload.pk}": "2", f"agenda-position_{composite.pk}": "1"}
    )
    assert list(
        Motion.objects.filter(status="submitted").order_by("agenda_position").values_list("title", flat=True)
    ) == [
        "Composite: pay",
        "Workload",
    ]
    client.force_login(union.users.member_oak)
    page = client.get(url).content.decode()
    assert "Composite: pay" in page and "And marking." in page and "Submit a motion" not in page
    assert client.post(url, {"action": "agenda", f"agenda-position_{workload.pk}": "1"}).status_code == 403


def test_the_deadline_form_takes_a_later_amendments_deadline(client, union, conference):
    from django.urls import reverse

    url = reverse("events:conference_motions", args=[conference.pk])
    client.force_login(union.users.organiser_north)

    def local(value):
        return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")

    now = timezone.now()
    before = rows()
    earlier = client.post(
        url,
        {
            "action": "deadline",
            "deadline-closes_at": local(now + datetime.timedelta(days=2)),
            "deadline-amendments_close_at": local(now + datetime.timedelta(days=1)),
        },
    )
    assert earlier.status_code == 400 and 'href="#id_deadline-amendments_close_at"' in earlier.content.decode()
    assert "Amendments cannot close before motions do." in earlier.content.decode()
    garbled = {"action": "deadline", "deadline-closes_at": local(now), "deadline-amendments_close_at": "next week"}
    assert client.post(url, garbled).status_code == 400
    assert rows() == before
    ok = client.post(
        url,
        {
            "action": "deadline",
            "deadline-closes_at": local(now + datetime.timedelta(days=1)),
            "deadline-amendments_close_at": local(now + datetime.timedelta(days=2)),
        },
    )
    assert ok.status_code == 302
    conference.refresh_from_db()
    assert conference.amendments_close_at > conference.motions_close_at
    page = client.get(url).content.decode()
    assert "Motions close on" in page and "Amendments close on" in page
