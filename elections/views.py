"""Count pages: upload, results as councils publish them, downloads, recount and certification. Thin."""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from crm.errors import ServiceError
from elections import selectors, services
from elections.counting.report import stage_table, svg_chart, to_csv
from elections.forms import CountUploadForm
from elections.models import Count
from elections.permissions import can_run_counts, can_view_results


def _count_or_404(request: HttpRequest, count_id: int) -> Count:
    try:
        return selectors.count_for(request.user, count_id)
    except Count.DoesNotExist as error:
        raise Http404("No such count.") from error


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _filename(count: Count, extension: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", count.title).strip("-").lower()[:60] or "count"
    return f"{slug}-{count.pk}.{extension}"


def _download(body: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body.encode("utf-8"), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _result_context(count: Count) -> dict[str, Any]:
    result = json.loads(count.result_json)
    return {
        "count": count,
        "result": result,
        "table": stage_table(result),
        "chart": mark_safe(svg_chart(result)),  # noqa: S308 - built by report.svg_chart, every text escaped
    }


@login_required
def count_list(request: HttpRequest) -> HttpResponse:
    _require(can_view_results(request.user))
    return render(
        request,
        "elections/count_list.html",
        {"counts": selectors.counts_for(request.user), "can_run": can_run_counts(request.user)},
    )


@login_required
def count_create(request: HttpRequest) -> HttpResponse:
    _require(can_run_counts(request.user))
    form = CountUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            count = services.count_from_blt(
                actor=request.user,
                title=data["title"],
                blt_text=data["blt_file"],
                method=data["method"],
                rule=data["rule"],
                seats=data["seats"],
                seed=data["seed"],
                reserved_seats=data["reserved_seats"] or 0,
                reserved_group=data["reserved_group"],
                reserved_label=data["reserved_label"],
            )
        except ServiceError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, f"Counted “{count.title}”. Check the stages, then recount and certify.")
            return redirect("elections:count_detail", count_id=count.pk)
    return render(request, "elections/count_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def count_detail(request: HttpRequest, count_id: int) -> HttpResponse:
    count = _count_or_404(request, count_id)
    context = _result_context(count)
    context.update(
        {
            "can_run": can_run_counts(request.user),
            "last_recount": selectors.recounts_of(count).first(),
        }
    )
    return render(request, "elections/count_detail.html", context)


@login_required
def count_print(request: HttpRequest, count_id: int) -> HttpResponse:
    count = _count_or_404(request, count_id)
    return render(request, "elections/count_print.html", _result_context(count))


@login_required
def count_json(request: HttpRequest, count_id: int) -> HttpResponse:
    count = _count_or_404(request, count_id)
    return _download(count.result_json, "application/json; charset=utf-8", _filename(count, "json"))


@login_required
def count_csv(request: HttpRequest, count_id: int) -> HttpResponse:
    count = _count_or_404(request, count_id)
    return _download(to_csv(json.loads(count.result_json)), "text/csv; charset=utf-8", _filename(count, "csv"))


@login_required
def count_blt(request: HttpRequest, count_id: int) -> HttpResponse:
    count = _count_or_404(request, count_id)
    response = _download(count.blt_text, "text/plain; charset=utf-8", _filename(count, "blt"))
    response["X-Content-SHA256"] = count.blt_sha256
    return response


@login_required
def count_recount(request: HttpRequest, count_id: int) -> HttpResponse:
    count = _count_or_404(request, count_id)
    if request.method == "POST":
        _require(can_run_counts(request.user))
        outcome = services.recount(count, actor=request.user)
        if outcome.is_identical:
            messages.success(request, "Recounted from the published ballots: the result is identical, byte for byte.")
        else:
            messages.error(request, "Recounted from the published ballots: the result is DIFFERENT.")
        return redirect("elections:count_recount", count_id=count.pk)
    return render(
        request,
        "elections/count_recount.html",
        {"count": count, "recounts": selectors.recounts_of(count), "can_run": can_run_counts(request.user)},
    )


@login_required
@require_POST
def count_certify(request: HttpRequest, count_id: int) -> HttpResponse:
    count = _count_or_404(request, count_id)
    _require(can_run_counts(request.user))
    try:
        services.certify_count(actor=request.user, count=count)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Certified: a recount from the published ballots reproduced the result exactly.")
    return redirect("elections:count_detail", count_id=count.pk)
