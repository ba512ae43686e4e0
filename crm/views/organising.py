"""Organising views for organisers, national admins and reps (their workplaces): density and its trend,
members by assessment per workplace, workplaces without a rep."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crm.models import Assessment
from crm.permissions import can_view_member_lists
from crm.selectors import membership_trend_for, workplaces_with_density
from crm.selectors.equalities import can_view_equalities_summary
from crm.selectors.organising import (
    TREND_MONTHS_AGO,
    assessment_counts,
    density_trend,
    workplaces_without_rep,
)
from crm.views import _require
from events.permissions import can_view_training_gaps

PAGE_SIZE = 50


@login_required
def organising_home(request: HttpRequest) -> HttpResponse:
    _require(can_view_member_lists(request.user))
    return render(
        request,
        "crm/organising/home.html",
        {
            "can_view_equalities": can_view_equalities_summary(request.user),
            "can_view_training_gaps": can_view_training_gaps(request.user),
        },
    )


@login_required
def density(request: HttpRequest) -> HttpResponse:
    _require(can_view_member_lists(request.user))
    order = "density" if request.GET.get("order") != "name" else "name"
    workplaces = workplaces_with_density(request.user).order_by(
        *(("density", "name", "id") if order == "density" else ("name", "id"))
    )
    page = Paginator(workplaces, PAGE_SIZE).get_page(request.GET.get("page"))
    trend = membership_trend_for(request.user, days=365)
    peak = max((total for _day, total in trend), default=0)
    return render(
        request,
        "crm/organising/density.html",
        {
            "page": page,
            "rows": density_trend(list(page)),
            "months": TREND_MONTHS_AGO,
            "order": order,
            "query": f"order={order}",
            "trend": [(day, total, round(100 * total / peak) if peak else 0) for day, total in trend],
        },
    )


@login_required
def assessments(request: HttpRequest) -> HttpResponse:
    _require(can_view_member_lists(request.user))
    workplaces = workplaces_with_density(request.user).order_by("name", "id")
    page = Paginator(workplaces, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "crm/organising/assessments.html",
        {"page": page, "rows": assessment_counts(list(page)), "scores": Assessment.Score.choices, "query": ""},
    )


@login_required
def without_reps(request: HttpRequest) -> HttpResponse:
    _require(can_view_member_lists(request.user))
    page = Paginator(workplaces_without_rep(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "crm/organising/without_reps.html", {"page": page, "query": ""})
