"""Production settings, checked in a subprocess as they would start: `check --deploy` is clean, a missing
secret or service URL stops start-up with its name, and logs are JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "a-production-like-secret-" + "k" * 40,
    "DJANGO_ALLOWED_HOSTS": "quorum.example.org",
    "DATABASE_URL": "postgres://quorum@db.invalid:5432/quorum",
    "CELERY_BROKER_URL": "redis://redis.invalid:6379/0",
}


def run(args: list[str], **overrides: str | None) -> subprocess.CompletedProcess:
    # A clean environment, as a server has: nothing inherited from the test run (e.g. the browser tests'
    # DJANGO_ALLOW_ASYNC_UNSAFE, which check --deploy rightly refuses).
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "PYTHONPATH") if key in os.environ}
    env.update(PRODUCTION_ENV)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("name", list(PRODUCTION_ENV)[1:])
def test_a_missing_production_setting_stops_start_up_and_says_which(name):
    result = run(["manage.py", "check"], **{name: None})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and f"{name} must be set" in result.stderr


def test_production_hardening_is_on():
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({"
        "'hsts': s.SECURE_HSTS_SECONDS, 'ssl': s.SECURE_SSL_REDIRECT, 'session': s.SESSION_COOKIE_SECURE, "
        "'csrf': s.CSRF_COOKIE_SECURE, 'two_factor': s.QUORUM_STAFF_2FA, 'debug': s.DEBUG}))"
    )
    result = run(["-c", code], DJANGO_SETTINGS_MODULE="config.settings")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "hsts": 31536000,
        "ssl": True,
        "session": True,
        "csrf": True,
        "two_factor": True,
        "debug": False,
    }


def test_production_logs_are_one_json_object_a_line():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('crm.test').warning('count %s done', 'snapshot', extra={'branch_id': 7})"
    )
    result = run(["-c", code], DJANGO_SETTINGS_MODULE="config.settings")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.strip().splitlines()]
    entry = next(line for line in lines if line["logger"] == "crm.test")
    assert entry["level"] == "WARNING" and entry["message"] == "count snapshot done" and entry["branch_id"] == 7
    assert entry["time"].endswith("+00:00")
