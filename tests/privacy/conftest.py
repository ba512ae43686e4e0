"""A member with a record in every table that can hold one: Owen Oakley (member_oak), who has left the union.

Rows are made directly, not through the services: these tests are about what is held and what erasure
leaves, and each service has its own tests. Owen's personal data is distinctive ("Owen", "Oakley", his email
and mobile), so a search of the whole database can show that erasure left none of it behind.
"""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from axes.models import AccessLog
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from crm.models import (
    Assessment,
    AuditEntry,
    ClosureRequest,
    Conversation,
    DuesAccount,
    DuesPayment,
    EqualitiesAccess,
    EqualitiesAnswers,
    ImportJob,
    ImportRow,
    ImportSource,
    InboundText,
    Member,
    Message,
    MessageAttachment,
    Position,
    SecurityEvent,
    StripeEvent,
    Tag,
)
from crm.services import record_audit, take_membership_snapshot
from elections.models import Candidate, Election, Nomination, RollEntry, VoterRoll
from events.models import CallQuestion, Certification, Course, Delegate, Event, Registration, Steward

OWEN_MOBILE = "+447700900555"


def _election(title: str, status: str, union) -> Election:
    now = timezone.now()
    return Election.objects.create(
        title=title,
        kind=Election.Kind.SEAT,
        method="fptp",
        voting_opens_at=now - datetime.timedelta(days=10),
        voting_closes_at=now - datetime.timedelta(days=3),
        seed="seed",
        status=status,
    )


