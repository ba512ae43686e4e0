"""The health endpoint: 200 with each check when all pass, 503 when one fails, nothing secret in it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.views import ops


def test_healthy_locally_with_tasks_in_process(client, db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert set(body["checks"]) == {"database", "broker", "workers"}
    assert body["checks"]["database"]["ok"] is True and body["checks"]["database"]["detail"] == "ok"
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_failing_check_answers_503_and_says_which(client, db, monkeypatch):
    def broken():
        raise ConnectionError("could not connect to postgres://quorum:s3cret@db:5432/quorum")

    monkeypatch.setitem(ops.CHECKS, "database", broken)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False and body["checks"]["database"] == {
        "ok": False,
        "detail": "failed (ConnectionError)",
        "ms": body["checks"]["database"]["ms"],
    }
    assert "s3cret" not in response.content.decode() and "postgres://" not in response.content.decode()


def test_an_unreachable_broker_fails_quickly(client, db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False and checks["workers"]["ok"] is False
    assert checks["broker"]["ms"] < 10_000
    assert "127.0.0.1:1" not in response.content.decode()


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_only_get(client, db, method):
    assert getattr(client, method)(reverse("healthz")).status_code == 405


@pytest.mark.services
def test_healthy_with_a_real_broker_and_worker(client, celery_worker_process):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200, response.json()
    checks = response.json()["checks"]
    assert checks["broker"]["detail"] == "ok" and checks["workers"]["detail"].startswith("ok (")
