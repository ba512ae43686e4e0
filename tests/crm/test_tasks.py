import datetime

import pytest

from crm.models import Member, MembershipSnapshot
from crm.tasks import take_membership_snapshot

DAY = "2026-11-01"


def snapshot_rows():
    return sorted(MembershipSnapshot.objects.values_list("taken_on", "branch__code", "status", "members"))


def expected_rows(union):
    day = datetime.date.fromisoformat(DAY)
    counts = {}
    for member in Member.objects.all():
        key = (day, member.branch.code, member.status)
        counts[key] = counts.get(key, 0) + 1
    return sorted((*key, n) for key, n in counts.items())


def test_snapshot_counts_members_by_branch_and_status_and_running_twice_changes_nothing(union):
    take_membership_snapshot.apply(args=[DAY]).get()
    first = snapshot_rows()
    assert first == expected_rows(union)
    take_membership_snapshot.apply(args=[DAY]).get()
    assert snapshot_rows() == first


@pytest.mark.services
def test_snapshot_runs_on_a_real_worker_over_redis(union, celery_worker_process):
    queue = celery_worker_process
    result = take_membership_snapshot.apply_async(args=[DAY], queue=queue)
    assert result.get(timeout=60) == len(expected_rows(union))
    assert snapshot_rows() == expected_rows(union)
    take_membership_snapshot.apply_async(args=[DAY], queue=queue).get(timeout=60)
    assert snapshot_rows() == expected_rows(union)
