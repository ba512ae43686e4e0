"""Events services: creating events, registering, the waiting list, cancelling, check-in and training."""

import datetime

import pytest
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.models import AuditEntry, Message, Position
from events import services, tokens
from events.models import Certification, Event, Registration
from tests.events.conftest import certify, event_details, snapshot
from tests.factories import MemberFactory, PositionFactory

pytestmark = pytest.mark.django_db


# --- Creating events ----------------------------------------------------------------------------------------


def test_an_organiser_creates_an_event_in_their_patch_and_it_is_audited(union, make_event):
    event = make_event()
    assert event.host_region == union.regions.north
    entry = AuditEntry.objects.get(target_type="events.event", target_id=event.pk)
    assert entry.actor == union.users.organiser_north and entry.action == "create"


@pytest.mark.parametrize(
    ("persona", "host"),
    [("organiser_bristol", "north"), ("organiser_north", "south"), ("rep_oak", "north"), ("member_oak", "north")],
)
def test_nobody_runs_an_event_outside_their_patch(union, persona, host):
    before = snapshot()
    with pytest.raises(NotPermitted):
        services.create_event(
            actor=getattr(union.users, persona), details=event_details(union, host_region=getattr(union.regions, host))
        )
    assert snapshot() == before


def test_only_national_admins_run_national_events(union):
    with pytest.raises(NotPermitted):
        services.create_event(actor=union.users.organiser_north, details=event_details(union, host_region=None))
    event = services.create_event(actor=union.users.national, details=event_details(union, host_region=None))
    assert event.host is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "party"}, "kind"),
        ({"title": "  "}, "title"),
        ({"ends_at": timezone.now()}, "ends_at"),
        ({"starts_at": datetime.datetime(2030, 1, 1, 10)}, "starts_at"),  # naive: no time zone
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": -5}, "capacity"),
        ({"capacity": "50"}, "capacity"),
        ({"capacity": 10**9}, "capacity"),
        ({"venue": "", "online_url": ""}, "venue"),
        ({"registration_closes_at": timezone.now() - datetime.timedelta(days=2)}, "registration_closes_at"),
        ({"registration_closes_at": timezone.now() + datetime.timedelta(days=30)}, "registration_closes_at"),
        ({"audience": "region"}, "audience_region"),
        ({"audience": "sector"}, "audience_sector"),
        ({"audience": "secret-society"}, "audience"),
        ({"kind": "training"}, "course"),
        ({"host_branch": "leeds"}, "host_region"),
        ({"notes": "x"}, None),
    ],
)
def test_bad_event_details_are_refused_with_the_field_named(union, overrides, field):
    if overrides.get("host_branch") == "leeds":
        overrides["host_branch"] = union.branches.leeds
    before = snapshot()
    with pytest.raises(ServiceError) as refused:
        services.create_event(actor=union.users.organiser_north, details=event_details(union, **overrides))
    assert refused.value.field == field
    assert snapshot() == before


@pytest.mark.parametrize("strand", ["", "left_handed", "equalities__lgbt_member"])
def test_a_strand_event_needs_one_of_the_four_strands(union, strand):
    before = snapshot()
    with pytest.raises(ServiceError, match="equalities strand") as refused:
        services.create_event(
            actor=union.users.national, details=event_details(union, audience="strand", audience_strand=strand)
        )
    assert refused.value.field == "audience_strand"
    assert snapshot() == before


def test_a_weekly_member_call_keeps_its_local_time_across_the_clock_change(union):
    london = timezone.get_current_timezone()
    first = timezone.make_aware(datetime.datetime(2030, 10, 9, 19, 0), london)  # a Wednesday, BST
    details = event_details(
        union,
        kind=Event.Kind.MEMBER_CALL,
        title="Weekly member call",
        venue="",
        online_url="https://calls.example.org/weekly",
        starts_at=first,
        ends_at=first + datetime.timedelta(hours=1),
        registration_opens_at=first - datetime.timedelta(days=20),
        registration_closes_at=first,
    )
    events = services.create_weekly_events(actor=union.users.organiser_north, details=details, weeks=6)
    assert len(events) == 6 and len({e.series_id for e in events}) == 1
    local_starts = [timezone.localtime(e.starts_at) for e in events]
    assert [s.date() for s in local_starts] == [first.date() + datetime.timedelta(weeks=w) for w in range(6)]
    assert {(s.hour, s.minute) for s in local_starts} == {(19, 0)}  # clocks go back on 27 Oct 2030
    assert local_starts[0].utcoffset() != local_starts[-1].utcoffset()


