"""Pages for organisers and reps. Thin: parse, call a selector or service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from crm import selectors, services
from crm.errors import ServiceError
from crm.filters import MemberFilter
from crm.forms import EndPositionForm, MemberForm, PositionForm
from crm.models import Employer, Member, Position, User, Workplace
from crm.permissions import (
    can_export_subject_access,
    can_manage_member,
    can_manage_members_in,
    can_view_dashboard,
    can_view_member_lists,
)
from crm.selectors.dues import can_view_dues_of
from crm.selectors.organising import member_organising_panel

PAGE_SIZE = 50
# Above this many workplaces (or employers) in scope, the filter lists only the chosen branch's.
MAX_FILTER_CHOICES = 300


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _member_or_404(user: User, member_id: int) -> Member:
    try:
        return selectors.member_detail_for(user, member_id)
    except Member.DoesNotExist as error:
        raise Http404("No such member.") from error


def _show_service_error(form, error: ServiceError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _narrow_choices(form, name: str, in_scope, in_branch, selected_id: str | None, hint: str) -> None:
    """Above MAX_FILTER_CHOICES, list only the chosen branch's options (and the one selected) in a filter;
    the field still accepts any option in scope, so links and the API work unchanged."""
    if in_scope.count() <= MAX_FILTER_CHOICES:
        return
    shown = in_branch
    if selected_id and selected_id.isdigit():
        shown = shown | in_scope.filter(pk=selected_id)
    field = form.fields[name]
    field.widget.choices = [("", "---------"), *((o.pk, o.name) for o in shown.distinct().order_by("name"))]
    field.help_text = hint


def _narrow_filter_choices(form, user: User, params) -> None:
    """National lists run to tens of thousands of workplaces and thousands of employers: a select that long
    makes the page slow to load and impossible to use, so those two follow the branch filter."""
    branch_id = params.get("branch") or ""
    in_branch = Q(branch_id=branch_id) if branch_id.isdigit() else Q(pk__in=[])
    workplaces = selectors.workplaces_visible_to(user).select_related(None).only("pk", "name")
    _narrow_choices(
        form,
        "workplace",
        workplaces,
        workplaces.filter(in_branch),
        params.get("workplace"),
        "Choose a branch and apply to list its workplaces.",
    )
    employers = selectors.employers_visible_to(user).only("pk", "name")
    branch_employers = workplaces.filter(in_branch).values("employer_id")
    _narrow_choices(
        form,
        "employer",
        employers,
        employers.filter(Q(pk__in=branch_employers) | Q(kind=Employer.Kind.AGENCY)),
        params.get("employer"),
        "Choose a branch and apply to list its employers (supply agencies are always listed).",
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if can_view_dashboard(user):
        return redirect("dashboard")
    if user.role == User.Role.REP:
        return redirect("my_workplaces")
    if user.role == User.Role.MEMBER and user.member_id:
        return redirect("portal:home")
    if user.role == User.Role.SCRUTINEER:
        return redirect("elections:count_list")
    return render(request, "crm/home.html")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    _require(can_view_dashboard(request.user))
    density = selectors.workplaces_with_density(request.user).order_by("density", "name")
    return render(
        request,
        "crm/dashboard.html",
        {
            "figures": selectors.dashboard_for(request.user),
            "lowest_density": density[:15],
            "trend": selectors.membership_trend_for(request.user),
        },
    )


@login_required
def member_list(request: HttpRequest) -> HttpResponse:
    _require(can_view_member_lists(request.user))
    member_filter = MemberFilter(request.GET, queryset=selectors.member_list_for(request.user), request=request)
    _narrow_filter_choices(member_filter.form, request.user, request.GET)
    members = member_filter.qs if member_filter.is_valid() else Member.objects.none()
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "crm/member_list.html",
        {
            "filter": member_filter,
            "page": page,
            "query": query.urlencode(),
            "can_add": request.user.is_national or request.user.role == User.Role.ORGANISER,
        },
    )


@login_required
def member_detail(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request.user, member_id)
    can_manage = can_manage_member(request.user, member)
    return render(
        request,
        "crm/member_detail.html",
        {
            "member": member,
            "positions": selectors.positions_of(member),
            "audit": selectors.audit_trail_of(member) if request.user.is_staff_role else [],
            "can_manage": can_manage,
            # A workplace move the member asked for in the portal, for those who may confirm it.
            "pending_move": member.workplace_changes.filter(status="pending").first() if can_manage else None,
            "can_see_dues": can_view_dues_of(request.user, member),
            "can_export_subject_access": can_export_subject_access(request.user),
            **member_organising_panel(request.user, member),
        },
    )


@login_required
def member_create(request: HttpRequest) -> HttpResponse:
    _require(request.user.is_national or request.user.role == User.Role.ORGANISER)
    form = MemberForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            member = services.create_member(actor=request.user, details=form.details())
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, f"Added {member.full_name} as {member.membership_number}.")
            return redirect("member_detail", member_id=member.pk)
    return render(request, "crm/member_form.html", {"form": form, "member": None}, status=400 if form.errors else 200)


@login_required
def member_edit(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request.user, member_id)
    _require(can_manage_member(request.user, member))
    form = MemberForm(request.POST or None, instance=member, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_member(actor=request.user, member=member, details=form.details())
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, "Saved.")
            return redirect("member_detail", member_id=member.pk)
    return render(request, "crm/member_form.html", {"form": form, "member": member}, status=400 if form.errors else 200)


@login_required
def position_create(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request.user, member_id)
    _require(can_manage_member(request.user, member))
    form = PositionForm(request.POST or None, user=request.user, initial={"workplace": member.workplace_id})
    if request.method == "POST" and form.is_valid():
        try:
            services.add_position(actor=request.user, member=member, **form.cleaned_data)
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, "Position added.")
            return redirect("member_detail", member_id=member.pk)
    return render(
        request, "crm/position_form.html", {"form": form, "member": member}, status=400 if form.errors else 200
    )


@login_required
def position_end(request: HttpRequest, position_id: int) -> HttpResponse:
    try:
        position = selectors.positions_visible_to(request.user).get(pk=position_id)
    except Position.DoesNotExist as error:
        raise Http404("No such position.") from error
    _require(can_manage_member(request.user, position.member))
    form = EndPositionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.end_position(actor=request.user, position=position, ended_on=form.cleaned_data["ended_on"])
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, f"{position.get_kind_display()} ended.")
            return redirect("member_detail", member_id=position.member_id)
    return render(
        request,
        "crm/position_end.html",
        {"form": form, "position": position},
        status=400 if form.errors else 200,
    )


@login_required
def workplace_detail(request: HttpRequest, workplace_id: int) -> HttpResponse:
    try:
        workplace = selectors.workplaces_with_density(request.user).get(pk=workplace_id)
    except Workplace.DoesNotExist as error:
        raise Http404("No such workplace.") from error
    members = selectors.member_list_for(request.user).filter(workplace=workplace)
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "crm/workplace_detail.html",
        {
            "workplace": workplace,
            "reps": selectors.reps_at(workplace),
            "page": page,
            "can_add": can_manage_members_in(request.user, workplace.branch),
            "add_url": reverse("member_create"),
        },
    )


@login_required
def my_workplaces(request: HttpRequest) -> HttpResponse:
    _require(can_view_member_lists(request.user))
    return render(
        request,
        "crm/my_workplaces.html",
        {"workplaces": selectors.workplaces_with_density(request.user).order_by("name")},
    )
