"""Building elections for the voting tests through the services, as an organiser would."""

from __future__ import annotations

import datetime
import re

from django.core import mail
from django.utils import timezone

from crm.models import Message
from crm.sms.locmem import outbox as sms_outbox
from elections.models import Election
from elections.services import setup

CREDENTIAL_IN_LINK = re.compile(r"credential=([A-Za-z0-9_-]+)")


def details(**overrides) -> dict:
    now = timezone.now()
    data = {
        "title": "Branch secretary 2026",
        "kind": Election.Kind.SEAT,
        "method": "irv",
        "seats": 1,
        "voting_opens_at": now - datetime.timedelta(hours=1),
        "voting_closes_at": now + datetime.timedelta(hours=2),
        "electorate": Election.Electorate.ALL,
        "requires_good_standing": True,
        # Members made today changed status today: judge standing a day on, so the tests do not hang on midnight.
        "cut_off_on": timezone.localdate() + datetime.timedelta(days=1),
    }
    data.update(overrides)
    return data


def contest(actor, members, **overrides) -> Election:
    """An election in draft with the given members standing."""
    election = setup.create_election(actor=actor, details=details(**overrides))
    for member in members:
        setup.add_candidate(actor=actor, election=election, member=member, has_consented=True)
    return election


def open_with_credentials(actor, election: Election) -> dict[int, str]:
    """Open voting, send the credentials, and read them back out of the messages, by member id."""
    setup.open_voting(actor=actor, election=election)
    setup.issue_credentials(election_id=election.pk)
    election.refresh_from_db()
    return credentials_sent(election)


def credentials_sent(election: Election) -> dict[int, str]:
    """The latest credential each member was sent, read from the message pipeline (as the member would)."""
    # A credential message keeps its body only until it is sent (it is confidential): after that, read what the
    # member received from the test outboxes. A message that could not be sent carries no credential.
    received = {getattr(email, "metadata", {}).get("message_key"): email.body for email in mail.outbox}
    received |= {text.key: text.body for text in sms_outbox}
    found: dict[int, tuple[int, str]] = {}
    for message in Message.objects.filter(key__startswith=f"election:{election.pk}:credential:"):
        issue = int(message.key.rsplit(":", 1)[1])
        link = CREDENTIAL_IN_LINK.search(message.body) or CREDENTIAL_IN_LINK.search(received.get(message.key, ""))
        if link is None:
            continue
        credential = link.group(1)
        if message.member_id not in found or found[message.member_id][0] < issue:
            found[message.member_id] = (issue, credential)
    return {member: credential for member, (_issue, credential) in found.items()}
