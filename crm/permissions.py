"""Small predicates on what a user may do, shared by pages, the API and services."""

from __future__ import annotations

from django.conf import settings

from crm.models import Branch, Member, User
from crm.selectors import members_visible_to, organiser_branch_ids


def can_view_member_lists(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff_role)


def can_manage_members_in(user: User, branch: Branch) -> bool:
    """National admins anywhere; organisers in their own patch. Reps and members edit nothing here."""
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_national:
        return True
    return user.role == User.Role.ORGANISER and branch.pk in organiser_branch_ids(user)


def can_manage_member(user: User, member: Member) -> bool:
    return can_manage_members_in(user, member.branch) and members_visible_to(user).filter(pk=member.pk).exists()


def can_view_dashboard(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.is_national or user.role == User.Role.ORGANISER))


def can_import_members(user: User) -> bool:
    """National admins and organisers import members (into their own patch); nobody else does."""
    return bool(user.is_authenticated and user.is_active and (user.is_national or user.role == User.Role.ORGANISER))


def can_export_members(user: User) -> bool:
    """Union staff export the members they can see (a rep: their workplaces'); members and scrutineers nothing."""
    return can_view_member_lists(user)


# Roles that must sign in with a second factor: everyone who works on the union's data, not members.
STAFF_ROLES = {User.Role.NATIONAL_ADMIN, User.Role.ORGANISER, User.Role.REP, User.Role.SCRUTINEER}


def is_staff_account(user: User) -> bool:
    """National admins, organisers, reps, scrutineers, and anyone who may use the admin."""
    return bool(user.is_authenticated and (user.is_superuser or user.is_staff or user.role in STAFF_ROLES))


def must_use_two_factor(user: User) -> bool:
    """Staff accounts need a verified second factor, unless settings.QUORUM_STAFF_2FA is off."""
    return bool(settings.QUORUM_STAFF_2FA and is_staff_account(user))


def can_export_subject_access(user: User) -> bool:
    """A member's whole record (every section, their account's log included) goes to national admins only:
    subject access requests are answered centrally, by the union's data protection lead. Members take
    their own from the portal."""
    return bool(user.is_authenticated and user.is_active and user.is_national)


def can_erase_members(user: User) -> bool:
    """Erasure cannot be undone: national admins only, as for the export."""
    return bool(user.is_authenticated and user.is_active and user.is_national)


def can_view_retention(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_national)
