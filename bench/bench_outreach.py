"""Outreach benchmark: a 100,000-recipient text campaign on PostgreSQL.

- queue: build and queue the campaign's messages (crm.services.outreach.queue_campaign: the audience read
  through segment_members, merge fields, one Message row per member by bulk insert, and the send tasks
  published to a real Redis broker on a queue nobody consumes, purged afterwards). Target: under 30 s.
- worker overhead: what a worker spends per message besides the provider (claim, send through the
  in-memory backend, record), running the send_message_chunk task's code in-process. Target: under 2 ms.
- rate: 1,000 texts sent by two threads sharing the Redis-held rate limit at a configured 100 a second;
  the achieved rate between the first and the last send. Target: within 5%.

Its own database (`quorum_bench_outreach` on the bench server, QUORUM_BENCH_DATABASE_URL) is created,
migrated and seeded with seed_demo once; every member is then given a mobile and SMS consent, so all
100,000 are recipients. Redis: QUORUM_BENCH_REDIS_URL (default redis://127.0.0.1:6379/15).

    python -m bench.run --only outreach
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time

MEMBERS = 100_000
DATABASE = "quorum_bench_outreach"
REDIS_URL = os.environ.get("QUORUM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
QUEUE = "bench-outreach-unconsumed"
QUEUE_RUNS = 3
OVERHEAD_CHUNKS = 3
OVERHEAD_CHUNK = 2000
RATE = 100.0
RATE_MESSAGES = 1000
TARGET_QUEUE_SECONDS = 30
TARGET_OVERHEAD_MS = 2
TARGET_RATE_ERROR = 0.05


def log(text: str) -> None:
    print(f"bench outreach: {text}", file=sys.stderr, flush=True)


def prepare() -> None:
    from django.core.management import call_command
    from django.db import connection

    from bench.bench_member_list import use_database
    from crm.models import Member

    use_database(DATABASE)
    call_command("migrate", verbosity=0)
    found = Member.objects.count()
    if found != MEMBERS:
        log(f"seeding {MEMBERS:,} members (found {found:,})")
        call_command("seed_demo", members=MEMBERS, seed=1, flush=True, verbosity=0)
    with connection.cursor() as cursor:  # everyone a recipient: a mobile and consent to texts
        cursor.execute(
            "UPDATE crm_member SET mobile = '+447' || lpad(id::text, 9, '0'), sms_consent = true, "
            "sms_consent_source = 'join_form' WHERE NOT sms_consent OR mobile = ''"
        )
        cursor.execute("DELETE FROM crm_smsoptout")
        cursor.execute("ANALYZE crm_member")


def use_real_broker():
    import redis

    from config.celery import app

    app.conf.task_always_eager = False
    app.conf.broker_url = REDIS_URL
    app.conf.task_default_queue = QUEUE
    return redis.Redis.from_url(REDIS_URL)


def new_campaign(user, segment):
    from crm.models import Campaign
    from crm.services import outreach

    campaign = outreach.create_campaign(
        actor=user,
        details={
            "name": "Bench ballot reminder",
            "channel": "sms",
            "purpose": "news",
            "segment": segment,
            "body": "Hi {first_name}, the pay ballot closes Friday. Vote today: your union needs you.",
            "is_urgent": True,  # the benchmark may run at night
        },
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.QUEUEING)
    return campaign


def clear_campaigns() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM crm_message WHERE campaign_id IS NOT NULL")
        cursor.execute("DELETE FROM crm_campaign")
        cursor.execute("VACUUM ANALYZE crm_message")


def measure_queue(user, segment, broker) -> tuple[list[float], int, int]:
    from crm.models import Message
    from crm.services import outreach

    times = []
    for run in range(QUEUE_RUNS):
        clear_campaigns()
        broker.delete(QUEUE)
        campaign = new_campaign(user, segment)
        started = time.perf_counter()
        recipients = outreach.queue_campaign(campaign_id=campaign.pk)
        times.append(time.perf_counter() - started)
        queued = Message.objects.filter(campaign=campaign, status="queued").count()
        published = broker.llen(QUEUE)
        log(f"queue run {run + 1}: {recipients:,} messages ({queued:,} queued, {published} tasks) in {times[-1]:.1f} s")
    broker.delete(QUEUE)
    return times, recipients, queued


def measure_overhead(settings) -> list[float]:
    from crm.models import Message
    from crm.sms import locmem
    from crm.tasks import send_message_chunk

    settings.SMS_BACKEND = "crm.sms.locmem.SmsBackend"
    settings.OUTREACH_RATE_PER_SECOND = {"sms": 0, "email": 0}
    ids = list(Message.objects.filter(status="queued").order_by("pk").values_list("pk", flat=True))
    per_message = []
    for chunk in range(OVERHEAD_CHUNKS):
        batch = ids[chunk * OVERHEAD_CHUNK : (chunk + 1) * OVERHEAD_CHUNK]
        locmem.outbox.clear()
        started = time.perf_counter()
        sent = send_message_chunk.run(batch)
        seconds = time.perf_counter() - started
        assert sent == len(batch) == len(locmem.outbox), (sent, len(batch), len(locmem.outbox))
        per_message.append(1000 * seconds / len(batch))
        log(f"worker overhead chunk {chunk + 1}: {per_message[-1]:.3f} ms a message")
    return per_message


def measure_rate(settings, broker) -> dict:
    from django.db import connection

    from crm.models import Message
    from crm.services.messages import send_messages
    from crm.sms import BaseSmsBackend

    sent_at: list[float] = []
    lock = threading.Lock()

    class TimingBackend(BaseSmsBackend):
        def send(self, *, to, body, key, sender=""):
            with lock:
                sent_at.append(time.monotonic())
            return f"bench-{key}"

    import crm.services.messages as pipeline

    original = pipeline.get_sms_backend
    pipeline.get_sms_backend = TimingBackend
    settings.OUTREACH_RATE_PER_SECOND = {"sms": RATE, "email": 0}
    settings.OUTREACH_RATE_LIMIT_REDIS_URL = REDIS_URL
    broker.delete("quorum:send-rate:sms")
    ids = list(Message.objects.filter(status="queued").order_by("pk").values_list("pk", flat=True)[:RATE_MESSAGES])

    def worker(part: list[int]) -> None:
        try:
            send_messages(message_ids=part)  # what a worker runs for a chunk: claim, send at the rate, record
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(ids[i::2],)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        pipeline.get_sms_backend = original
    achieved = (len(sent_at) - 1) / (max(sent_at) - min(sent_at))
    log(f"rate: {len(sent_at)} texts at {achieved:.1f} a second (configured {RATE:.0f})")
    return {"sent": len(sent_at), "achieved": achieved, "error": abs(achieved - RATE) / RATE}


def run() -> dict:
    from django.conf import settings
    from django.db import connection

    from crm.models import Segment, User

    if connection.vendor != "postgresql":
        raise SystemExit("The outreach benchmark needs PostgreSQL.")
    prepare()
    broker = use_real_broker()
    user, _ = User.objects.get_or_create(username="bench-outreach", defaults={"role": User.Role.NATIONAL_ADMIN})
    segment, _ = Segment.objects.get_or_create(name="Everyone", owner=user, defaults={"filters": {}})

    queue_times, recipients, queued = measure_queue(user, segment, broker)
    overhead = measure_overhead(settings)
    rate = measure_rate(settings, broker)
    clear_campaigns()

    queue_median = statistics.median(queue_times)
    overhead_median = statistics.median(overhead)
    rows = [
        {
            "measure": "build and queue a 100,000-recipient SMS campaign",
            "median": f"{queue_median:.1f} s",
            "runs": ", ".join(f"{t:.1f}" for t in queue_times),
            "target": f"< {TARGET_QUEUE_SECONDS} s",
            "met": queue_median < TARGET_QUEUE_SECONDS,
        },
        {
            "measure": "worker overhead per message (in-memory backend)",
            "median": f"{overhead_median:.3f} ms",
            "runs": ", ".join(f"{t:.3f}" for t in overhead),
            "target": f"< {TARGET_OVERHEAD_MS} ms",
            "met": overhead_median < TARGET_OVERHEAD_MS,
        },
        {
            "measure": f"rate limit at {RATE:.0f}/s, two senders sharing it through Redis",
            "median": f"{rate['achieved']:.1f}/s ({100 * rate['error']:.2f}% off)",
            "runs": f"{rate['sent']} texts",
            "target": "within 5%",
            "met": rate["error"] <= TARGET_RATE_ERROR,
        },
    ]
    notes = [
        f"{recipients:,} members in the audience, {queued:,} messages queued; send tasks of "
        f"{settings.OUTREACH_CHUNK_SIZE} ids published to Redis.",
        f"Queue: median of {QUEUE_RUNS} runs. Overhead: median of {OVERHEAD_CHUNKS} chunks of {OVERHEAD_CHUNK:,}.",
        f"Overhead is per message of a chunk, claimed and recorded in batches of {settings.OUTREACH_CLAIM_BATCH} "
        "(two commits a batch); the provider's time is excluded by the in-memory backend.",
    ]
    return {"title": "Outreach: a 100,000-recipient SMS campaign", "rows": rows, "notes": notes}