@pytest.mark.parametrize("weeks", [0, 1, 53, "4"])
def test_a_weekly_series_needs_a_sensible_number_of_weeks(union, weeks):
    before = snapshot()
    with pytest.raises(ServiceError) as refused:
        services.create_weekly_events(actor=union.users.organiser_north, details=event_details(union), weeks=weeks)
    assert refused.value.field == "weeks"
    assert snapshot() == before


# --- Registering ------------------------------------------------------------------------------------------


def test_a_member_registers_and_is_sent_a_confirmation(union, make_event):
    event = make_event()
    registration = services.register_for_event(
        actor=union.users.member_oak, event=event, member=union.members.oak, dietary_needs="Vegan"
    )
    assert registration.status == Registration.Status.REGISTERED
    message = Message.objects.get(key=f"event:{event.pk}:registration:{registration.pk}:confirmed")
    assert message.member == union.members.oak and message.basis == Message.Basis.SERVICE
    assert event.title in message.subject


def test_a_rep_registers_a_member_they_can_see_but_not_one_they_cannot(union, make_event):
    event = make_event(host_region=None, actor=union.users.national)
    registration = services.register_for_event(actor=union.users.rep_oak, event=event, member=union.members.oak)
    assert registration.registered_by == union.users.rep_oak
    before = snapshot()
    with pytest.raises(NotPermitted):
        services.register_for_event(actor=union.users.rep_oak, event=event, member=union.members.elm)
    with pytest.raises(NotPermitted):
        services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.rep)
    with pytest.raises(NotPermitted):
        services.register_for_event(actor=union.users.organiser_bristol, event=event, member=union.members.oak)
    assert snapshot() == before


def refused(union, event, member, actor=None, **answers):
    before = snapshot()
    with pytest.raises(services.RegistrationRefused) as error:
        services.register_for_event(actor=actor or union.users.national, event=event, member=member, **answers)
    assert snapshot() == before
    return error.value.message


def test_closed_and_not_yet_open_registration_is_refused(union, make_event):
    now = timezone.now()
    closed = make_event(
        registration_opens_at=now - datetime.timedelta(days=5), registration_closes_at=now - datetime.timedelta(days=1)
    )
    assert refused(union, closed, union.members.oak) == "Registration for this event has closed."
    later = make_event(registration_opens_at=now + datetime.timedelta(days=2))
    assert refused(union, later, union.members.oak).startswith("Registration opens on")


@pytest.mark.parametrize(
    ("audience", "member_name", "eligible"),
    [
        ({"audience": "region", "audience_region": "south"}, "oak", False),
        ({"audience": "region", "audience_region": "north"}, "elm", True),
        ({"audience": "branch", "audience_branch": "york"}, "oak", False),
        ({"audience": "branch", "audience_branch": "york"}, "elm", True),
        ({"audience": "sector", "audience_sector": "further_education"}, "oak", False),
        ({"audience": "sector", "audience_sector": "further_education"}, "ash", True),
        ({"audience": "category", "audience_category": "support_staff"}, "oak", False),
        ({"audience": "category", "audience_category": "support_staff"}, "elm", True),
        ({"audience": "reps"}, "oak", False),
        ({"audience": "reps"}, "rep", True),
    ],
)
def test_the_audience_rule_decides_who_may_register(union, audience, member_name, eligible):
    audience = dict(audience)
    if "audience_region" in audience:
        audience["audience_region"] = getattr(union.regions, audience["audience_region"])
    if "audience_branch" in audience:
        audience["audience_branch"] = getattr(union.branches, audience["audience_branch"])
    event = services.create_event(
        actor=union.users.national, details=event_details(union, host_region=None, **audience)
    )
    member = getattr(union.members, member_name)
    if eligible:
        assert services.register_for_event(actor=union.users.national, event=event, member=member).pk
    else:
        assert refused(union, event, member).startswith("This event is for")


def test_a_lapsed_member_cannot_register(union, make_event):
    assert refused(union, make_event(), union.members.oak_lapsed) == "Only active members can register for events."


