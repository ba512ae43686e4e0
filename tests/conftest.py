"""Named personas shared by every test: a small union with two regions and one of each role.

North region: branches Leeds and York.   South region: branch Bristol.
Leeds: Oak Primary (workplace X).  York: Elm Academy (Y).  Bristol: Ash College (Z).
national       - national admin, sees everyone
organiser_north- organiser for the North region (Leeds and York)
organiser_bristol - organiser for Bristol branch only
rep_oak        - workplace rep at Oak Primary (their own member record is at Oak)
member_oak     - a member at Oak Primary, signed in as themselves
scrutineer     - independent scrutineer, sees no member data
outsider       - a signed-in user with no member record and no role in scope
"""

import os
from types import SimpleNamespace

import pytest

from crm.models import User
from tests.factories import (
    BranchFactory,
    EmployerFactory,
    MemberFactory,
    PositionFactory,
    RegionFactory,
    UserFactory,
    WorkplaceFactory,
)

# Fixtures of areas with many test modules, kept beside them.
pytest_plugins = ["tests.crm.dues_fixtures"]

PASSWORD = "correct horse battery"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashers are slow on purpose; tests make many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_sms_quiet_hours(settings):
    """Texts are held 21:00-08:00 UK time; without this, a test that sends one would pass or fail by the hour
    it runs. The quiet-hours tests set the hours back themselves (at a fixed time)."""
    settings.SMS_QUIET_HOURS = (0, 0)


@pytest.fixture(autouse=True)
def staff_two_factor(request, settings):
    """Two-factor sign-in for staff is on by default (and in production). Tests sign staff in with
    force_login, client.login or force_authenticate, which have no second factor: so it is off here, except
    in tests marked `two_factor`, which prove the enforcement end to end (tests/crm/test_accounts_*.py)."""
    settings.QUORUM_STAFF_2FA = request.node.get_closest_marker("two_factor") is not None


@pytest.fixture
def union(db):
    north = RegionFactory(name="North", code="north")
    south = RegionFactory(name="South", code="south")
    leeds = BranchFactory(name="Leeds", code="leeds", region=north)
    york = BranchFactory(name="York", code="york", region=north)
    bristol = BranchFactory(name="Bristol", code="bristol", region=south)
    council = EmployerFactory(name="Leeds City Council")
    trust = EmployerFactory(name="White Rose Trust", kind="academy_trust")
    college = EmployerFactory(name="Ash College Corporation", kind="college")
    oak = WorkplaceFactory(name="Oak Primary", branch=leeds, employer=council, sector="primary", eligible_staff=40)
    elm = WorkplaceFactory(name="Elm Academy", branch=york, employer=trust, sector="secondary", eligible_staff=80)
    ash = WorkplaceFactory(
        name="Ash College", branch=bristol, employer=college, sector="further_education", eligible_staff=120
    )
    rep_member = MemberFactory(first_name="Rita", last_name="Rep", workplace=oak, mobile="+447911123001")
    oak_member = MemberFactory(first_name="Owen", last_name="Oakley", workplace=oak)
    oak_lapsed = MemberFactory(first_name="Lara", last_name="Lapsed", workplace=oak, status="lapsed")
    elm_member = MemberFactory(first_name="Ella", last_name="Elmore", workplace=elm, category="support_staff")
    ash_member = MemberFactory(first_name="Ash", last_name="Ashworth", workplace=ash, category="lecturer")
    supply_member = MemberFactory(
        first_name="Sam", last_name="Supply", workplace=None, branch=leeds, category="supply", has_arrears=True
    )
    rep_position = PositionFactory(member=rep_member, workplace=oak)

    def make_user(username, role, **extra):
        return UserFactory(username=username, role=role, **extra)

    organiser_north = make_user("organiser_north", User.Role.ORGANISER)
    organiser_north.regions.add(north)
    organiser_bristol = make_user("organiser_bristol", User.Role.ORGANISER)
    organiser_bristol.branches.add(bristol)
    users = SimpleNamespace(
        national=make_user("national", User.Role.NATIONAL_ADMIN),
        organiser_north=organiser_north,
        organiser_bristol=organiser_bristol,
        rep_oak=make_user("rep_oak", User.Role.REP, member=rep_member),
        member_oak=make_user("member_oak", User.Role.MEMBER, member=oak_member),
        scrutineer=make_user("scrutineer", User.Role.SCRUTINEER),
        outsider=make_user("outsider", User.Role.MEMBER),
    )
    members = SimpleNamespace(
        rep=rep_member, oak=oak_member, oak_lapsed=oak_lapsed, elm=elm_member, ash=ash_member, supply=supply_member
    )
    return SimpleNamespace(
        regions=SimpleNamespace(north=north, south=south),
        branches=SimpleNamespace(leeds=leeds, york=york, bristol=bristol),
        employers=SimpleNamespace(council=council, trust=trust, college=college),
        workplaces=SimpleNamespace(oak=oak, elm=elm, ash=ash),
        members=members,
        users=users,
        rep_position=rep_position,
        password=PASSWORD,
    )


def visible_members_by_role(union) -> dict[str, set]:
    """Who each persona must see: the scope rule written out by hand, independently of the selector."""
    m = union.members
    everyone = {m.rep, m.oak, m.oak_lapsed, m.elm, m.ash, m.supply}
    return {
        "national": everyone,
        "organiser_north": {m.rep, m.oak, m.oak_lapsed, m.elm, m.supply},
        "organiser_bristol": {m.ash},
        "rep_oak": {m.rep, m.oak, m.oak_lapsed},
        "member_oak": {m.oak},
        "scrutineer": set(),
        "outsider": set(),
    }


@pytest.fixture
def expected_scope(union):
    return visible_members_by_role(union)


REQUIRE_SERVICES = os.environ.get("QUORUM_REQUIRE_SERVICES", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Where services are required (CI's PostgreSQL run) a missing one fails the test; elsewhere it skips."""
    if REQUIRE_SERVICES:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker process on the Redis broker, using this test run's PostgreSQL database.

    Yields the queue name to send tasks to. The data a test writes must be committed (transactional_db)
    for the worker, a separate process, to see it.
    """
    import subprocess
    import sys
    import time
    import uuid

    import redis
    from django.conf import settings
    from django.db import connection

    from config.celery import app

    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL:
        skip_or_fail("needs PostgreSQL (DATABASE_URL) and a Redis broker (CELERY_BROKER_URL): run `make test-services`")
    try:
        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        skip_or_fail(f"Redis at {settings.CELERY_BROKER_URL} does not answer: {error}")

    db = connection.settings_dict
    env = dict(os.environ)
    env["SMS_QUIET_FROM_HOUR"] = env["SMS_QUIET_UNTIL_HOUR"] = "0"  # the worker's clock is the real one
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    queue = f"test-{uuid.uuid4().hex[:8]}"
    node = f"{queue}@localhost"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "-n",
            node,
            "-l",
            "WARNING",
        ],
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[node], timeout=1):
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the Celery worker did not start")
        yield queue
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
