"""A 1,000-member text campaign on a real Celery worker over Redis, killed mid-way and restarted:
every member is texted exactly once.

The worker sends through the file SMS backend, so the test (another process) sees each send with its
message key. The worker is killed with SIGKILL (no chance to tidy up) while sending. What the beat's
recovery task then does is run here, after the stalled-message window, before a new worker starts:
a message the dead worker left "sending" is checked against the backend by its key, marked sent if it
reached the provider and queued again if not; the campaign's lost tasks are sent again.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from crm.models import Campaign, Member, Message, Segment
from crm.services.outreach import create_campaign, schedule_campaign
from crm.sms.filebased import read_sent
from crm.tasks import recover_stalled_sends
from tests.conftest import skip_or_fail
from tests.factories import BranchFactory

MEMBERS = 1000


def start_worker(queue: str, env: dict) -> subprocess.Popen:
    from config.celery import app

    node = f"{queue}-{uuid.uuid4().hex[:4]}@localhost"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue, "-n", node]
        + ["-l", "WARNING"],
        env=env,
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[node], timeout=1):
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            pytest.fail("the Celery worker did not start")
    return worker


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.services
def test_a_campaign_survives_a_killed_worker_and_texts_everyone_exactly_once(
    union, transactional_db, settings, tmp_path
):
    import redis

    from config.celery import app

    if connection.vendor != "postgresql" or not django_settings.CELERY_BROKER_URL:
        skip_or_fail("needs PostgreSQL (DATABASE_URL) and a Redis broker (CELERY_BROKER_URL): run `make test-services`")
    try:
        redis.Redis.from_url(django_settings.CELERY_BROKER_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        skip_or_fail(f"Redis at {django_settings.CELERY_BROKER_URL} does not answer: {error}")

    sent_file = str(tmp_path / "sent.jsonl")
    settings.SMS_BACKEND = "crm.sms.filebased.SmsBackend"
    settings.SMS_FILE_PATH = sent_file
    branch = BranchFactory(name="Bulk", code="bulk", region=union.regions.north)
    Member.objects.bulk_create(
        Member(
            membership_number=f"B{i:07d}",
            first_name=f"Member{i}",
            last_name="Bulk",
            mobile=f"+4477009{i:05d}",
            branch=branch,
            category="teacher",
            status="active",
            sms_consent=True,
            sms_consent_source="join_form",
        )
        for i in range(MEMBERS)
    )
    segment = Segment.objects.create(name="Bulk", owner=union.users.national, filters={"branch": [str(branch.pk)]})
    campaign = create_campaign(
        actor=union.users.national,
        details={
            "name": "Ballot reminder",
            "channel": "sms",
            "purpose": "news",
            "segment": segment,
            "body": "Hi {first_name}, vote by Friday.",
            "is_urgent": True,
        },
    )

    db = connection.settings_dict
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        CELERY_TASK_DEFAULT_QUEUE=queue,
        SMS_BACKEND="crm.sms.filebased.SmsBackend",
        SMS_FILE_PATH=sent_file,
        SMS_RATE_PER_SECOND="250",  # about four seconds for the campaign: time to kill the worker mid-way
        OUTREACH_CHUNK_SIZE="50",
    )
    default_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue  # tasks this process sends go to the test's worker
    workers = []
    try:
        workers.append(start_worker(queue, env))
        schedule_campaign(actor=union.users.national, campaign=campaign, at=None)
        wait_for(lambda: len(read_sent(sent_file)) >= 300, 90, "the first 300 texts")
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait(timeout=10)
        texted_before_kill = len(read_sent(sent_file))
        assert texted_before_kill < MEMBERS, "the worker finished before it was killed: nothing was tested"

        # What celery beat's recovery does once the stalled window has passed (0 here: the worker is dead).
        outcome = recover_stalled_sends.run(older_than_seconds=0)
        print("recovery:", outcome, "texted before the kill:", texted_before_kill)
        assert outcome["unknown"] == 0

        workers.append(start_worker(queue, env))

        def finished():
            return not Message.objects.filter(
                campaign=campaign, status__in=[Message.Status.QUEUED, Message.Status.SENDING]
            ).exists()

        wait_for(finished, 120, "the campaign to finish")
    finally:
        app.conf.task_default_queue = default_queue
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()

    keys = Counter(record["key"] for record in read_sent(sent_file))
    expected = {
        f"campaign:{campaign.pk}:member:{pk}"
        for pk in Member.objects.filter(branch=branch).values_list("pk", flat=True)
    }
    assert set(keys) == expected
    assert set(keys.values()) == {1}, [key for key, n in keys.items() if n > 1]
    statuses = Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == {Message.Status.SENT: MEMBERS}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert campaign.finished_at <= timezone.now()
