"""Who may do what with counts: small predicates shared by pages, services and (later) the API."""

from __future__ import annotations

from typing import Any


def _signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def can_run_counts(user: Any) -> bool:
    """Upload, certify and recount: national admins (and superusers) and scrutineers."""
    return _signed_in(user) and (user.is_national or user.role == "scrutineer")


def can_view_results(user: Any) -> bool:
    """See counts and their results: those who run counts, and organisers."""
    return _signed_in(user) and (can_run_counts(user) or user.role == "organiser")
