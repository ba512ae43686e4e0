"""Who may use the portal: a signed-in user who is a member. Every portal page works on request.user's own
member record and never takes a member id from the URL, so another member's id cannot be tried."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from crm.models import Member


def member_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sign-in required; a user without a member record (a national admin, a scrutineer) is refused (403).
    The view receives the member as its second argument."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.member_id:
            raise PermissionDenied("The member portal is for members: this account has no member record.")
        member = Member.objects.select_related("workplace__branch__region").get(pk=request.user.member_id)
        return view(request, member, *args, **kwargs)

    return wrapper
