"""Candidates' photos: only real JPEG or PNG, small, sane; re-encoded without metadata; shown only when the
candidates are public (and to those running the election, and the candidate, always)."""

from __future__ import annotations

import datetime
import io
import re
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import ExifTags, Image

from crm.errors import NotPermitted
from crm.models import AuditEntry
from elections.models import CandidatePhoto, Election
from elections.services import nominations, photos, setup
from tests.elections.voting_helpers import contest, details, open_with_credentials
from tests.factories import UserFactory


def jpeg(size=(900, 600), *, gps: bool = False, colour=(200, 30, 30)) -> bytes:
    image = Image.new("RGB", size, colour)
    out = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[ExifTags.Base.Make] = "PhoneCam"
        exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (51.0, 30.0, 12.0), 3: "W", 4: (0.0, 7.0, 39.0)}
        image.save(out, "JPEG", exif=exif.tobytes())
    else:
        image.save(out, "JPEG")
    return out.getvalue()


def png(size=(300, 300), mode="RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG")
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (100, 100)).save(out, "GIF")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header claims a huge image (a decompression bomb's shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    rows = zlib.compress(b"\0" * (1 + (width + 7) // 8) * 64, 9)  # a few rows; the rest would be zeros too
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


SVG_WITH_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


def upload(data: bytes, name: str = "me.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def draft(union):
    """A whole-union election being set up, with Owen Oakley (member_oak) and Ella Elmore standing."""
    election = contest(union.users.national, [union.members.oak, union.members.elm])
    oak = election.candidates.get(member=union.members.oak)
    elm = election.candidates.get(member=union.members.elm)
    return election, oak, elm


def photo_url(election, candidate) -> str:
    return reverse("elections:candidate_photo", args=[election.pk, candidate.pk])


def test_the_candidate_uploads_from_my_ballots_and_metadata_is_gone(union, draft):
    election, oak, _elm = draft
    client = client_for(union.users.member_oak)
    original = jpeg((1800, 1200), gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the test image has GPS
    response = client.post(reverse("portal:candidate_photo", args=[oak.pk]), {"photo": upload(original)})
    assert response.status_code == 302
    stored = CandidatePhoto.objects.get(candidate=oak)
    image = Image.open(io.BytesIO(bytes(stored.image)))
    assert image.format == "JPEG"
    assert max(image.size) <= photos.MAX_SIDE and image.size == (stored.width, stored.height)
    exif = image.getexif()
    assert not exif.get_ifd(ExifTags.IFD.GPSInfo) and ExifTags.Base.Make not in exif
    assert "exif" not in image.info and "icc_profile" not in image.info
    assert AuditEntry.objects.filter(summary__startswith="Set the photo of candidate Owen Oakley").exists()
    # The candidate sees their own photo at once, with the right type and no sniffing.
    served = client.get(photo_url(election, oak))
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg" and served["X-Content-Type-Options"] == "nosniff"
    assert bytes(served.content) == bytes(stored.image)
    page = client.get(reverse("portal:ballots")).content.decode()
    assert f'alt="{oak.name}"' in page


def test_a_png_with_transparency_is_accepted_and_stored_as_jpeg(union, draft):
    _election, oak, _elm = draft
    stored = photos.set_candidate_photo(actor=union.users.national, candidate=oak, data=png())
    assert Image.open(io.BytesIO(bytes(stored.image))).format == "JPEG"


@pytest.mark.parametrize(
    ("data", "name", "content_type", "message"),
    [
        (b"Not a picture at all, only text.", "me.jpg", "image/jpeg", "must be a JPEG or PNG"),
        (gif(), "me.gif", "image/gif", "must be a JPEG or PNG"),
        (SVG_WITH_SCRIPT, "me.jpg", "image/jpeg", "must be a JPEG or PNG"),
        (SVG_WITH_SCRIPT, "me.svg", "image/svg+xml", "must be a JPEG or PNG"),
        (jpeg()[:400], "me.jpg", "image/jpeg", "could not be read"),
        (b"\xff\xd8\xff" + b"\0" * (photos.MAX_UPLOAD_BYTES + 1), "me.jpg", "image/jpeg", "larger than 2 MB"),
        (png_claiming(40_000, 40_000), "me.png", "image/png", "at most 8000 a side"),
        (png_claiming(6_000, 7_999), "me.png", "image/png", "at most 8000 a side"),  # 48 million pixels
        (jpeg((10, 10)), "me.jpg", "image/jpeg", "too small"),
        (b"", "me.jpg", "image/jpeg", "Choose a photo"),
    ],
    ids=[
        "text-named-jpg",
        "gif",
        "svg-named-jpg",
        "svg",
        "truncated-jpeg",
        "over-2mb",
        "huge-png",
        "bomb-png",
        "tiny",
        "empty",
    ],
)
def test_refused_uploads_change_nothing(union, draft, data, name, content_type, message):
    election, oak, _elm = draft
    before = photos.set_candidate_photo(actor=union.users.national, candidate=oak, data=jpeg(colour=(0, 0, 255)))
    audit = AuditEntry.objects.count()
    with pytest.raises(photos.PhotoRefused, match=message):
        photos.set_candidate_photo(actor=union.users.national, candidate=oak, data=data)
    # The same through the organiser's page and the candidate's own form: a clear error, nothing changed.
    response = client_for(union.users.national).post(
        reverse("elections:candidate_photo_edit", args=[election.pk, oak.pk]),
        {"photo": upload(data, name, content_type)},
    )
    assert response.status_code == 400
    assert message.split()[0] in response.content.decode() or "submitted file is empty" in response.content.decode()
    response = client_for(union.users.member_oak).post(
        reverse("portal:candidate_photo", args=[oak.pk]),
        {"photo": upload(data, name, content_type)},
        follow=True,
    )
    assert response.status_code == 200
    after = CandidatePhoto.objects.get(candidate=oak)
    assert bytes(after.image) == bytes(before.image) and after.sha256 == before.sha256
    assert AuditEntry.objects.count() == audit


def test_no_file_at_all_is_a_clear_error(union, draft):
    election, oak, _elm = draft
    response = client_for(union.users.national).post(
        reverse("elections:candidate_photo_edit", args=[election.pk, oak.pk]), {}
    )
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    assert not CandidatePhoto.objects.exists()


def test_nobody_sets_another_candidates_photo(union, draft):
    election, _oak, elm = draft
    with pytest.raises(NotPermitted):
        photos.set_candidate_photo(actor=union.users.member_oak, candidate=elm, data=jpeg())
    with pytest.raises(NotPermitted):
        photos.set_candidate_photo(actor=union.users.rep_oak, candidate=elm, data=jpeg())
    with pytest.raises(NotPermitted):  # an organiser outside the election's body (a whole-union election)
        photos.set_candidate_photo(actor=union.users.organiser_north, candidate=elm, data=jpeg())
    response = client_for(union.users.member_oak).post(
        reverse("portal:candidate_photo", args=[elm.pk]), {"photo": upload(jpeg())}
    )
    assert response.status_code == 404
    response = client_for(union.users.organiser_north).post(
        reverse("elections:candidate_photo_edit", args=[election.pk, elm.pk]), {"photo": upload(jpeg())}
    )
    assert response.status_code == 403
    assert not CandidatePhoto.objects.exists()


def test_photos_are_hidden_until_the_candidates_are_public(union, draft):
    election, oak, elm = draft
    photos.set_candidate_photo(actor=union.users.national, candidate=elm, data=jpeg())
    url = photo_url(election, elm)
    # Being set up, with no nomination window: only those running it, scrutineers and the candidate.
    assert client_for(union.users.national).get(url).status_code == 200
    assert client_for(union.users.scrutineer).get(url).status_code == 200
    for user in (union.users.rep_oak, union.users.member_oak, union.users.outsider, union.users.organiser_north):
        assert client_for(user).get(url).status_code == 404, user
    assert Client().get(url).status_code == 404
    # A made-up or mismatched token opens nothing.
    assert Client().get(url + "?t=forged").status_code == 404
    # Another candidate's photo (Owen's has none), and a candidate of another election, are 404 too.
    assert client_for(union.users.national).get(photo_url(election, oak)).status_code == 404
    other = contest(union.users.national, [union.members.ash], title="Another election")
    assert (
        client_for(union.users.national).get(reverse("elections:candidate_photo", args=[other.pk, elm.pk])).status_code
        == 404
    )
    # Once voting opens, staff who can see the election and members on the roll see it; outsiders still not.
    open_with_credentials(union.users.national, election)
    assert client_for(union.users.rep_oak).get(url).status_code == 200
    assert client_for(union.users.member_oak).get(url).status_code == 200
    assert client_for(union.users.outsider).get(url).status_code == 404
    assert Client().get(url).status_code == 404


def test_the_ballot_page_shows_photos_by_a_signed_link(union, draft):
    election, oak, elm = draft
    photos.set_candidate_photo(actor=union.users.national, candidate=elm, data=jpeg())
    credentials = open_with_credentials(union.users.national, election)
    page = Client().get(
        reverse("elections:vote", args=[election.pk]), {"credential": credentials[union.members.ash.pk]}
    )
    html = page.content.decode()
    found = re.search(r'<img class="candidate-photo" src="([^"]+)" alt="([^"]+)"', html)
    assert found and found.group(2) == elm.name
    assert 'referrerpolicy="no-referrer"' in html  # the page's address (with the credential) is not sent along
    link = found.group(1).replace("&amp;", "&")
    response = Client().get(link)  # no sign-in: the voter holds only the page
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    # The token is for that candidate only.
    token = link.split("?", 1)[1]
    assert Client().get(photo_url(election, oak) + "?" + token).status_code == 404
    assert html.count('class="candidate-photo"') == 1  # Owen has no photo: no broken image
    # Photos are part of the ballot: they cannot change once voting has opened.
    with pytest.raises(photos.PhotoRefused, match="Voting has opened"):
        photos.set_candidate_photo(actor=union.users.national, candidate=oak, data=jpeg())
    with pytest.raises(photos.PhotoRefused, match="Voting has opened"):
        photos.remove_candidate_photo(actor=union.users.national, candidate=elm)


def test_photos_are_public_after_nominations_close_and_a_nominee_adds_theirs(union):
    u, m = union.users, union.members
    now = timezone.now()
    election = setup.create_election(
        actor=u.national,
        details=details(
            nomination_route="members",
            nominations_open_at=now - datetime.timedelta(days=1),
            nominations_close_at=now + datetime.timedelta(days=1),
            voting_opens_at=now + datetime.timedelta(days=2),
            voting_closes_at=now + datetime.timedelta(days=9),
        ),
    )
    nominations.nominate_by_member(actor=UserFactory(username="ella", member=m.elm), election=election, nominee=m.oak)
    candidate = nominations.accept_nomination(actor=u.member_oak, election=election, statement="", has_consented=True)
    response = client_for(u.member_oak).post(
        reverse("portal:candidate_photo", args=[candidate.pk]), {"photo": upload(png(), "me.png", "image/png")}
    )
    assert response.status_code == 302 and CandidatePhoto.objects.filter(candidate=candidate).exists()
    url = photo_url(election, candidate)
    assert client_for(u.rep_oak).get(url).status_code == 404  # nominations still open
    Election.objects.filter(pk=election.pk).update(nominations_close_at=now - datetime.timedelta(minutes=1))
    assert client_for(u.rep_oak).get(url).status_code == 200
    assert client_for(u.outsider).get(url).status_code == 404
    # A withdrawn candidate's photo is no longer shown to anyone but those running it and the candidate.
    setup.withdraw_candidate(actor=u.member_oak, candidate=candidate)
    assert client_for(u.rep_oak).get(url).status_code == 404
    assert client_for(u.member_oak).get(url).status_code == 200


def test_the_candidate_or_an_organiser_removes_a_photo(union, draft):
    election, oak, _elm = draft
    photos.set_candidate_photo(actor=union.users.member_oak, candidate=oak, data=jpeg())
    response = client_for(union.users.member_oak).post(
        reverse("portal:candidate_photo", args=[oak.pk]), {"action": "remove"}
    )
    assert response.status_code == 302 and not CandidatePhoto.objects.exists()
    photos.set_candidate_photo(actor=union.users.member_oak, candidate=oak, data=jpeg())
    response = client_for(union.users.national).post(
        reverse("elections:candidate_photo_edit", args=[election.pk, oak.pk]), {"action": "remove"}
    )
    assert response.status_code == 302 and not CandidatePhoto.objects.exists()
    page = client_for(union.users.national).get(reverse("elections:election_detail", args=[election.pk]))
    assert "Add photo" in page.content.decode()
