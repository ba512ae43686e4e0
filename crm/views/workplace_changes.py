"""Workplace moves members asked for in the portal, waiting for an organiser: listed for the organiser's
patch (national admins: all), each confirmed (the member moves) or not, with a note the member sees."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from crm.errors import NotPermitted, ServiceError
from crm.permissions import can_view_dashboard
from crm.services import member_account
from crm.views import _require


@login_required
def change_list(request: HttpRequest) -> HttpResponse:
    _require(can_view_dashboard(request.user))  # national admins and organisers
    changes = member_account.pending_workplace_changes_for(request.user)[:200]
    return render(request, "crm/workplace_changes.html", {"changes": changes})


@login_required
@require_POST
def change_decide(request: HttpRequest, change_id: int) -> HttpResponse:
    _require(can_view_dashboard(request.user))
    decision = request.POST.get("decision")
    if decision not in {"confirm", "reject"}:
        messages.error(request, "Choose to confirm the move or not.")
        return redirect("workplace_change_list")
    try:
        change = member_account.decide_workplace_change(
            actor=request.user, change_id=change_id, confirm=decision == "confirm", note=request.POST.get("note", "")
        )
    except NotPermitted as error:
        raise Http404("No such request.") from error  # outside the patch looks like none at all
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        verb = "moved to" if decision == "confirm" else "stays; not moved to"
        messages.success(request, f"{change.member.full_name} {verb} {change.to_workplace.name}.")
    return redirect("workplace_change_list")
