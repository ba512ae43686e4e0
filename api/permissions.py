"""API-level gates. Which objects a user sees comes from crm.selectors; what they may change, from
crm.permissions and crm.services. These classes only turn away requests that can never succeed."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from crm.permissions import can_view_member_lists


class StaffRoleForWrites(BasePermission):
    """Reading follows the user's scope; writing is only ever open to union staff (national, organisers, reps).

    Members, scrutineers and outsiders get 403 for every write, whatever the id or body. Staff are then
    checked object by object by the services (a rep, for instance, changes nothing and also gets 403).
    """

    message = "You cannot make changes through the API."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method in SAFE_METHODS or can_view_member_lists(request.user)
