"""Pages for importing members or workplaces from CSV and exporting member lists. Thin: parse, call a service,
render. The kind of import picks its services (crm.services.import_kinds); the pages are the same for both."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from crm import selectors
from crm.errors import ServiceError
from crm.filters import MemberFilter
from crm.models import ImportJob, ImportRow, ImportSource, User
from crm.permissions import can_export_members, can_import_members
from crm.selectors import imports as import_selectors
from crm.selectors import workplace_imports as workplace_import_selectors
from crm.services import import_kinds
from crm.services import imports as import_services
from crm.services import workplace_imports as workplace_import_services

REPORT_PAGE_SIZE = 100
PROGRESS_REFRESH_SECONDS = 2


class UploadForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the file lists",
        choices=[
            (ImportJob.Kind.MEMBERS, "Members (a staff list, an old membership system's export, new joiners)"),
            (ImportJob.Kind.WORKPLACES, "Workplaces (schools and colleges, with their branch)"),
        ],
        initial=ImportJob.Kind.MEMBERS,
        required=False,  # members, as before there was a choice
        widget=forms.RadioSelect,
    )
    source = forms.CharField(
        label="Where the file comes from",
        max_length=100,
        widget=forms.TextInput(attrs={"list": "import-sources"}),
        help_text="For example 'Leeds City Council staff list'. The columns you choose are remembered for next time.",
    )
    file = forms.FileField(
        label="CSV file",
        help_text=f"Up to {import_services.MAX_FILE_BYTES // 1024 // 1024} MB and "
        f"{import_services.MAX_ROWS:,} rows, with a heading row.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv"}),
    )


class MappingForm(forms.Form):
    """One choice per column of the file: which member field it holds, or none."""

    def __init__(self, *args, job: ImportJob, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        labels = import_kinds.services_for(job.kind).FIELD_LABELS
        choices = [("", "Ignore this column"), *labels.items()]
        example = import_services.first_row(job)
        for index, heading in enumerate(job.headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=heading,
                choices=choices,
                required=False,
                initial=job.mapping.get(heading, ""),
                help_text=f"First row: {example[heading][:60]}" if example.get(heading) else "First row: (blank)",
            )

    def mapping(self) -> dict[str, str]:
        return {heading: self.cleaned_data.get(f"column_{i}", "") for i, heading in enumerate(self.job.headers)}


def _job_or_404(user: User, job_id: int, *, with_file: bool = False) -> ImportJob:
    if not can_import_members(user):
        raise PermissionDenied
    jobs = import_selectors.import_jobs_for(user)
    try:
        return (jobs.defer(None) if with_file else jobs).get(pk=job_id)
    except ImportJob.DoesNotExist as error:
        raise Http404("No such import.") from error


@login_required
def import_list(request: HttpRequest) -> HttpResponse:
    if not can_import_members(request.user):
        raise PermissionDenied
    jobs = Paginator(import_selectors.import_jobs_for(request.user), 25).get_page(request.GET.get("page"))
    return render(request, "crm/imports/list.html", {"page": jobs})


@login_required
def import_new(request: HttpRequest) -> HttpResponse:
    if not can_import_members(request.user):
        raise PermissionDenied
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            services = import_kinds.services_for(form.cleaned_data["kind"] or ImportJob.Kind.MEMBERS)
            job = services.start_import(
                actor=request.user, source_name=form.cleaned_data["source"], filename=upload.name, upload=upload
            )
        except ServiceError as error:
            form.add_error(error.field if error.field in form.fields else "file", error.message)
        else:
            return redirect("import_mapping", job_id=job.pk)
    sources = ImportSource.objects.order_by("name").values_list("name", flat=True)
    return render(
        request, "crm/imports/new.html", {"form": form, "sources": sources}, status=400 if form.errors else 200
    )


@login_required
def import_mapping(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_or_404(request.user, job_id, with_file=True)
    if job.is_committed:
        return redirect("import_detail", job_id=job.pk)
    form = MappingForm(request.POST or None, job=job)
    if request.method == "POST" and form.is_valid():
        try:
            import_kinds.services_for(job.kind).check_import(actor=request.user, job=job, mapping=form.mapping())
        except ServiceError as error:
            form.add_error(None, error.message)
        else:
            return redirect("import_detail", job_id=job.pk)
    return render(request, "crm/imports/mapping.html", {"form": form, "job": job}, status=400 if form.errors else 200)


@login_required
def import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_or_404(request.user, job_id)
    outcome = request.GET.get("outcome", "")
    if outcome not in ImportRow.Outcome.values:
        outcome = ""
    report = Paginator(import_selectors.import_report(job, outcome or None), REPORT_PAGE_SIZE)
    labels = dict(ImportRow.Outcome.choices)
    if job.kind == ImportJob.Kind.WORKPLACES:
        labels = workplace_import_services.OUTCOME_LABELS
    counts = [(value, label, getattr(job, import_services.COUNTERS[value])) for value, label in labels.items()]
    page = report.get_page(request.GET.get("page"))
    for row in page:
        row.outcome_label = labels.get(row.outcome, row.outcome)
    biggest = max([n for _v, _l, n in counts] + [1])
    return render(
        request,
        "crm/imports/detail.html",
        {
            "job": job,
            "page": page,
            "outcome": outcome,
            "counts": [(value, label, n, round(100 * n / biggest)) for value, label, n in counts],
            "refresh_seconds": PROGRESS_REFRESH_SECONDS if job.is_in_progress else None,
            "query": f"outcome={outcome}" if outcome else "",
        },
    )


@require_POST
@login_required
def import_confirm(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_or_404(request.user, job_id)
    try:
        import_kinds.services_for(job.kind).confirm_import(actor=request.user, job=job)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Import confirmed: the valid rows are being imported.")
    return redirect("import_detail", job_id=job.pk)


@login_required
def import_report_csv(request: HttpRequest, job_id: int) -> StreamingHttpResponse:
    job = _job_or_404(request.user, job_id)
    lines = workplace_import_selectors.report_lines_for(job)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    return response


def filters_used(member_filter: MemberFilter) -> dict[str, str]:
    """The filters an export was made with, as given (already checked by the FilterSet), for the audit trail."""
    return {name: str(member_filter.data.get(name)) for name in member_filter.filters if member_filter.data.get(name)}


def export_response(user: User, member_filter: MemberFilter) -> StreamingHttpResponse:
    """Audit the export of a filtered member list, then stream it as CSV (also used by the API)."""
    members = member_filter.qs
    import_services.record_member_export(actor=user, filters=filters_used(member_filter), rows=members.count())
    response = StreamingHttpResponse(
        import_selectors.member_export_lines(members), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y-%m-%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="members-{stamp}.csv"'
    return response


@login_required
def member_export(request: HttpRequest) -> HttpResponse:
    if not can_export_members(request.user):
        raise PermissionDenied
    member_filter = MemberFilter(request.GET, queryset=selectors.member_list_for(request.user), request=request)
    if not member_filter.is_valid():
        errors = "; ".join(f"{name}: {' '.join(e)}" for name, e in member_filter.errors.items())
        return HttpResponse(f"These filters cannot be used: {errors}", status=400, content_type="text/plain")
    return export_response(request.user, member_filter)
