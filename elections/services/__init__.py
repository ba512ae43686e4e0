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
from elections.counting import (
    CountError,
    Profile,
    ReservedSeats,
    Result,
    Stage,
    count,
    decode_blt,
    parse_blt,
    write_blt,
)
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


NO_VALID_VOTES = "No valid votes: no candidate elected, and the seats are unfilled."


def no_valid_votes_result(
    profile: Profile, *, method: str, rule: str | None, seed: str, reserved: ReservedSeats | None
) -> Result:
    """The result of a poll with no valid ballot (none cast, or all blank or spoilt): nobody elected.

    One first stage with every total at nought, so the count pages, the stage table, its CSV and the chart
    show it like any other count. Built here, not in elections.counting, which refuses an empty poll (a BLT
    file with no valid ballot is a mistake to report); an election that nobody validly voted in is a fact to
    record, certify and publish."""
    zeros = [0] * len(profile.candidates)
    return Result(
        method=method,
        rule=(rule or "scottish") if method == Method.STV else None,
        seats=profile.seats,
        precision=0,
        candidates=list(profile.candidates),
        valid_poll=0,
        quota=None,
        stages=[
            Stage(
                number=1,
                action="first",
                subjects=[],
                totals=zeros,
                transfers=list(zeros),
                non_transferable=0,
                non_transferable_change=0,
                note=NO_VALID_VOTES,
            )
        ],
        elected=[],
        ties=[],
        seed=seed,
        title=profile.title,
        withdrawn=profile.withdrawn,
        invalid=profile.invalid,
        reserved=reserved,
        notes=[NO_VALID_VOTES],
    )


def count_election(
    profile: Profile, *, method: str, rule: str | None, seats: int | None, seed: str, reserved: ReservedSeats | None
) -> Result:
    """Count an election's sealed ballots with elections.counting, except that a poll with no valid ballot
    elects nobody (counting refuses it for IRV and STV, and FPTP and approval would draw lots between
    candidates on nought votes). Raises CountError for anything else that cannot be counted."""
    profile = profile.with_seats(seats)
    if profile.valid_poll == 0:
        return no_valid_votes_result(profile, method=method, rule=rule, seed=seed, reserved=reserved)
    return count(profile, method=method, rule=rule or None, seed=seed, reserved=reserved)


def _empty_poll(blt_text: str, stored_result_json: str) -> Profile | None:
    """The profile of an election's sealed ballots when they hold no valid ballot, else None.

    elections.counting's BLT reader refuses a file with no valid ballot, so an empty poll is read the other
    way round: it is the profile of the stored result's candidates, withdrawals, seats, title and number of
    blank or spoilt ballots, with no ballots, exactly when that profile's canonical BLT is the stored BLT
    byte for byte."""
    try:
        stored = json.loads(stored_result_json)
        if stored.get("valid_poll") != 0:
            return None
        names = list(stored["candidates"])
        profile = Profile(
            candidates=names,
            seats=int(stored["seats"]),
            ballots={},
            withdrawn=frozenset(names.index(name) for name in stored["withdrawn"]),
            title=str(stored["title"]),
            invalid=int(stored["invalid"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    return profile if write_blt(profile) == blt_text else None


def _run(
    blt_text: str,
    *,
    method: str,
    rule: str,
    seats: int | None,
    seed: str,
    reserved: ReservedSeats | None,
    stored_result_json: str | None = None,
) -> str:
    """Count BLT text. With ``stored_result_json`` (recounting an election's count) an empty poll is
    recorded as nobody elected (count_election), not refused."""
    if stored_result_json is None:
        return count(
            parse_blt(blt_text), method=method, rule=rule or None, seats=seats, seed=seed, reserved=reserved
        ).to_json()
    profile = _empty_poll(blt_text, stored_result_json) or parse_blt(blt_text)
    return count_election(profile, method=method, rule=rule, seats=seats, seed=seed, reserved=reserved).to_json()


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
            stored_result_json=count.result_json if count.election_id is not None else None,
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
