"""Small predicates on what a user may do, shared by pages, the API and services."""

from __future__ import annotations

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
