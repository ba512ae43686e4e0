"""Event pages for organisers, stewards, reps and members. Thin: parse, call a selector or service, render."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as forms_ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from crm.errors import ServiceError
from crm.models import Branch, Member
from crm.selectors import member_detail_for, members_visible_to
from events import ical, selectors, services, tokens
from events.forms import (
    AgendaForm,
    AmendmentForm,
    CheckInForm,
    CompositeForm,
    DeadlineForm,
    DelegateRuleForm,
    EventEditForm,
    EventForm,
    MotionForm,
    NameDelegateForm,
    QuestionForm,
    RegisterMemberForm,
    RegistrationForm,
    StewardForm,
)
from events.models import Delegate, DelegateRule, Event, Motion, Registration, Steward
from events.permissions import (
    can_check_in,
    can_create_events,
    can_manage_event,
    can_register_others,
    can_view_training_gaps,
)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _event_or_404(request: HttpRequest, event_id: int) -> Event:
    try:
        return selectors.event_for(request.user, event_id)
    except Event.DoesNotExist as error:
        raise Http404("No such event.") from error


def _registration_or_404(request: HttpRequest, registration_id: int) -> Registration:
    """A registration of a member the user can see, or one for an event they run; else 404."""
    try:
        registration = Registration.objects.select_related("event__course", "member").get(pk=registration_id)
    except Registration.DoesNotExist as error:
        raise Http404("No such registration.") from error
    if can_manage_event(request.user, registration.event):
        return registration
    if registration.event.is_for_strand and registration.member_id != request.user.member_id:
        raise Http404("No such registration.")  # see selectors.strand_registrations_hidden_from
    if not members_visible_to(request.user).filter(pk=registration.member_id).exists():
        raise Http404("No such registration.")
    return registration


def _show_service_error(form, error: ServiceError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _download(body: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body.encode("utf-8"), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60] or "event"


# --- Finding and creating events --------------------------------------------------------------------------


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    kind = kind if kind in Event.Kind.values else ""
    events = list(selectors.upcoming_events_for(request.user, kind=kind)[:200])
    member = request.user.member
    if member is not None:
        mine = dict(selectors.own_registrations(member).values_list("event_id", "status"))
        standing = services.standing_of(member)  # read once for the whole list
        for event in events:
            event.my_status = mine.get(event.pk, "")
            event.why_not = "" if event.my_status else services.why_cannot_register(event, member, standing=standing)
    return render(
        request,
        "events/event_list.html",
        {
            "events": events,
            "kinds": Event.Kind.choices,
            "kind": kind,
            "can_create": can_create_events(request.user),
            "has_member": member is not None,
        },
    )


@login_required
def event_create(request: HttpRequest) -> HttpResponse:
    _require(can_create_events(request.user))
    form = EventForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        weeks = form.cleaned_data.get("repeat_weeks")
        try:
            if weeks:
                event = services.create_weekly_events(actor=request.user, details=form.details(), weeks=weeks)[0]
            else:
                event = services.create_event(actor=request.user, details=form.details())
        except ServiceError as error:
            _show_service_error(
                form, error if error.field != "weeks" else ServiceError(error.message, field="repeat_weeks")
            )
        else:
            messages.success(request, f"Created {event.title}" + (f", every week for {weeks} weeks." if weeks else "."))
            return redirect("events:event_detail", event_id=event.pk)
    return render(request, "events/event_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event_or_404(request, event_id)
    member = request.user.member
    mine = selectors.own_registrations(member).filter(event=event).first() if member else None
    why_not = services.why_cannot_register(event, member) if member and not mine else ""
    form = RegistrationForm(prefix="self")
    question_form = QuestionForm(prefix="question")
    member_form = RegisterMemberForm(prefix="other", members=members_visible_to(request.user))
    status = 200
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "self" and member is not None:
        form = RegistrationForm(request.POST, prefix="self")
        if form.is_valid():
            try:
                mine = services.register_for_event(actor=request.user, event=event, member=member, **form.cleaned_data)
            except ServiceError as error:
                _show_service_error(form, error)
            else:
                messages.success(request, _registered_message(mine, "You"))
                return redirect("portal:registration", registration_id=mine.pk)
        status = 400
    elif action == "question":
        question_form = QuestionForm(request.POST, prefix="question")
        if question_form.is_valid():
            try:
                services.ask_question(actor=request.user, event=event, text=question_form.cleaned_data["text"])
            except ServiceError as error:
                _show_service_error(question_form, error)
            else:
                messages.success(request, "Your question has been sent in.")
                return redirect("events:event_detail", event_id=event.pk)
        status = 400
    elif action == "other":
        _require(can_register_others(request.user) and not event.is_for_strand)
        member_form = RegisterMemberForm(request.POST, prefix="other", members=members_visible_to(request.user))
        if member_form.is_valid():
            data = dict(member_form.cleaned_data)
            other = data.pop("membership_number")
            try:
                registration = services.register_for_event(actor=request.user, event=event, member=other, **data)
            except ServiceError as error:
                _show_service_error(member_form, error)
            else:
                messages.success(request, _registered_message(registration, other.full_name))
                return redirect("events:event_detail", event_id=event.pk)
        status = 400
    elif request.method == "POST":
        messages.error(request, "That form was not recognised: nothing was changed.")
        status = 400
    return render(
        request,
        "events/event_detail.html",
        {
            "event": event,
            "mine": mine,
            "why_not": why_not,
            "form": form,
            "member_form": member_form,
            # Strand events are booked by members themselves (events.services.register_for_event).
            "can_register_others": can_register_others(request.user) and not event.is_for_strand,
            "can_manage": can_manage_event(request.user, event),
            "is_steward": can_check_in(request.user, event),
            "counts": services.registration_counts(event),
            "missing": services.missing_prerequisites(event.course, member) if event.course and member else [],
            "question_form": question_form,
            "my_questions": event.questions.filter(member=member) if member else [],
            "my_delegacy": event.delegates.filter(member=member).first() if member else None,
        },
        status=status,
    )


def _registered_message(registration: Registration, who: str) -> str:
    if registration.status == Registration.Status.WAITING:
        return f"The event is full: {who} {'are' if who == 'You' else 'is'} on the waiting list."
    return f"{who} {'have' if who == 'You' else 'has'} a place at {registration.event.title}."


@login_required
def event_ics(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event_or_404(request, event_id)
    body = ical.calendar([event], name=event.title)
    return _download(body, "text/calendar; charset=utf-8", f"{_slug(event.title)}.ics")


# --- Registrations ----------------------------------------------------------------------------------------


@login_required
def registration_detail(request: HttpRequest, registration_id: int) -> HttpResponse:
    """Someone else's registration, for the reps and organisers who may see it. A member's own registration
    (QR code, calendar, cancel) is in the member portal: one page for it, so this one sends them there."""
    registration = _registration_or_404(request, registration_id)
    if registration.member_id == request.user.member_id:
        return redirect("portal:registration", registration_id=registration.pk)
    can_manage = can_manage_event(request.user, registration.event)
    is_registered = registration.status == Registration.Status.REGISTERED
    return render(
        request,
        "events/registration_detail.html",
        {
            "registration": registration,
            "event": registration.event,
            # Access needs and the check-in code: the event's organisers; never a rep's view.
            "show_access_needs": can_manage,
            "code": tokens.checkin_code(registration) if can_manage and is_registered else "",
        },
    )


@login_required
@require_POST
def registration_cancel(request: HttpRequest, registration_id: int) -> HttpResponse:
    registration = _registration_or_404(request, registration_id)
    try:
        services.cancel_registration(actor=request.user, registration=registration)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Cancelled {registration.member.full_name}'s registration.")
    if can_manage_event(request.user, registration.event) and request.POST.get("next") == "manage":
        return redirect("events:event_manage", event_id=registration.event_id)
    return redirect("events:event_detail", event_id=registration.event_id)


def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A member's events as an iCalendar feed, for calendar apps, which cannot sign in: the signed token in
    the address is the key. Only the events they hold a place at, nothing else about them."""
    try:
        member = Member.objects.get(pk=tokens.member_id_from_calendar_token(token))
    except (tokens.BadToken, Member.DoesNotExist) as error:
        raise Http404("No such calendar.") from error
    body = ical.calendar(selectors.calendar_events_of(member), name="Union events")
    return HttpResponse(body.encode("utf-8"), content_type="text/calendar; charset=utf-8")


