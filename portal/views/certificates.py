"""Certificates: a printable certificate for each course on the member's own training record, and the public
page where anyone (an employer, an organiser) checks a certificate's verification code. The check answers only
which course, when, and the holder's first name and initial: enough to match the paper in front of them, no
more. A forged, malformed or unknown code gets one and the same answer."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from crm.models import Member
from events import selectors as event_selectors
from events import tokens
from events.models import Certification, Event
from portal.access import member_required
from portal.forms import CertificateCheckForm


@member_required
@require_GET
def certificate(request: HttpRequest, member: Member, certification_id: int) -> HttpResponse:
    try:
        certification = event_selectors.own_certification(member, certification_id)
    except Certification.DoesNotExist as error:
        raise Http404("No such certificate.") from error
    awarded_by = certification.awarded_by
    session = certification.session
    # A certificate is made to be shown to others: a strand event's title would say how the member
    # self-identifies (special-category data), so such a session is left off the paper.
    if session is not None and session.audience == Event.Audience.STRAND:
        session = None
    return render(
        request,
        "portal/certificate.html",
        {
            "member": member,
            "certification": certification,
            "session": session,
            "awarded_by_name": awarded_by.get_full_name() if awarded_by else "",
            "union_name": settings.QUORUM_UNION_NAME,
            "code": tokens.certificate_code(certification),
            "check_url": request.build_absolute_uri(reverse("certificates:check")),
        },
    )


@require_GET
def certificate_check(request: HttpRequest) -> HttpResponse:
    """Public: no sign-in. A GET form, so a check can be bookmarked or linked, and nothing is stored."""
    form = CertificateCheckForm(request.GET if "code" in request.GET else None)
    checked = form.is_bound and form.is_valid()
    certification = event_selectors.certification_for_code(form.cleaned_data["code"]) if checked else None
    holder = ""
    if certification is not None:
        holder = f"{certification.member.first_name} {certification.member.last_name[:1]}".strip()
    return render(
        request,
        "portal/certificate_check.html",
        {
            "form": form,
            "checked": checked,
            "certification": certification,
            "holder": holder,
            "union_name": settings.QUORUM_UNION_NAME,
        },
        status=400 if form.errors else 200,
    )
