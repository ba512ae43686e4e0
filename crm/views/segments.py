"""Pages for tags and segments: tag one member, tag a whole filtered list, save and manage segments."""

from __future__ import annotations

from urllib.parse import urlencode

from celery.result import AsyncResult
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from crm import tasks
from crm.errors import NotPermitted, ServiceError
from crm.models import Segment
from crm.selectors.segments import can_use_segment, members_matching, scope_key, segments_for
from crm.services import segments as services
from crm.views import _member_or_404, _require, _show_service_error

ACTIONS = [("add", "Add the tag"), ("remove", "Remove the tag")]


def _filters_from_query(query: str) -> dict[str, list[str]]:
    data = QueryDict(query or "")
    return {name: data.getlist(name) for name in data if name not in services.NOT_FILTERS}


def member_list_url(filters: dict) -> str:
    return reverse("member_list") + ("?" + urlencode(filters, doseq=True) if filters else "")


class TagForm(forms.Form):
    tag = forms.CharField(label="Tag", max_length=services.TAG_NAME_MAX_LENGTH)
    action = forms.ChoiceField(label="Action", choices=ACTIONS, initial="add")


class BulkTagForm(TagForm):
    query = forms.CharField(widget=forms.HiddenInput, required=False, max_length=4000)


@login_required
@require_POST
def member_tag(request: HttpRequest, member_id: int) -> HttpResponse:
    """Add or remove one tag on one member (from the member page)."""
    member = _member_or_404(request.user, member_id)
    form = TagForm(request.POST)
    if form.is_valid():
        try:
            changed = services.tag_member(
                actor=request.user,
                member=member,
                tag_name=form.cleaned_data["tag"],
                remove=form.cleaned_data["action"] == "remove",
            )
        except NotPermitted as error:
            raise PermissionDenied(error.message) from error
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, "Tags saved." if changed else "Nothing to change.")
            return redirect("member_detail", member_id=member.pk)
    return render(request, "crm/segments/member_tag.html", {"form": form, "member": member}, status=400)


@login_required
def bulk_tag(request: HttpRequest) -> HttpResponse:
    """Tag (or untag) every member matching the member list's filters. GET shows how many; POST does it."""
    _require(services.can_tag_members(request.user))
    if request.method == "POST":
        form = BulkTagForm(request.POST)
    else:
        form = BulkTagForm(initial={"query": request.GET.urlencode(), "action": "add"})
    query = form.data.get("query", "") if form.is_bound else request.GET.urlencode()
    filters = _filters_from_query(query)
    count, filter_error = None, ""
    try:
        count = members_matching(request.user, filters).count()
    except ServiceError as error:
        filter_error = error.message
    if request.method == "POST" and form.is_valid() and not filter_error:
        remove = form.cleaned_data["action"] == "remove"
        if count is not None and count > BULK_TAG_IN_BACKGROUND and not settings.CELERY_TASK_ALWAYS_EAGER:
            return _start_bulk_tag_job(request, filters, form.cleaned_data["tag"], remove, count)
        try:
            changed = services.bulk_tag_members(
                actor=request.user, filters=filters, tag_name=form.cleaned_data["tag"], remove=remove
            )
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            tag = form.cleaned_data["tag"].strip()
            messages.success(
                request,
                f"Removed the tag “{tag}” from {changed:,} members."
                if remove
                else f"Tagged {changed:,} members with “{tag}” (members who had it already are not counted).",
            )
            return redirect(member_list_url(filters))
    return render(
        request,
        "crm/segments/bulk_tag.html",
        {"form": form, "count": count, "filter_error": filter_error, "back_url": member_list_url(filters)},
        status=400 if request.method == "POST" or filter_error else 200,
    )


# Lists longer than this are tagged by a Celery task, with a page that shows its progress.
BULK_TAG_IN_BACKGROUND = 20_000
SESSION_JOBS = "bulk_tag_jobs"


def _start_bulk_tag_job(request: HttpRequest, filters: dict, tag: str, remove: bool, count: int) -> HttpResponse:
    result = tasks.bulk_tag_members.delay(request.user.pk, filters, tag, remove)
    jobs = request.session.get(SESSION_JOBS, {})
    jobs = dict(list(jobs.items())[-9:])  # the user's last few jobs are enough to look back at
    jobs[result.id] = {"tag": tag, "remove": remove, "count": count, "back": member_list_url(filters)}
    request.session[SESSION_JOBS] = jobs
    return redirect("bulk_tag_job", job_id=result.id)


