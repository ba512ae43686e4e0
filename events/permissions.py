"""Who may do what with events: small predicates shared by pages, the API and services."""

from __future__ import annotations

from typing import Any

from crm.models import Branch, Region, User
from crm.selectors import organiser_branch_ids
from events.models import Event


def _signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def can_create_events(user: Any) -> bool:
    """National admins and organisers create events (organisers only for hosts in their patch)."""
    return _signed_in(user) and (user.is_national or user.role == User.Role.ORGANISER)


def can_host_at(user: Any, host: Branch | Region | None) -> bool:
    """National admins host anywhere (None = the national office); organisers a branch in their patch or a
    region named in it."""
    if not _signed_in(user):
        return False
    if user.is_national:
        return True
    if user.role != User.Role.ORGANISER or host is None:
        return False
    if isinstance(host, Region):
        return user.regions.filter(pk=host.pk).exists()
    return host.pk in organiser_branch_ids(user)


def can_manage_event(user: Any, event: Event) -> bool:
    """The event's organisers: they see its registrations (with access needs), export them and check people in."""
    return can_host_at(user, event.host)


def can_register_others(user: Any) -> bool:
    """Reps and organisers register members they can see (crm.selectors.members_visible_to decides which)."""
    return _signed_in(user) and user.is_staff_role


def can_view_training_gaps(user: Any) -> bool:
    return _signed_in(user) and (user.is_national or user.role == User.Role.ORGANISER)


def is_steward_of(user: Any, event: Event) -> bool:
    return _signed_in(user) and event.stewards.filter(user=user).exists()


def can_check_in(user: Any, event: Event) -> bool:
    """The event's organisers, and the stewards they named for this one event (who can do nothing else)."""
    return can_manage_event(user, event) or is_steward_of(user, event)
