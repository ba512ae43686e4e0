"""A per-channel send rate (messages per second, from settings) held across every Celery worker.

Each send reserves the next free slot: a shared "next free time" per channel moves on by 1/rate with each
reservation, and the caller sleeps until its slot. A sender that fell behind (a commit took a while) may use
slots up to BURST messages in the past, so the pace over a minute stays at the rate instead of drifting
below it, and never more than BURST messages ahead of it. With Redis (the broker, in production) the slot is kept
in Redis and read with Redis's own clock, so all workers on all machines share one pace; without Redis
(eager Celery, local use) the pace is kept in this process.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

BURST = 10

# KEYS[1]: the channel's next free time; ARGV[1]: seconds per message; ARGV[2]: how far back a slot may be.
# Returns the seconds to wait (negative: none), as text.
RESERVE_SLOT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local interval = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now - tonumber(ARGV[2]) then slot = now - tonumber(ARGV[2]) end
local expires = math.ceil(math.max(slot + interval - now, 0) * 1000) + 60000
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', expires)
return tostring(slot - now)
"""

_local_lock = threading.Lock()
_local_next: dict[str, float] = {}
_redis_script = None


def rate_for(channel: str) -> float:
    """Messages per second allowed on `channel`; 0 means no limit."""
    return float(settings.OUTREACH_RATE_PER_SECOND.get(channel, 0) or 0)


def _redis_reserve(channel: str, interval: float) -> float:
    global _redis_script
    if _redis_script is None:
        import redis

        _redis_script = redis.Redis.from_url(settings.OUTREACH_RATE_LIMIT_REDIS_URL).register_script(RESERVE_SLOT)
    return float(_redis_script(keys=[f"quorum:send-rate:{channel}"], args=[repr(interval), repr(BURST * interval)]))


def _local_reserve(channel: str, interval: float) -> float:
    with _local_lock:
        now = time.monotonic()
        slot = max(now - BURST * interval, _local_next.get(channel, 0.0))
        _local_next[channel] = slot + interval
        return slot - now


def wait_for_slot(channel: str) -> float:
    """Block until this process may send one more message on `channel`; return the seconds waited."""
    rate = rate_for(channel)
    if rate <= 0:
        return 0.0
    interval = 1.0 / rate
    if settings.OUTREACH_RATE_LIMIT_REDIS_URL:
        wait = _redis_reserve(channel, interval)
    else:
        wait = _local_reserve(channel, interval)
    if wait > 0:
        time.sleep(wait)
    return max(wait, 0.0)
