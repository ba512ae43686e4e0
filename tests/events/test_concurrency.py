"""Capacity holds under concurrent registration, on PostgreSQL: 200 members, 50 places, many threads at once,
each with its own database connection. The event row lock serialises them."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from crm.models import Member
from events import services
from events.models import Registration
from tests.conftest import skip_or_fail
from tests.events.conftest import event_details
from tests.factories import MemberFactory

pytestmark = pytest.mark.services

THREADS = 20  # each holds one PostgreSQL connection; other test runs share the server's 100


def _in_own_connection(work):
    def run(*args):
        try:
            return work(*args)
        finally:
            connections.close_all()  # this thread's connection, not the test's

    return run


def test_200_concurrent_registrations_for_50_places(transactional_db, union):
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (DATABASE_URL): SQLite cannot run concurrent writers")
    event = services.create_event(
        actor=union.users.national, details=event_details(union, host_region=None, capacity=50)
    )
    member_ids = [MemberFactory(workplace=union.workplaces.oak).pk for _ in range(200)]
    national = union.users.national
    start = threading.Barrier(THREADS)
    started = threading.local()

    @_in_own_connection
    def register(member_id):
        if not getattr(started, "done", False):
            start.wait(timeout=30)  # every thread begins together
            started.done = True
        member = Member.objects.get(pk=member_id)
        return services.register_for_event(actor=national, event=event, member=member).status

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = list(pool.map(register, member_ids))

    assert statuses.count("registered") == 50
    assert statuses.count("waiting") == 150
    registrations = Registration.objects.filter(event=event)
    assert registrations.filter(status="registered").count() == 50
    assert registrations.filter(status="waiting").count() == 150

    # Ten cancel at once: the ten who have waited longest get their places, in order, and no more.
    waiting_order = list(
        registrations.filter(status="waiting").order_by("waiting_since", "id").values_list("pk", flat=True)
    )
    leaving = list(registrations.filter(status="registered").values_list("pk", flat=True)[:10])

    @_in_own_connection
    def cancel(registration_id):
        services.cancel_registration(actor=national, registration=Registration.objects.get(pk=registration_id))

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(cancel, leaving))

    assert registrations.filter(status="registered").count() == 50
    assert registrations.filter(status="waiting").count() == 140
    assert registrations.filter(status="cancelled").count() == 10
    promoted = set(registrations.filter(status="registered", waiting_since__isnull=False).values_list("pk", flat=True))
    assert promoted == set(waiting_order[:10])


def test_places_added_while_members_register_at_once_are_never_overfilled(transactional_db, union):
    """An organiser raises 10 places to 25 while 60 members register at once: exactly 25 end with a place, and
    everyone given a place from the waiting list had waited longer than everyone still waiting."""
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (DATABASE_URL): SQLite cannot run concurrent writers")
    event = services.create_event(
        actor=union.users.national, details=event_details(union, host_region=None, capacity=10)
    )
    member_ids = [MemberFactory(workplace=union.workplaces.oak).pk for _ in range(60)]
    national = union.users.national

    @_in_own_connection
    def work(item):
        if item == "raise":
            services.update_event(actor=national, event=event, changes={"capacity": 25})
            return "raised"
        return services.register_for_event(actor=national, event=event, member=Member.objects.get(pk=item)).status

    jobs = [*member_ids[:30], "raise", *member_ids[30:]]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(work, jobs))

    assert results.count("raised") == 1
    registrations = Registration.objects.filter(event=event)
    assert registrations.filter(status="registered").count() == 25
    assert registrations.filter(status="waiting").count() == 35
    promoted = registrations.filter(status="registered", waiting_since__isnull=False)
    still_waiting = registrations.filter(status="waiting")
    if promoted.exists():
        last_promoted = max(promoted.values_list("waiting_since", flat=True))
        assert last_promoted <= min(still_waiting.values_list("waiting_since", flat=True))
