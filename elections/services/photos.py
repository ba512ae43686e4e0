"""Candidates' photos: checked, re-encoded and stored; shown only once the candidates are public.

An upload is refused unless its first bytes say JPEG or PNG (the file name and the browser's content type are
not trusted), it is at most 2 MB, and its pixel dimensions are sane before any pixel is decoded (a small
file can claim a huge image: a decompression bomb). What is kept is a fresh JPEG drawn from the pixels alone,
so no EXIF, GPS, comment or colour-profile data survives, at most 600 px a side.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import warnings

from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps

from crm.errors import NotPermitted, ServiceError
from crm.models import User
from crm.services import record_audit
from elections.models import Candidate, CandidatePhoto, Election
from elections.permissions import can_manage_election, can_scrutinise

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_SIDE = 600  # what is stored and served
MAX_SOURCE_SIDE = 8000  # a phone photo is ~4000-6000 px a side
MAX_SOURCE_PIXELS = 40_000_000
MIN_SOURCE_SIDE = 32
CONTENT_TYPE = "image/jpeg"
MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}


class PhotoRefused(ServiceError):
    """The photo cannot be used; nothing was changed."""


def _format_from_magic(data: bytes) -> str:
    for magic, name in MAGIC.items():
        if data.startswith(magic):
            return name
    raise PhotoRefused("The photo must be a JPEG or PNG image.", field="photo")


def reencode_photo(data: bytes) -> tuple[bytes, int, int]:
    """Check an uploaded image and draw it afresh as a JPEG of at most MAX_SIDE px a side, with no metadata.

    Returns (jpeg bytes, width, height). Raises PhotoRefused, saying why in plain words."""
    if not data:
        raise PhotoRefused("Choose a photo to upload.", field="photo")
    if len(data) > MAX_UPLOAD_BYTES:
        raise PhotoRefused("The photo is larger than 2 MB; send a smaller one.", field="photo")
    kind = _format_from_magic(data)
    unreadable = PhotoRefused(f"The photo could not be read as a {kind} image (is the file complete?).", field="photo")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            width, height = image.size  # from the header: nothing decoded yet
            if width > MAX_SOURCE_SIDE or height > MAX_SOURCE_SIDE or width * height > MAX_SOURCE_PIXELS:
                raise PhotoRefused(
                    f"The photo is {width} × {height} pixels; at most {MAX_SOURCE_SIDE} a side is accepted.",
                    field="photo",
                )
            if width < MIN_SOURCE_SIDE or height < MIN_SOURCE_SIDE:
                raise PhotoRefused(f"The photo is too small ({width} × {height} pixels).", field="photo")
            image.load()  # a truncated or corrupt file fails here, not later
            image = ImageOps.exif_transpose(image)  # keep the way up the camera meant, then drop the EXIF
            if image.mode in ("RGBA", "LA", "P"):
                image = image.convert("RGBA")
                flat = Image.new("RGB", image.size, (255, 255, 255))
                flat.paste(image, mask=image.getchannel("A"))
                image = flat
            else:
                image = image.convert("RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            # A new image from the pixels alone: no exif=, icc_profile= or comment is passed, so none is written.
            image.save(out, format="JPEG", quality=85, optimize=True)
    except PhotoRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # Pillow's own, wider, limit
        raise PhotoRefused(
            f"The photo has far too many pixels; at most {MAX_SOURCE_SIDE} a side is accepted.", field="photo"
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise unreadable from None
    return out.getvalue(), image.width, image.height


def candidates_are_public(election: Election, now: datetime.datetime | None = None) -> bool:
    """The candidates are public once nominations close, or once voting opens if there was no window."""
    if election.status != Election.Status.DRAFT:
        return True
    now = now or timezone.now()
    return bool(election.nominations_close_at and now >= election.nominations_close_at)


def may_always_see_photo(user: User, candidate: Candidate, election: Election) -> bool:
    """Those running or scrutinising the election, and the candidate themselves, see a photo at any time."""
    return (
        can_manage_election(user, election)
        or can_scrutinise(user)
        or bool(user.is_authenticated and user.member_id and user.member_id == candidate.member_id)
    )


def _require_changeable(actor: User, candidate: Candidate, election: Election) -> None:
    is_self = bool(actor.is_authenticated and actor.member_id and actor.member_id == candidate.member_id)
    if not (is_self or can_manage_election(actor, election)):
        raise NotPermitted("You cannot change this candidate's photo.")
    if election.status != Election.Status.DRAFT:
        raise PhotoRefused("Voting has opened: the ballot, photos included, can no longer be changed.")
    if candidate.withdrawn_at:
        raise PhotoRefused(f"{candidate.name} has withdrawn.")


@transaction.atomic
def set_candidate_photo(*, actor: User, candidate: Candidate, data: bytes) -> CandidatePhoto:
    """The candidate themselves, or an organiser managing the election, sets (or replaces) the candidate's
    photo while the election is being set up. Raises NotPermitted or PhotoRefused with nothing changed;
    audited (the image's hash, never the image)."""
    election = Election.objects.select_for_update().get(pk=candidate.election_id)
    candidate = Candidate.objects.select_for_update().get(pk=candidate.pk)
    _require_changeable(actor, candidate, election)
    image, width, height = reencode_photo(data)
    digest = hashlib.sha256(image).hexdigest()
    photo, _created = CandidatePhoto.objects.update_or_create(
        candidate=candidate,
        defaults={
            "image": image,
            "width": width,
            "height": height,
            "sha256": digest,
            "uploaded_at": timezone.now(),
            "uploaded_by": actor if actor.is_authenticated else None,
        },
    )
    record_audit(
        actor=actor,
        action="update",
        target=candidate,
        member=candidate.member,
        summary=f"Set the photo of candidate {candidate.name} in {election.title}",
        changes={"photo_sha256": digest, "width": width, "height": height},
    )
    return photo


@transaction.atomic
def remove_candidate_photo(*, actor: User, candidate: Candidate) -> None:
    """Remove a candidate's photo (the candidate or an organiser, while being set up). Audited."""
    election = Election.objects.select_for_update().get(pk=candidate.election_id)
    candidate = Candidate.objects.select_for_update().get(pk=candidate.pk)
    _require_changeable(actor, candidate, election)
    deleted, _ = CandidatePhoto.objects.filter(candidate=candidate).delete()
    if deleted:
        record_audit(
            actor=actor,
            action="update",
            target=candidate,
            member=candidate.member,
            summary=f"Removed the photo of candidate {candidate.name} in {election.title}",
        )