def test_double_registration_is_refused(union, make_event):
    event = make_event()
    services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
    assert refused(union, event, union.members.oak, actor=union.users.rep_oak).endswith(
        "already registered for this event."
    )


def test_oversized_answers_are_refused(union, make_event):
    event = make_event()
    assert "access needs" in refused_service(union, event, access_needs="x" * 2001)
    assert "dietary needs" in refused_service(union, event, dietary_needs="x" * 256)


def refused_service(union, event, **answers):
    before = snapshot()
    with pytest.raises(ServiceError) as error:
        services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak, **answers)
    assert snapshot() == before
    return error.value.message


# --- Waiting list and cancelling --------------------------------------------------------------------------


def test_a_full_event_puts_people_on_the_waiting_list_and_a_cancellation_promotes_the_first(union, make_event):
    event = make_event(capacity=2)
    members = [MemberFactory(workplace=union.workplaces.oak) for _ in range(5)]
    regs = [services.register_for_event(actor=union.users.national, event=event, member=m) for m in members]
    assert [r.status for r in regs] == ["registered", "registered", "waiting", "waiting", "waiting"]
    assert Message.objects.filter(key=f"event:{event.pk}:registration:{regs[2].pk}:waiting").exists()

    services.cancel_registration(actor=union.users.national, registration=regs[0])
    statuses = dict(Registration.objects.filter(event=event).values_list("pk", "status"))
    assert statuses[regs[0].pk] == "cancelled"
    assert statuses[regs[2].pk] == "registered"  # the first to wait
    assert [statuses[r.pk] for r in regs[3:]] == ["waiting", "waiting"]
    assert Message.objects.filter(key=f"event:{event.pk}:registration:{regs[2].pk}:promoted").exists()

    # Cancelling a waiting-list place frees no seat: nobody is promoted.
    services.cancel_registration(actor=union.users.national, registration=regs[3])
    assert Registration.objects.get(pk=regs[4].pk).status == "waiting"
    assert Registration.objects.filter(event=event, status="registered").count() == 2


def test_a_member_cancels_their_own_and_can_register_again(union, make_event):
    event = make_event()
    registration = services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
    services.cancel_registration(actor=union.users.member_oak, registration=registration)
    again = services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
    assert again.pk != registration.pk and again.status == "registered"


def test_cancelling_is_refused_for_others_twice_or_after_the_start(union, make_event):
    event = make_event()
    registration = services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
    before = snapshot()
    with pytest.raises(NotPermitted):
        services.cancel_registration(actor=union.users.organiser_bristol, registration=registration)
    assert snapshot() == before
    services.cancel_registration(actor=union.users.member_oak, registration=registration)
    before = snapshot()
    with pytest.raises(services.RegistrationRefused, match="already cancelled"):
        services.cancel_registration(actor=union.users.member_oak, registration=registration)
    assert snapshot() == before
    started = make_event(registration_opens_at=timezone.now() - datetime.timedelta(days=3))
    reg = services.register_for_event(actor=union.users.member_oak, event=started, member=union.members.oak)
    Event.objects.filter(pk=started.pk).update(starts_at=timezone.now() - datetime.timedelta(minutes=5))
    before = snapshot()
    with pytest.raises(services.RegistrationRefused, match="has started"):
        services.cancel_registration(actor=union.users.member_oak, registration=reg)
    assert snapshot() == before


# --- Check-in ---------------------------------------------------------------------------------------------


def test_checking_in_with_the_code_records_attendance_once(union, make_event):
    event = make_event()
    registration = services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
    code = tokens.checkin_code(registration)
    assert code == f"R{registration.pk}-{code.split('-')[1]}" and len(code.split("-")[1]) == 16
    checked = services.check_in(actor=union.users.organiser_north, event=event, code=f"  {code.lower()} ")
    assert checked.attendance == "attended" and checked.checked_in_by == union.users.organiser_north
    before = snapshot()
    with pytest.raises(services.CheckInRefused, match="already checked in"):
        services.check_in(actor=union.users.organiser_north, event=event, code=code)
    assert snapshot() == before


