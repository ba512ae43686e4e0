"""500 casts at once on PostgreSQL, 50 of them with one shared credential: exactly one ballot per credential,
no ballot lost, and no error but the clear refusal. Each thread casts on its own database connection."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from crm.models import Member
from elections.credentials import new_credential
from elections.models import Ballot, RollEntry
from elections.services import setup, voting
from tests.conftest import skip_or_fail
from tests.elections.voting_helpers import contest
from tests.factories import MemberFactory

pytestmark = pytest.mark.services

UNIQUE_VOTERS = 450
SHARED_USES = 50
THREADS = 16


@pytest.mark.django_db(transaction=True)
def test_500_concurrent_casts_with_one_credential_shared_by_50(union):
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (DATABASE_URL): run `make test-services`")
    m = union.members
    workplace = union.workplaces.ash
    Member.objects.bulk_create(
        [
            MemberFactory.build(workplace=workplace, branch=workplace.branch, membership_number=f"C{n:07d}")
            for n in range(UNIQUE_VOTERS + 1)
        ]
    )
    election = contest(union.users.national, [m.oak, m.rep, m.elm], method="stv", seats=2)
    candidates = list(election.candidates.order_by("pk").values_list("pk", flat=True))
    setup.open_voting(actor=union.users.national, election=election)
    # Credentials as issue_credentials makes them, without queueing 451 messages nobody reads here.
    entries = list(RollEntry.objects.filter(roll__election=election, member__membership_number__startswith="C"))
    secrets = []
    for entry in entries:
        secret, entry.credential_hash = new_credential()
        secrets.append(secret)
    RollEntry.objects.bulk_update(entries, ["credential_hash"])
    shared, unique = secrets[0], secrets[1:]
    assert len(unique) == UNIQUE_VOTERS
    attempts = [(secret, n) for n, secret in enumerate(unique)] + [(shared, n) for n in range(SHARED_USES)]
    attempts.sort(key=lambda item: hash((item[1] * 7919) % 503))  # interleave the shared uses with the rest
    start = threading.Barrier(THREADS)

    def cast(item):
        secret, n = item
        try:
            ranking = [candidates[n % 3], candidates[(n + 1) % 3]]
            ballot = voting.cast_ballot(election=election, credential=secret, choices={"ranking": ranking})
            return ("cast", secret, ballot.receipt_code)
        except voting.CredentialRefused as refusal:
            return ("refused", secret, refusal.message)
        except Exception as error:  # anything else is a failure of the test, reported below
            return ("error", secret, repr(error))
        finally:
            connections.close_all()

    def warm_up(_):
        start.wait(timeout=30)  # every thread is ready before the first cast

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(warm_up, range(THREADS)))
        outcomes = list(pool.map(cast, attempts))

    errors = [o for o in outcomes if o[0] == "error"]
    assert errors == []
    cast_ok = [o for o in outcomes if o[0] == "cast"]
    refused = [o for o in outcomes if o[0] == "refused"]
    assert len(cast_ok) == UNIQUE_VOTERS + 1 and len(refused) == SHARED_USES - 1
    assert {o[1] for o in refused} == {shared}
    assert all("already been used" in o[2] for o in refused)
    assert len({o[1] for o in cast_ok}) == UNIQUE_VOTERS + 1  # one ballot per credential
    stored = set(Ballot.objects.filter(election=election).values_list("receipt_code", flat=True))
    assert stored == {o[2] for o in cast_ok}  # no ballot lost, none extra
    assert RollEntry.objects.filter(roll__election=election, has_voted=True).count() == UNIQUE_VOTERS + 1
