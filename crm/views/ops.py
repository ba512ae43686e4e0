"""The health endpoint for load balancers and monitoring: database, broker and workers, each checked."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)
# Each check is bounded: a health check that hangs is worse than one that says "down".
TIMEOUT_SECONDS = 2.0


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_broker() -> str:
    from config.celery import app

    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "not used (tasks run in-process)"
    with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
    return "ok"


def check_workers() -> str:
    from config.celery import app

    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "not used (tasks run in-process)"
    with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
        replies = app.control.inspect(timeout=TIMEOUT_SECONDS, connection=conn).ping() or {}
    if not replies:
        raise RuntimeError("no worker answered")
    return f"ok ({len(replies)} answering)"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "broker": check_broker,
    "workers": check_workers,
}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, 503 when any fails. Says what failed, never how it is configured
    (no host names, URLs or passwords: the page is open to anyone who can reach it)."""
    results: dict[str, dict] = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            detail = check()
            ok = True
        except Exception as error:  # any failure is a failed check, reported and logged
            logger.warning("health check %s failed: %s", name, error, extra={"check": name})
            detail = f"failed ({type(error).__name__})"
            ok = healthy = False
        results[name] = {"ok": ok, "detail": detail, "ms": round((time.monotonic() - started) * 1000, 1)}
    return JsonResponse({"ok": healthy, "checks": results}, status=200 if healthy else 503)