@login_required
def bulk_tag_job(request: HttpRequest, job_id: str) -> HttpResponse:
    """The progress of a background bulk tag started by this user (in this session); 404 for any other."""
    job = request.session.get(SESSION_JOBS, {}).get(job_id)
    if job is None:
        raise Http404("No such job.")
    result = AsyncResult(job_id)
    done = total = 0
    error = ""
    if result.state == "PROGRESS" and isinstance(result.info, dict):
        done, total = int(result.info.get("done", 0)), int(result.info.get("total", 0))
    elif result.state == "FAILURE":
        error = (
            result.result.message if isinstance(result.result, ServiceError) else "The job failed; nothing was tagged."
        )
    finished = result.state in ("SUCCESS", "FAILURE")
    return render(
        request,
        "crm/segments/bulk_tag_job.html",
        {
            "job": job,
            "state": result.state,
            "finished": finished,
            "changed": result.result if result.state == "SUCCESS" else None,
            "percent": round(100 * done / total) if total else (100 if finished else 0),
            "error": error,
        },
    )


class SegmentForm(forms.Form):
    name = forms.CharField(label="Name", max_length=services.SEGMENT_NAME_MAX_LENGTH)
    is_shared = forms.BooleanField(
        label="Share with every colleague who works in exactly the same area as me", required=False
    )
    shared_with = forms.CharField(
        label="Or share with these colleagues",
        required=False,
        max_length=1000,
        help_text="Usernames, separated by commas. Each must work in exactly the same area as you.",
    )

    def usernames(self) -> list[str]:
        return [n.strip() for n in self.cleaned_data.get("shared_with", "").split(",") if n.strip()]


class NewSegmentForm(SegmentForm):
    query = forms.CharField(widget=forms.HiddenInput, required=False, max_length=4000)


@login_required
def segment_list(request: HttpRequest) -> HttpResponse:
    _require(scope_key(request.user) is not None)
    mine, shared = segments_for(request.user)
    return render(
        request,
        "crm/segments/segment_list.html",
        {
            "mine": [(s, member_list_url(s.filters)) for s in mine],
            "shared": [(s, member_list_url(s.filters)) for s in shared],
        },
    )


@login_required
def segment_create(request: HttpRequest) -> HttpResponse:
    """Save the member list's filters (sent as `query`) as a segment."""
    _require(scope_key(request.user) is not None)
    form = NewSegmentForm(request.POST or None, initial={"query": request.GET.urlencode()})
    if request.method == "POST" and form.is_valid():
        try:
            segment = services.save_segment(
                actor=request.user,
                name=form.cleaned_data["name"],
                filters=_filters_from_query(form.cleaned_data["query"]),
                is_shared=form.cleaned_data["is_shared"],
                shared_with=form.usernames(),
            )
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, f"Saved the segment “{segment.name}”.")
            return redirect("segment_list")
    return render(
        request, "crm/segments/segment_form.html", {"form": form, "segment": None}, status=400 if form.errors else 200
    )


def _usable_segment_or_404(request: HttpRequest, segment_id: int) -> Segment:
    segment = Segment.objects.select_related("owner").filter(pk=segment_id).first()
    if segment is None or not can_use_segment(request.user, segment):
        raise Http404("No such segment.")
    return segment


@login_required
def segment_edit(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _usable_segment_or_404(request, segment_id)
    _require(segment.owner_id == request.user.pk)
    initial = {
        "name": segment.name,
        "is_shared": segment.is_shared,
        "shared_with": ", ".join(u.get_username() for u in segment.shared_with.order_by("username")),
    }
    form = SegmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_segment(
                actor=request.user,
                segment=segment,
                name=form.cleaned_data["name"],
                is_shared=form.cleaned_data["is_shared"],
                shared_with=form.usernames(),
            )
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, "Segment saved.")
            return redirect("segment_list")
    return render(
        request,
        "crm/segments/segment_form.html",
        {"form": form, "segment": segment},
        status=400 if form.errors else 200,
    )


@login_required
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _usable_segment_or_404(request, segment_id)
    _require(segment.owner_id == request.user.pk)
    if request.method == "POST":
        services.delete_segment(actor=request.user, segment=segment)
        messages.success(request, f"Deleted the segment “{segment.name}”.")
        return redirect("segment_list")
    return render(request, "crm/segments/segment_delete.html", {"segment": segment})