def test_a_code_for_another_event_is_refused_clearly(union, make_event):
    here, elsewhere = make_event(title="Here"), make_event(title="Elsewhere")
    registration = services.register_for_event(actor=union.users.member_oak, event=elsewhere, member=union.members.oak)
    before = snapshot()
    with pytest.raises(services.CheckInRefused, match="This code is for another event: Elsewhere"):
        services.check_in(actor=union.users.organiser_north, event=here, code=tokens.checkin_code(registration))
    assert snapshot() == before


@pytest.mark.parametrize(
    "forge",
    [
        lambda code: code[:-1] + ("A" if code[-1] != "A" else "B"),  # one character of the signature changed
        lambda code: "R999999-" + code.split("-")[1],  # someone else's number with this signature
        lambda code: code.split("-")[0],  # the number alone
        lambda code: "",
        lambda code: "'; DROP TABLE events_registration; --",
        lambda code: "R1-" + "A" * 16,
        lambda code: "x" * 5000,
    ],
)
def test_forged_and_malformed_codes_are_refused(union, make_event, forge):
    event = make_event()
    registration = services.register_for_event(actor=union.users.member_oak, event=event, member=union.members.oak)
    before = snapshot()
    with pytest.raises(services.CheckInRefused, match="not a valid check-in code"):
        services.check_in(actor=union.users.organiser_north, event=event, code=forge(tokens.checkin_code(registration)))
    assert snapshot() == before


def test_waiting_cancelled_and_unauthorised_check_ins_are_refused(union, make_event):
    event = make_event(capacity=1)
    first = services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    waiting = services.register_for_event(actor=union.users.national, event=event, member=union.members.rep)
    before = snapshot()
    with pytest.raises(services.CheckInRefused, match="waiting list"):
        services.check_in(actor=union.users.organiser_north, event=event, code=tokens.checkin_code(waiting))
    with pytest.raises(NotPermitted):
        services.check_in(actor=union.users.rep_oak, event=event, code=tokens.checkin_code(first))
    with pytest.raises(NotPermitted):
        services.check_in(actor=union.users.organiser_bristol, event=event, code=tokens.checkin_code(first))
    assert snapshot() == before
    services.cancel_registration(actor=union.users.national, registration=waiting)
    with pytest.raises(services.CheckInRefused, match="cancelled"):
        services.check_in(actor=union.users.organiser_north, event=event, code=tokens.checkin_code(waiting))