@pytest.fixture
def owen(union):
    """Owen, resigned, with a row in every table about members; returns the rows by kind."""
    member = union.members.oak
    user = union.users.member_oak
    Member.objects.filter(pk=member.pk).update(
        status=Member.Status.RESIGNED,
        mobile=OWEN_MOBILE,
        address_line1="12 Owenfield Road",
        town="Leeds",
        postcode="LS1 4OW",
        notes="Owen Oakley prefers calls after school",
        sms_consent=True,
        sms_consent_source="join_form",
    )
    member.refresh_from_db()
    member.tags.add(Tag.objects.create(name="strike committee"))
    user.email = member.email
    user.first_name, user.last_name = "Owen", "Oakley"
    user.save()
    now = timezone.now()
    rep, national = union.users.rep_oak, union.users.national

    rows = SimpleNamespace(member=member, user=user)
    rows.position = Position.objects.create(
        member=member, kind=Position.Kind.LEARNING_REP, workplace=union.workplaces.oak,
        started_on=datetime.date(2021, 1, 1), ended_on=datetime.date(2022, 1, 1),
    )  # fmt: skip
    rows.dues = DuesAccount.objects.create(member=member, stripe_customer_id="cus_A1", subscription_status="canceled")
    rows.payment = DuesPayment.objects.create(
        member=member, stripe_invoice_id="in_A1", outcome="paid", amount_pence=2450, category="teacher",
        occurred_at=now,
    )  # fmt: skip
    rows.stripe_event = StripeEvent.objects.create(
        event_id="evt_A1", type="invoice.paid", created_at=now, customer_id="cus_A1", member=member,
        payload={"data": {"object": {"customer_email": member.email, "customer_name": "Owen Oakley"}}},
    )  # fmt: skip
    rows.conversation = Conversation.objects.create(
        member=member, logged_by=rep, channel="phone", held_on=datetime.date(2025, 3, 1), outcome="supportive",
        notes="Owen worried about workload",
    )  # fmt: skip
    rows.assessment = Assessment.objects.create(
        member=member, score=2, assessed_on=datetime.date(2025, 3, 1), assessed_by=rep, notes="Owen: solid"
    )
    rows.answers = EqualitiesAnswers.objects.create(
        member=member, ethnicity="white_irish", woman_member="no", entered_by="member",
        consent_wording_version="2026-1", consent_recorded_at=now, consent_recorded_by=user,
    )  # fmt: skip
    rows.equalities_read = EqualitiesAccess.objects.create(
        reader=user, reader_name=user.username, member=member, via="page"
    )
    rows.message = Message.objects.create(
        key=f"welcome:{member.pk}", member=member, channel="email", basis="service", to=member.email,
        subject="Welcome, Owen", body="Dear Owen Oakley, welcome.", html_body="<p>Dear Owen</p>",
        status="sent", sent_at=now,
    )  # fmt: skip
    MessageAttachment.objects.create(
        message=rows.message, filename="event.ics", content_type="text/calendar", content=b"ATTENDEE:Owen Oakley"
    )
    rows.credential_message = Message.objects.create(
        key=f"election:1:credential:{member.pk}:1", member=member, channel="sms", basis="service", to=OWEN_MOBILE,
        body="[confidential: removed after sending]", html_body="[confidential: removed after sending]",
        status="sent", sent_at=now, confidential=True,
    )  # fmt: skip
    rows.inbound = InboundText.objects.create(
        from_number=OWEN_MOBILE, body="Owen here, call me", member=member, provider_id="SM0001"
    )
    source = ImportSource.objects.create(name="Leeds staff list")
    job = ImportJob.objects.create(
        source=source, created_by=national, filename="leeds.csv", encoding="utf-8", delimiter=",",
        content=f"first_name,last_name,email\nOwen,Oakley,{member.email}\n".encode(), status="done",
    )  # fmt: skip
    rows.import_row = ImportRow.objects.create(
        job=job, number=1, line=2, outcome="updated", membership_number=member.membership_number,
        name="Owen Oakley", member=member,
    )  # fmt: skip
    rows.closure = ClosureRequest.objects.create(
        member=member, requested_by=user, reason="Owen is moving abroad", status="closed", handled_at=now,
        handled_by=national,
    )  # fmt: skip
    course = Course.objects.create(code="privacy-test-course", title="Privacy test course")
    event = Event.objects.create(
        kind="meeting", title="Branch meeting", starts_at=now - datetime.timedelta(days=2),
        ends_at=now - datetime.timedelta(days=2, hours=-1), venue="Hall", capacity=10,
        registration_opens_at=now - datetime.timedelta(days=9), registration_closes_at=now - datetime.timedelta(days=3),
    )  # fmt: skip
    rows.registration = Registration.objects.create(
        event=event, member=member, status="registered", access_needs="Owen uses a wheelchair",
        dietary_needs="vegan",
    )  # fmt: skip
    rows.call_question = CallQuestion.objects.create(event=event, member=member, text="Owen asks about pay")
    rows.delegate = Delegate.objects.create(event=event, branch=union.branches.leeds, member=member)
    rows.steward = Steward.objects.create(event=event, user=user)
    rows.certification = Certification.objects.create(
        member=member, course=course, completed_on=datetime.date(2024, 5, 1)
    )
    published = _election("Branch secretary 2025", Election.Status.PUBLISHED, union)
    rows.candidate_rita = Candidate.objects.create(
        election=published, member=union.members.rep, name="Rita Rep", sort_name="Rep, Rita", has_consented=True
    )
    rows.nomination = Nomination.objects.create(election=published, nominee=union.members.rep, by_member=member)
    roll = VoterRoll.objects.create(election=published, size_at_freeze=2)
    rows.roll_entry = RollEntry.objects.create(
        roll=roll, member=member, branch=union.branches.leeds, has_voted=True, voted_on=datetime.date(2025, 5, 1),
        credential_hash="a" * 64, late_reason="", credential_issue=1,
    )  # fmt: skip
    RollEntry.objects.create(roll=roll, member=union.members.rep, branch=union.branches.leeds)
    rows.security_event = SecurityEvent.objects.create(
        kind="sign_in", user=user, username=user.username, ip_address="192.0.2.7"
    )
    rows.audit = record_audit(
        actor=national, action=AuditEntry.Action.UPDATE, target=member, summary="Changed email",
        changes={"email": ["owen.old@example.org", member.email], "last_name": ["Oak", "Oakley"]},
    )  # fmt: skip
    rows.sign_in = AccessLog.objects.create(
        username=user.username, ip_address="192.0.2.7", user_agent="Firefox", path_info="/accounts/login/",
        attempt_time=now,
    )  # fmt: skip
    rows.test_send = Message.objects.create(
        key="campaign:test:1", channel="email", basis="consent", to=member.email, subject="Test",
        body="Hello Owen", status="sent", sent_at=now,
    )  # fmt: skip
    rows.totp = TOTPDevice.objects.create(user=user, name="Owen's phone")
    rows.static = StaticDevice.objects.create(user=user, name="backup")
    rows.token = Token.objects.create(user=user)
    take_membership_snapshot()
    return rows
