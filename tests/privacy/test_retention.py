"""Retention rules: a dry run changes nothing and says what a run would do; a run does it once; each rule
touches only what is past its period, and a rule set to 0 is off."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from crm import tasks
from crm.models import AuditEntry, ImportJob, InboundText, Member, Message, SecurityEvent, StripeEvent
from crm.services.retention import apply_retention, retention_report
from elections.models import Election, RollEntry, VoterRoll
from tests.api.conftest import take_snapshot
from tests.privacy.conftest import _election

pytestmark = pytest.mark.django_db


def by_key(outcomes) -> dict:
    return {rule["key"]: rule for rule in outcomes}


def age(queryset, field: str, days: int) -> None:
    queryset.update(**{field: timezone.now() - datetime.timedelta(days=days)})


@pytest.fixture
def old(owen, union):
    """Owen left seven years ago; his messages, texts, import, sign-ins and Stripe events are old too."""
    years = settings.RETENTION_LEFT_MEMBER_YEARS
    Member.objects.filter(pk=owen.member.pk).update(
        status_changed_on=timezone.localdate() - datetime.timedelta(days=365 * years + 40)
    )
    owen.member.refresh_from_db()
    days = 31 * max(settings.RETENTION_MESSAGE_BODY_MONTHS, settings.RETENTION_SECURITY_LOG_MONTHS) + 400
    age(Message.objects.all(), "created_at", days)
    age(InboundText.objects.all(), "received_at", days)
    InboundText.objects.update(is_handled=True)
    age(ImportJob.objects.all(), "finished_at", days)
    age(SecurityEvent.objects.all(), "at", days)
    age(StripeEvent.objects.all(), "received_at", days)
    StripeEvent.objects.update(state="processed")
    return owen


def expected_due() -> dict[str, int]:
    """What each rule must find in the `old` fixture, counted here from the rows themselves."""
    return {
        "left_members": Member.objects.filter(status="resigned", erased_at__isnull=True).count(),
        # The credential message is confidential: its body was wiped when it was sent.
        "message_bodies": Message.objects.filter(confidential=False).exclude(body="").count(),
        "texts_received": InboundText.objects.exclude(body="").count(),
        "import_files": ImportJob.objects.count(),
        "security_log": SecurityEvent.objects.count(),
        "stripe_payloads": StripeEvent.objects.exclude(payload={}).count(),
    }


def test_a_dry_run_reports_and_changes_nothing(old):
    expected = expected_due()
    assert all(expected.values()), expected  # the fixture has something for every rule
    before = take_snapshot(), list(Message.objects.values()), list(SecurityEvent.objects.values_list("pk"))
    report = by_key(retention_report())
    assert {key: rule["due"] for key, rule in report.items()} == expected
    assert all(rule["done"] == 0 for rule in report.values())
    after = take_snapshot(), list(Message.objects.values()), list(SecurityEvent.objects.values_list("pk"))
    assert after == before


def test_a_run_erases_members_who_left_long_ago(old):
    audit_before = AuditEntry.objects.count()
    due = by_key(retention_report())["left_members"]["due"]
    assert by_key(apply_retention())["left_members"]["done"] == due
    member = Member.objects.get(pk=old.member.pk)
    assert member.erased_at is not None and member.first_name == "Erased"
    assert Message.objects.get(pk=old.message.pk).body == ""
    # The audit trail is kept: only added to (one entry for each erasure).
    assert AuditEntry.objects.count() == audit_before + due


def test_each_other_rule_applies_once(old, settings):
    settings.RETENTION_LEFT_MEMBER_YEARS = 0  # the other rules on their own: erasure would do some of their work
    expected = expected_due() | {"left_members": 0}
    done = by_key(apply_retention())
    assert {key: rule["done"] for key, rule in done.items()} == expected
    assert Message.objects.get(pk=old.message.pk).body == "" and not old.message.attachments.exists()
    assert Message.objects.get(pk=old.message.pk).to == old.member.email  # who it went to stays
    assert not SecurityEvent.objects.exists()
    assert bytes(ImportJob.objects.get().content) == b""
    assert StripeEvent.objects.get().payload == {}
    assert InboundText.objects.get().body == ""
    again = by_key(apply_retention())
    assert all(rule["due"] == 0 and rule["done"] == 0 for rule in again.values())


def test_the_task_runs_twice_safely(old):
    first = by_key(tasks.apply_retention())
    second = by_key(tasks.apply_retention())
    assert first["left_members"]["done"] == 1 and second["left_members"]["done"] == 0
    assert "apply-retention" in settings.CELERY_BEAT_SCHEDULE


def test_recent_data_and_current_members_are_left_alone(owen, union):
    before = take_snapshot(), list(Message.objects.values())
    outcomes = by_key(apply_retention())
    assert outcomes["left_members"]["due"] == 0  # Owen left today; everyone else is a member
    assert outcomes["message_bodies"]["due"] == 0
    assert (take_snapshot(), list(Message.objects.values())) == before


def test_a_member_who_cannot_be_erased_yet_is_skipped_with_the_reason(old, union):
    voting = _election("Strike ballot", Election.Status.VOTING, union)
    RollEntry.objects.create(roll=VoterRoll.objects.create(election=voting), member=old.member)
    rule = by_key(apply_retention())["left_members"]
    assert rule["done"] == 0
    assert [skip["member_id"] for skip in rule["skipped"]] == [old.member.pk]
    assert "roll of an election" in " ".join(rule["skipped"][0]["reasons"])
    assert Member.objects.get(pk=old.member.pk).erased_at is None


def test_a_rule_set_to_zero_is_off(old, settings):
    settings.RETENTION_LEFT_MEMBER_YEARS = 0
    settings.RETENTION_SECURITY_LOG_MONTHS = 0
    outcomes = by_key(apply_retention())
    assert outcomes["left_members"]["is_off"] and outcomes["left_members"]["due"] == 0
    assert Member.objects.get(pk=old.member.pk).erased_at is None
    assert SecurityEvent.objects.exists()
    assert outcomes["security_log"]["is_off"] and not outcomes["message_bodies"]["is_off"]
    assert outcomes["message_bodies"]["done"] == outcomes["message_bodies"]["due"] > 0


def test_the_command_dry_run_prints_the_report_and_changes_nothing(old):
    before = take_snapshot()
    out = io.StringIO()
    call_command("retention", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "Dry run: nothing changed." in text
    assert f"would change {expected_due()['left_members']}" in text
    assert take_snapshot() == before
    out = io.StringIO()
    call_command("retention", "--dry-run", "--json", stdout=out)
    assert by_key(json.loads(out.getvalue()))["left_members"]["due"] == expected_due()["left_members"]
    assert take_snapshot() == before


def test_the_command_applies_the_rules(old):
    out = io.StringIO()
    call_command("retention", stdout=out)
    assert "Retention rules applied." in out.getvalue()
    assert Member.objects.get(pk=old.member.pk).erased_at is not None
