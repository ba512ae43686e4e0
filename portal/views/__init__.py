"""The portal's pages. Each area has its own module: account.py (sign-in, details, preferences, equalities
answers, my data) and activity.py (events, training, ballots)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crm.models import Member
from portal.access import member_required


@member_required
def home(request: HttpRequest, member: Member) -> HttpResponse:
    return render(request, "portal/home.html", {"member": member})