def test_no_shows_are_recorded_after_the_event_once(union, make_event):
    event = make_event(capacity=5)
    came = services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    absent = services.register_for_event(actor=union.users.national, event=event, member=union.members.rep)
    services.check_in(actor=union.users.organiser_north, event=event, code=tokens.checkin_code(came))
    assert services.record_no_shows(event_id=event.pk) == 0  # not over yet
    Event.objects.filter(pk=event.pk).update(
        starts_at=timezone.now() - datetime.timedelta(hours=3), ends_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert services.record_no_shows(event_id=event.pk) == 1
    assert services.record_no_shows(event_id=event.pk) == 0
    assert Registration.objects.get(pk=absent.pk).attendance == "no_show"
    assert Registration.objects.get(pk=came.pk).attendance == "attended"


# --- Training ---------------------------------------------------------------------------------------------


def training_session(union, course_obj, **overrides):
    return services.create_event(
        actor=union.users.organiser_north,
        details=event_details(union, kind=Event.Kind.TRAINING, course=course_obj, title=course_obj.title, **overrides),
    )


def test_a_course_needs_its_prerequisites(union, course):
    stage2 = training_session(union, course["health-safety-2"])
    message = refused(union, stage2, union.members.rep)
    assert message == "Health and safety stage 2 needs Health and safety stage 1 first."
    certify(union.members.rep, course["foundation"])
    certify(union.members.rep, course["health-safety-1"])
    assert services.register_for_event(actor=union.users.rep_oak, event=stage2, member=union.members.rep).pk


def test_a_completed_course_is_not_booked_again(union, course):
    foundation = training_session(union, course["foundation"])
    certify(union.members.rep, course["foundation"])
    assert refused(union, foundation, union.members.rep).endswith("has already completed Rep foundation.")


def test_attending_a_session_gives_the_certification_once(union, course):
    session = training_session(union, course["foundation"], capacity=3)
    came = services.register_for_event(actor=union.users.rep_oak, event=session, member=union.members.rep)
    services.register_for_event(actor=union.users.national, event=session, member=union.members.oak)
    services.check_in(actor=union.users.organiser_north, event=session, code=tokens.checkin_code(came))
    with pytest.raises(ServiceError, match="once the session has taken place"):
        services.award_certifications(actor=union.users.organiser_north, event_id=session.pk)
    Event.objects.filter(pk=session.pk).update(starts_at=timezone.now() - datetime.timedelta(hours=2))
    with pytest.raises(NotPermitted):
        services.award_certifications(actor=union.users.organiser_bristol, event_id=session.pk)
    assert services.award_certifications(actor=union.users.organiser_north, event_id=session.pk) == 1
    assert services.award_certifications(actor=union.users.organiser_north, event_id=session.pk) == 0
    certification = Certification.objects.get()
    assert (certification.member, certification.course) == (union.members.rep, course["foundation"])


def test_positions_show_whether_their_training_is_done(union, course):
    from events.selectors import training_status_of

    PositionFactory(member=union.members.rep, kind=Position.Kind.HEALTH_SAFETY_REP)
    certify(union.members.rep, course["foundation"])
    status = {row["position"].kind: row for row in training_status_of(union.members.rep)}
    assert status["workplace_rep"]["is_complete"]
    assert [c.code for c in status["health_safety_rep"]["missing"]] == ["health-safety-1"]


def test_training_gaps_are_counted_by_branch_and_region_within_scope(union, course):
    from events.selectors import training_gaps_for

    elm_rep = PositionFactory(member=union.members.elm, workplace=union.workplaces.elm)
    PositionFactory(member=union.members.ash, workplace=union.workplaces.ash)
    certify(union.members.elm, course["foundation"])
    north = training_gaps_for(union.users.organiser_north)
    assert [g["position"] for g in north["gaps"]] == [union.rep_position]
    assert {(r["branch"].name, r["positions"], r["gaps"]) for r in north["branches"]} == {
        ("Leeds", 1, 1),
        ("York", 1, 0),
    }
    assert [(r["region"].name, r["positions"], r["gaps"], r["trained_percent"]) for r in north["regions"]] == [
        ("North", 2, 1, 50)
    ]
    assert elm_rep not in [g["position"] for g in north["gaps"]]
    bristol = training_gaps_for(union.users.organiser_bristol)
    assert [g["position"].member for g in bristol["gaps"]] == [union.members.ash]


# --- Export -----------------------------------------------------------------------------------------------


def test_the_export_neutralises_formulas_leaves_out_access_needs_and_is_audited(union, make_event):
    event = make_event()
    hostile = MemberFactory(
        first_name='=HYPERLINK("http://evil")', last_name="+SUM(A1)", workplace=union.workplaces.oak
    )
    services.register_for_event(
        actor=union.users.national, event=event, member=hostile, access_needs="Wheelchair user", dietary_needs="@cmd"
    )
    text = services.export_registrations(actor=union.users.organiser_north, event=event)
    assert "'=HYPERLINK" in text and "'+SUM(A1)" in text and "'@cmd" in text
    assert "Wheelchair" not in text
    entry = AuditEntry.objects.get(action="export", target_id=event.pk)
    assert entry.changes == {"rows": 1}
    with pytest.raises(NotPermitted):
        services.export_registrations(actor=union.users.rep_oak, event=event)


def test_cancelling_an_event_tells_everyone_once_and_closes_registration(union, make_event):
    event = make_event(capacity=1)
    placed = services.register_for_event(actor=union.users.national, event=event, member=union.members.oak)
    waiting = services.register_for_event(actor=union.users.national, event=event, member=union.members.rep)
    before = snapshot()
    with pytest.raises(NotPermitted):
        services.cancel_event(actor=union.users.organiser_bristol, event=event)
    assert snapshot() == before
    services.cancel_event(actor=union.users.organiser_north, event=event)
    keys = set(Message.objects.filter(key__endswith=":event-cancelled").values_list("key", flat=True))
    assert keys == {f"event:{event.pk}:registration:{r.pk}:event-cancelled" for r in (placed, waiting)}
    with pytest.raises(ServiceError, match="already cancelled"):
        services.cancel_event(actor=union.users.organiser_north, event=event)
    assert refused(union, Event.objects.get(pk=event.pk), union.members.elm) == "This event has been cancelled."