# --- Running an event -------------------------------------------------------------------------------------


@login_required
def event_manage(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event_or_404(request, event_id)
    _require(can_manage_event(request.user, event))
    steward_form = StewardForm(request.POST or None)
    if request.method == "POST" and steward_form.is_valid():
        try:
            steward = services.name_steward(actor=request.user, event=event, **steward_form.cleaned_data)
        except ServiceError as error:
            _show_service_error(steward_form, error)
        else:
            messages.success(request, f"{steward.user.get_username()} can now check people in at {event.title}.")
            return redirect("events:event_manage", event_id=event.pk)
    registrations = list(selectors.registrations_of_event(request.user, event))
    # Showing a strand event's list is a read of each registrant's equalities answer: logged, like crm's.
    services.log_strand_list_read(
        reader=request.user, event=event, member_ids=[r.member_id for r in registrations], via="page"
    )
    return render(
        request,
        "events/event_manage.html",
        {
            "event": event,
            "registrations": registrations,
            "stewards": event.stewards.select_related("user"),
            "steward_form": steward_form,
            "counts": services.registration_counts(event),
            "attendance": services.attendance_counts(event),
            "questions": event.questions.select_related("member"),
        },
        status=400 if steward_form.errors else 200,
    )


@login_required
@require_POST
def steward_remove(request: HttpRequest, event_id: int, steward_id: int) -> HttpResponse:
    event = _event_or_404(request, event_id)
    _require(can_manage_event(request.user, event))
    try:
        steward = event.stewards.select_related("user").get(pk=steward_id)
    except Steward.DoesNotExist as error:
        raise Http404("No such steward.") from error
    services.remove_steward(actor=request.user, steward=steward)
    messages.success(request, f"{steward.user.get_username()} is no longer a steward here.")
    return redirect("events:event_manage", event_id=event.pk)


@login_required
def event_edit(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event_or_404(request, event_id)
    _require(can_manage_event(request.user, event))
    form = EventEditForm(request.POST or None, event=event)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_event(actor=request.user, event=event, changes=form.cleaned_data)
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            messages.success(request, f"Saved the changes to {event.title}.")
            return redirect("events:event_manage", event_id=event.pk)
    return render(request, "events/event_edit.html", {"event": event, "form": form}, status=400 if form.errors else 200)


@login_required
def event_export(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event_or_404(request, event_id)
    _require(can_manage_event(request.user, event))
    body = services.export_registrations(actor=request.user, event=event)
    return _download(body, "text/csv; charset=utf-8", f"{_slug(event.title)}-registrations.csv")


@login_required
def event_check_in(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event_or_404(request, event_id)
    _require(can_check_in(request.user, event))  # organisers, and this event's stewards
    form = CheckInForm(request.POST or None)
    checked = delegate = None
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        try:
            if event.kind == Event.Kind.CONFERENCE and tokens.is_delegate_code(code):
                delegate = services.check_delegate_credential(actor=request.user, event=event, code=code)
            else:
                checked = services.check_in(actor=request.user, event=event, code=code)
        except ServiceError as error:
            _show_service_error(form, error)
        else:
            form = CheckInForm()  # empty and focused, ready for the next person
    return render(
        request,
        "events/check_in.html",
        {
            "event": event,
            "form": form,
            "checked": checked,
            "delegate": delegate,
            "attendance": services.attendance_counts(event),
            "can_manage": can_manage_event(request.user, event),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def event_cancel(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event_or_404(request, event_id)
    _require(can_manage_event(request.user, event))
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm that the event is called off.")
        return redirect("events:event_manage", event_id=event.pk)
    try:
        services.cancel_event(actor=request.user, event=event)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{event.title} is cancelled; everyone registered or waiting is being told.")
    return redirect("events:event_manage", event_id=event.pk)


@login_required
@require_POST
def event_award(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event_or_404(request, event_id)
    _require(can_manage_event(request.user, event))
    try:
        awarded = services.award_certifications(actor=request.user, event_id=event.pk)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{awarded} certification{'s' if awarded != 1 else ''} recorded.")
    return redirect("events:event_manage", event_id=event.pk)


# --- Training ---------------------------------------------------------------------------------------------


@login_required
def course_list(request: HttpRequest) -> HttpResponse:
    member = request.user.member
    held = set(member.certifications.values_list("course_id", flat=True)) if member else set()
    courses = list(selectors.courses_with_sessions(request.user))
    sessions = selectors.upcoming_events_for(request.user, kind=Event.Kind.TRAINING)
    by_course: dict[int, list[Event]] = {}
    for session in sessions:
        by_course.setdefault(session.course_id, []).append(session)
    for course in courses:
        course.sessions_ahead = by_course.get(course.pk, [])
        course.is_held = course.pk in held
        course.missing = [p for p in course.prerequisites.all() if p.pk not in held] if member else []
    return render(request, "events/course_list.html", {"courses": courses, "has_member": member is not None})


@login_required
def training_record(request: HttpRequest, member_id: int) -> HttpResponse:
    """A member's training record, for whoever may see the member. A member's own record is in the member
    portal (portal:training), so this page sends them there."""
    try:
        member = member_detail_for(request.user, member_id)
    except Member.DoesNotExist as error:
        raise Http404("No such member.") from error
    if member.pk == request.user.member_id:
        return redirect("portal:training")
    return render(
        request,
        "events/training_record.html",
        {
            "member": member,
            "certifications": selectors.certifications_of(member),
            "training_status": selectors.training_status_of(member),
            "bookings": selectors.own_registrations(member)
            .filter(event__course__isnull=False)
            .exclude(selectors.strand_registrations_hidden_from(request.user)),
            "attendance": selectors.attendance_of(member, viewer=request.user),
        },
    )


@login_required
def training_gaps(request: HttpRequest) -> HttpResponse:
    _require(can_view_training_gaps(request.user))
    return render(request, "events/training_gaps.html", {"report": selectors.training_gaps_for(request.user)})


# --- Conferences ------------------------------------------------------------------------------------------


@login_required
def conference_delegates(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event_or_404(request, event_id)
    if event.kind != Event.Kind.CONFERENCE:
        raise Http404("Only conferences have delegates.")
    can_manage = can_manage_event(request.user, event)
    rule = DelegateRule.objects.filter(event=event).first()
    initial = (
        {"members_per_delegate": rule.members_per_delegate, "minimum_per_branch": rule.minimum_per_branch}
        if rule
        else None
    )
    allocations = list(event.delegate_allocations.select_related("branch__region"))
    naming_for = [a.branch.pk for a in allocations if services.can_name_delegates_for(request.user, a.branch)]
    form = DelegateRuleForm(initial=initial)
    name_form = NameDelegateForm(branches=Branch.objects.filter(pk__in=naming_for), prefix="delegate")
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "allocate":
        _require(can_manage)
        form = DelegateRuleForm(request.POST)
        if form.is_valid():
            try:
                services.allocate_delegates(actor=request.user, event=event, **form.cleaned_data)
            except ServiceError as error:
                _show_service_error(form, error)
            else:
                messages.success(request, "Delegates allocated.")
                return redirect("events:conference_delegates", event_id=event.pk)
    elif action == "name":
        _require(bool(naming_for))
        name_form = NameDelegateForm(request.POST, branches=Branch.objects.filter(pk__in=naming_for), prefix="delegate")
        if name_form.is_valid():
            try:
                delegate = services.name_delegate(actor=request.user, event=event, **name_form.cleaned_data)
            except ServiceError as error:
                _show_service_error(name_form, error)
            else:
                messages.success(request, f"{delegate.member.full_name} is a delegate for {delegate.branch}.")
                return redirect("events:conference_delegates", event_id=event.pk)
    elif request.method == "POST":
        messages.error(request, "That form was not recognised: nothing was changed.")
    named: dict[int, list] = {}
    for delegate in event.delegates.select_related("member"):
        named.setdefault(delegate.branch_id, []).append(delegate)
    most = max((a.delegates for a in allocations), default=0)
    for allocation in allocations:
        allocation.percent = round(100 * allocation.delegates / most) if most else 0
        allocation.named = named.get(allocation.branch_id, [])
        # Names for the conference's organisers and the branch's own officers; a count for everyone else.
        allocation.show_names = can_manage or allocation.branch_id in naming_for
    errors = form.errors or name_form.errors or (request.method == "POST" and action not in ("allocate", "name"))
    return render(
        request,
        "events/conference_delegates.html",
        {
            "event": event,
            "rule": rule,
            "allocations": allocations,
            "total": sum(a.delegates for a in allocations),
            "form": form,
            "name_form": name_form,
            "can_manage": can_manage,
            "can_name": bool(naming_for),
        },
        status=400 if errors else 200,
    )


@login_required
def delegate_credential(request: HttpRequest, delegate_id: int) -> HttpResponse:
    """A delegate's own credential (QR code and text), to show at the conference."""
    try:
        delegate = Delegate.objects.select_related("event", "branch", "member").get(
            pk=delegate_id, member_id=request.user.member_id
        )
    except Delegate.DoesNotExist as error:
        raise Http404("No such credential.") from error
    code = tokens.delegate_code(delegate)
    return render(
        request,
        "events/delegate_credential.html",
        {"delegate": delegate, "event": delegate.event, "code": code, "qr": mark_safe(tokens.qr_svg(code))},  # noqa: S308
    )


@login_required
def conference_motions(request: HttpRequest, event_id: int) -> HttpResponse:
    """Motions to a conference: branches submit and amend before the deadline; its organisers set the
    deadline, composite motions and order the agenda. Every signed-in member may read them."""
    event = _event_or_404(request, event_id)
    if event.kind != Event.Kind.CONFERENCE:
        raise Http404("Only conferences have motions.")
    can_manage = can_manage_event(request.user, event)
    branches = services.branches_acting_for(request.user, event)
    live = event.motions.filter(status=Motion.Status.SUBMITTED).select_related("branch")
    forms_ = {
        "motion": MotionForm(prefix="motion", branches=branches),
        "amendment": AmendmentForm(prefix="amendment", branches=branches, motions=live),
        "deadline": DeadlineForm(
            prefix="deadline",
            initial={"closes_at": event.motions_close_at, "amendments_close_at": event.amendments_close_at},
        ),
        "composite": CompositeForm(prefix="composite", motions=live),
        "agenda": AgendaForm(prefix="agenda", motions=live),
    }
    action = request.POST.get("action") if request.method == "POST" else None
    if action in forms_:
        _require(can_manage if action in ("deadline", "composite", "agenda") else branches.exists())
        kwargs = {
            "motion": {"branches": branches},
            "amendment": {"branches": branches, "motions": live},
            "composite": {"motions": live},
            "agenda": {"motions": live},
            "deadline": {},
        }[action]
        form = forms_[action] = type(forms_[action])(request.POST, prefix=action, **kwargs)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if action == "motion":
                    services.submit_motion(actor=request.user, event=event, **data)
                elif action == "amendment":
                    services.submit_amendment(actor=request.user, **data)
                elif action == "deadline":
                    services.set_motions_deadline(actor=request.user, event=event, **data)
                elif action == "composite":
                    services.composite_motions(
                        actor=request.user,
                        event=event,
                        motion_ids=[m.pk for m in data["motions"]],
                        title=data["title"],
                        text=data["text"],
                    )
                else:
                    services.set_agenda(actor=request.user, event=event, motion_ids=form.ordered_ids())
            except (ServiceError, forms_ValidationError) as error:
                _show_service_error(form, error if isinstance(error, ServiceError) else ServiceError(error.messages[0]))
            else:
                messages.success(request, "Saved.")
                return redirect("events:conference_motions", event_id=event.pk)
    elif request.method == "POST":
        messages.error(request, "That form was not recognised: nothing was changed.")
    motions = event.motions.select_related("branch", "composite").prefetch_related(
        "amendments__branch", "parts__branch"
    )
    return render(
        request,
        "events/conference_motions.html",
        {
            "event": event,
            "agenda": [m for m in motions if m.status == Motion.Status.SUBMITTED],
            "composited": [m for m in motions if m.status == Motion.Status.COMPOSITED],
            "forms": forms_,
            "can_manage": can_manage,
            "can_submit": branches.exists(),
            "is_open": bool(event.motions_close_at and timezone.now() < event.motions_close_at),
            "amendments_open": bool(event.amendments_deadline and timezone.now() < event.amendments_deadline),
        },
        status=400 if request.method == "POST" else 200,
    )
