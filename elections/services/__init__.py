"""Workflows that write counts: count a BLT file, certify a count, recount it from its published ballots."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from crm.errors import NotPermitted, ServiceError
from crm.services import record_audit
from elections.counting import CountError, ReservedSeats, count, decode_blt, parse_blt, write_blt
from elections.models import Count, Method, Recount, Rule
from elections.permissions import can_run_counts


class CountRefused(ServiceError):
    """The ballots or the options cannot be counted; nothing was saved."""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _reserved(seats: int, group: Iterable[int], label: str) -> ReservedSeats | None:
    if not seats:
        return None
    return ReservedSeats(seats=seats, group=frozenset(n - 1 for n in group), label=label or "the reserved group")


def _run(blt_text: str, *, method: str, rule: str, seats: int | None, seed: str, reserved: ReservedSeats | None) -> str:
    return count(
        parse_blt(blt_text), method=method, rule=rule or None, seats=seats, seed=seed, reserved=reserved
    ).to_json()


@transaction.atomic
def count_from_blt(
    *,
    actor: Any,
    title: str,
    blt_text: str | bytes,
    method: str,
    rule: str | None = None,
    seats: int | None = None,
    seed: str,
    reserved_seats: int = 0,
    reserved_group: Iterable[int] = (),
    reserved_label: str = "",
) -> Count:
    """Count the ballots and store the count, its anonymised ballots (canonical BLT) and their hashes.

    The count is made from the canonical BLT that is stored, so a recount from the published file gives the
    same bytes. Raises NotPermitted, or CountRefused (naming the BLT line at fault) with nothing saved.
    """
    if not can_run_counts(actor):
        raise NotPermitted("Only national admins and scrutineers may run counts.")
    title = title.strip()
    if not title:
        raise CountRefused("Give the count a title.", field="title")
    if not seed.strip():
        raise CountRefused("Give the seed for drawing lots, fixed and published before the count.", field="seed")
    if method not in Method.values:
        raise CountRefused(f"Unknown method {method!r}.", field="method")
    rule = rule or ""
    if method == Method.STV:
        rule = rule or Rule.SCOTTISH
        if rule not in Rule.values:
            raise CountRefused(f"Unknown STV rule {rule!r}.", field="rule")
    elif rule:
        raise CountRefused("Only STV takes a rule; leave the rule empty for this method.", field="rule")
    group = sorted(set(reserved_group))
    reserved = _reserved(reserved_seats, group, reserved_label)
    try:
        source = decode_blt(blt_text) if isinstance(blt_text, bytes) else blt_text
        canonical = write_blt(parse_blt(source))
        result_json = _run(canonical, method=method, rule=rule, seats=seats, seed=seed, reserved=reserved)
    except CountError as error:
        raise CountRefused(str(error), field="blt_file") from None
    result_seats = json.loads(result_json)["seats"]
    counted = Count.objects.create(
        title=title,
        method=method,
        rule=rule,
        seats=result_seats,
        seed=seed,
        reserved_seats=reserved_seats,
        reserved_group=group,
        reserved_label=reserved_label if reserved_seats else "",
        blt_text=canonical,
        blt_sha256=sha256(canonical),
        source_sha256=sha256(source),
        result_json=result_json,
        result_sha256=sha256(result_json),
        counted_by=actor,
    )
    record_audit(
        actor=actor,
        action="create",
        target=counted,
        summary=f"Counted {title} ({method}{' ' + rule if rule else ''})",
        changes={"method": method, "rule": rule, "seats": result_seats, "seed": seed, "blt_sha256": counted.blt_sha256},
    )
    return counted


def _first_difference(expected: str, actual: str) -> str:
    for number, (old, new) in enumerate(zip(expected.splitlines(), actual.splitlines(), strict=False), start=1):
        if old != new:
            return f"line {number}: certified {old.strip()!r}, recount {new.strip()!r}"
    return f"the results differ in length ({len(expected)} and {len(actual)} characters)"


@transaction.atomic
def recount(count: Count, *, actor: Any = None) -> Recount:
    """Re-parse the stored BLT export, count it again with the stored method, rule, seats and seed, and compare
    the result with the stored one byte for byte. Records and returns the Recount; raises NotPermitted."""
    if actor is not None and not can_run_counts(actor):
        raise NotPermitted("Only national admins and scrutineers may recount.")
    blt_hash = sha256(count.blt_text)
    try:
        result_json = _run(
            count.blt_text,
            method=count.method,
            rule=count.rule,
            seats=count.seats,
            seed=count.seed,
            reserved=_reserved(count.reserved_seats, count.reserved_group, count.reserved_label),
        )
        difference = "" if result_json == count.result_json else _first_difference(count.result_json, result_json)
    except CountError as error:
        result_json, difference = "", f"the stored ballots could not be counted: {error}"
    if blt_hash != count.blt_sha256:
        difference = f"the stored ballots no longer match their published hash {count.blt_sha256}. " + difference
    identical = not difference
    row = Recount.objects.create(
        count=count,
        recounted_by=actor if actor is not None and actor.is_authenticated else None,
        blt_sha256=blt_hash,
        result_sha256=sha256(result_json),
        is_identical=identical,
        difference=difference,
    )
    record_audit(
        actor=actor,
        action="create",
        target=row,
        summary=f"Recounted {count.title}: {'identical' if identical else 'DIFFERENT'}",
        changes={"count": count.pk, "identical": identical, "result_sha256": row.result_sha256},
    )
    return row


def certify_count(*, actor: Any, count: Count) -> Count:
    """Certify a count after a recount from its stored ballots reproduces it exactly.

    The recount is recorded whatever it shows. Raises NotPermitted, or ServiceError if the count is already
    certified or the recount differs."""
    if not can_run_counts(actor):
        raise NotPermitted("Only national admins and scrutineers may certify counts.")
    if Count.objects.filter(pk=count.pk, certified_at__isnull=False).exists():
        raise ServiceError("This count is already certified.")
    check = recount(count, actor=actor)
    if not check.is_identical:
        raise ServiceError(f"The recount did not reproduce the result ({check.difference}); not certified.")
    with transaction.atomic():
        locked = Count.objects.select_for_update().get(pk=count.pk)
        if locked.is_certified:
            raise ServiceError("This count is already certified.")
        locked.certified_by = actor
        locked.certified_at = timezone.now()
        locked.save(update_fields=["certified_by", "certified_at"])
        record_audit(
            actor=actor,
            action="update",
            target=locked,
            summary=f"Certified {locked.title}",
            changes={"certified_at": locked.certified_at.isoformat(), "result_sha256": locked.result_sha256},
        )
    return locked
