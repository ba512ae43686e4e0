"""Forms for setting up elections, and reading a ballot paper. They parse input; the services decide."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.http import QueryDict

from crm.models import Member, Sector
from crm.selectors import branches_visible_to, members_visible_to, regions_visible_to
from elections.models import Election, Method, Rule
from elections.services.setup import STRAND_GROUPS
from elections.services.voting import BallotPaper

STRAND_CHOICES = [(name, label[0].upper() + label[1:]) for name, label in STRAND_GROUPS.items()]
SMALL_NUMBER = re.compile(r"[0-9]{1,4}")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ElectionForm(forms.Form):
    title = forms.CharField(max_length=200, help_text="For example: National Executive, women's seat, 2026.")
    kind = forms.ChoiceField(choices=Election.Kind.choices)
    method = forms.ChoiceField(
        choices=[("", "Not for ballots on questions"), *Method.choices], required=False, label="Counting method"
    )
    rule = forms.ChoiceField(choices=Rule.choices, required=False, label="STV rule", help_text="Only for STV.")
    seats = forms.IntegerField(min_value=1, max_value=100, initial=1)
    max_choices = forms.IntegerField(
        min_value=1,
        max_value=100,
        required=False,
        label="Most candidates a voter may mark",
        help_text="Approval voting only; leave empty for no limit.",
    )
    reserved_seats = forms.IntegerField(min_value=0, max_value=100, required=False, initial=0)
    reserved_label = forms.CharField(
        max_length=100, required=False, label="Reserved seats are for", help_text="For example: women members."
    )
    reserved_strand = forms.ChoiceField(
        choices=[("", "No strand"), *STRAND_CHOICES],
        required=False,
        label="Reserved seats for an equalities strand",
        help_text="Candidates count themselves in from their own equalities answers; nobody else sees them.",
    )
    region = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="Held by region",
        help_text="Leave region and branch empty for the whole union.",
    )
    branch = forms.ModelChoiceField(queryset=None, required=False, label="Held by branch")
    nominations_open_at = forms.DateTimeField(required=False, widget=DATETIME)
    nominations_close_at = forms.DateTimeField(required=False, widget=DATETIME)
    voting_opens_at = forms.DateTimeField(widget=DATETIME)
    voting_closes_at = forms.DateTimeField(widget=DATETIME)
    opens_on_time = forms.BooleanField(
        required=False,
        label="Open voting at the opening time by itself",
        help_text="Otherwise an organiser presses open. An election that is not ready then stays closed, saying why.",
    )
    nomination_route = forms.ChoiceField(choices=Election.NominationRoute.choices, label="Candidates")
    nominations_needed = forms.IntegerField(
        min_value=1, max_value=1000, initial=1, help_text="Branches, or members, needed to nominate someone."
    )
    withdrawal_deadline_at = forms.DateTimeField(
        required=False, widget=DATETIME, help_text="Leave empty to allow withdrawal until voting opens."
    )
    statement_word_limit = forms.IntegerField(min_value=1, max_value=5000, initial=300)
    ballot_order = forms.ChoiceField(choices=Election.BallotOrder.choices)
    electorate = forms.ChoiceField(choices=Election.Electorate.choices, label="Who may vote")
    electorate_regions = forms.ModelMultipleChoiceField(queryset=None, required=False, label="Regions")
    electorate_branches = forms.ModelMultipleChoiceField(queryset=None, required=False, label="Branches")
    electorate_workplaces = forms.CharField(
        required=False, label="Workplace numbers", help_text="Separated by commas (from the workplace pages)."
    )
    electorate_sectors = forms.MultipleChoiceField(choices=Sector.choices, required=False, label="Sectors")
    electorate_categories = forms.MultipleChoiceField(
        choices=Member.Category.choices, required=False, label="Categories"
    )
    electorate_strand = forms.ChoiceField(
        choices=[("", "Choose a strand"), *STRAND_CHOICES],
        required=False,
        label="Strand",
        help_text="Members who self-identify with it in their own equalities answers, within the area above.",
    )
    requires_good_standing = forms.BooleanField(required=False, initial=True, label="Only members in good standing")
    cut_off_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Good standing on",
        help_text="Leave empty for the day voting opens.",
    )
    is_industrial_action = forms.BooleanField(required=False, label="Industrial-action ballot")
    important_public_services = forms.BooleanField(required=False, label="In important public services (40% test)")
    turnout_threshold = forms.CharField(max_length=10, required=False, help_text="For example 50%.")
    electorate_support_threshold = forms.CharField(max_length=10, required=False, label="Support from the electorate")
    votes_support_threshold = forms.CharField(max_length=10, required=False, label="Support from votes cast")

    VALUE_FIELDS = {
        "region": "electorate_regions",
        "branch": "electorate_branches",
        "workplace": "electorate_workplaces",
        "sector": "electorate_sectors",
        "category": "electorate_categories",
        "strand": "electorate_strand",
    }

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions_visible_to(user)
        self.fields["branch"].queryset = branches_visible_to(user)
        self.fields["electorate_regions"].queryset = regions_visible_to(user)
        self.fields["electorate_branches"].queryset = branches_visible_to(user)

    @classmethod
    def initial_for(cls, election: Election) -> dict[str, Any]:
        from django.forms.models import model_to_dict

        data = model_to_dict(election)
        field = cls.VALUE_FIELDS.get(election.electorate)
        if field == "electorate_workplaces":
            data[field] = ", ".join(str(v) for v in election.electorate_values)
        elif field == "electorate_strand":
            data[field] = (election.electorate_values or [""])[0]
        elif field:
            data[field] = election.electorate_values
        return data

    def clean_electorate_workplaces(self) -> list[int]:
        text = self.cleaned_data.get("electorate_workplaces") or ""
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if any(not part.isdigit() for part in parts) or len(parts) > 500:
            raise forms.ValidationError("Give up to 500 workplace numbers, separated by commas.")
        return [int(part) for part in parts]

    def details(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        field = self.VALUE_FIELDS.get(data["electorate"])
        values = data.get(field) if field else []
        if field in ("electorate_regions", "electorate_branches"):
            values = [obj.pk for obj in values]
        elif field == "electorate_strand":
            values = [values] if values else []
        for name in self.VALUE_FIELDS.values():
            data.pop(name, None)
        data["electorate_values"] = list(values or [])
        data["reserved_seats"] = data.get("reserved_seats") or 0
        return data


class CandidateForm(forms.Form):
    member = forms.ModelChoiceField(queryset=None, help_text="Members of the electorate in good standing.")
    name = forms.CharField(max_length=150, required=False, help_text="As on the ballot; leave empty for their name.")
    statement = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False, max_length=40000)
    is_in_reserved_group = forms.BooleanField(required=False, label="Stands for the reserved seats")
    has_consented = forms.BooleanField(required=False, label="The member has consented to stand")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = members_visible_to(user).in_good_standing()


class QuestionForm(forms.Form):
    text = forms.CharField(max_length=500, label="Question")
    options = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        initial="Yes\nNo",
        max_length=5000,
        help_text="One option a line. Yes and No for a yes/no question.",
    )


class RollAdditionForm(forms.Form):
    membership_number = forms.CharField(max_length=20)
    reason = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_membership_number(self) -> Member:
        number = self.cleaned_data["membership_number"].strip()
        member = members_visible_to(self.user).filter(membership_number__iexact=number).first()
        if member is None:
            raise forms.ValidationError("No member with that number in your patch.")
        return member


def _small_number(raw: str) -> int | None:
    """A plain ASCII whole number of at most four digits, or None (no unicode digits, no huge strings)."""
    return int(raw) if SMALL_NUMBER.fullmatch(raw) else None


def read_ballot(paper: BallotPaper, post: QueryDict) -> tuple[dict[str, Any], dict[str, str]]:
    """The voter's choices from the ballot page, and an error per input that cannot be read.

    Rankings are typed numbers (1 for the first choice): each number once, from 1 with no gaps. Whatever
    is read here is checked again by the casting service."""
    errors: dict[str, str] = {}
    if post.get("spoil") == "yes":
        return {"spoilt": True}, errors
    election = paper.election
    if election.is_ballot:
        answers: dict[str, int] = {}
        for pk, _text, options in paper.questions:
            raw = post.get(f"q-{pk}", "")
            if raw == "":
                continue
            number = _small_number(raw)
            if number is None or number >= len(options):
                errors[f"q-{pk}"] = "Choose one of the options."
            else:
                answers[str(pk)] = number
        return {"answers": answers}, errors
    if not election.is_ranked:
        raw_marks = post.getlist("mark")[:200]
        marks = [_small_number(raw) for raw in raw_marks]
        if None in marks:
            errors["marks"] = "The marks could not be read."
            return {}, errors
        return {"marks": marks}, errors
    ranks: dict[int, int] = {}
    standing = len(paper.candidates)
    for pk, name in paper.candidates:
        raw = post.get(f"rank-{pk}", "").strip()
        if not raw:
            continue
        number = _small_number(raw)
        if number is None or not 1 <= number <= standing:
            errors[f"rank-{pk}"] = f"Give {name} a number from 1 to {standing}, or leave it empty."
        else:
            ranks[pk] = number
    if errors:
        return {}, errors
    numbers = sorted(ranks.values())
    names = dict(paper.candidates)
    for number in set(numbers):
        if numbers.count(number) > 1:
            for pk, rank in ranks.items():
                if rank == number:
                    errors[f"rank-{pk}"] = (
                        f"{names[pk]}: you gave {number} to more than one candidate; use each number once."
                    )
    if not errors and numbers != list(range(1, len(numbers) + 1)):
        missing = next(n for n in range(1, len(numbers) + 1) if n not in numbers)
        errors["ranking"] = f"Number your choices 1, 2, 3 and so on without gaps: there is no {missing}."
    return {"ranking": [pk for pk, _rank in sorted(ranks.items(), key=lambda item: item[1])]}, errors


class BranchNominationForm(forms.Form):
    branch = forms.ModelChoiceField(queryset=None)
    membership_number = forms.CharField(max_length=20, label="Membership number of the nominee")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = branches_visible_to(user)
        self.user = user

    def clean_membership_number(self) -> Member:
        number = self.cleaned_data["membership_number"].strip()
        member = Member.objects.filter(membership_number__iexact=number).first()
        if member is None:
            raise forms.ValidationError("No member has that number.")
        return member


class MemberNominationForm(forms.Form):
    """A member nominates by membership number: members cannot browse other members."""

    membership_number = forms.CharField(max_length=20, label="Membership number of the member you nominate")

    def clean_membership_number(self) -> Member:
        number = self.cleaned_data["membership_number"].strip()
        member = Member.objects.filter(membership_number__iexact=number).first()
        if member is None:
            raise forms.ValidationError("No member has that number.")
        return member


class AcceptNominationForm(forms.Form):
    statement = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False, max_length=40000)
    has_consented = forms.BooleanField(required=False, label="I consent to stand in this election")
    count_for_reserved_seats = forms.BooleanField(required=False, label="Count me for the reserved seats")


class ReservedSeatsForm(forms.Form):
    counts = forms.BooleanField(required=False, label="Count me for the reserved seats")


class CandidatePhotoForm(forms.Form):
    """The upload only: what the file is, is decided by elections.services.photos from its bytes."""

    photo = forms.FileField(
        label="Photo",
        help_text="A JPEG or PNG of at most 2 MB. It is resized and any location or camera details are removed.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
    )

    def clean_photo(self) -> Any:
        from elections.services.photos import MAX_UPLOAD_BYTES

        upload = self.cleaned_data["photo"]
        if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:  # refused on its size, without reading it
            raise forms.ValidationError("The photo is larger than 2 MB; send a smaller one.")
        return upload

    def read(self) -> bytes:
        """The file's bytes, at most one byte past the limit (the service checks the size again)."""
        from elections.services.photos import MAX_UPLOAD_BYTES

        return self.cleaned_data["photo"].read(MAX_UPLOAD_BYTES + 1)


RECEIPT_SHAPE = re.compile(r"[A-Z2-9]{12}")


class ReceiptCheckForm(forms.Form):
    """A voter's receipt code, checked against a closed election's published receipt list. Typed as shown
    (ABCD-EFGH-JKLM) or without the dashes and spaces, in either case."""

    election = forms.ModelChoiceField(queryset=Election.objects.none(), empty_label=None, label="Election")
    receipt_code = forms.CharField(
        max_length=40, label="Your receipt code", help_text="Twelve letters and digits, as ABCD-EFGH-JKLM."
    )

    def __init__(self, *args: Any, elections: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["election"].queryset = elections

    def clean_receipt_code(self) -> str:
        code = re.sub(r"[\s-]", "", self.cleaned_data["receipt_code"]).upper()
        if not RECEIPT_SHAPE.fullmatch(code):
            raise forms.ValidationError("A receipt code is twelve letters and digits, as ABCD-EFGH-JKLM.")
        return f"{code[:4]}-{code[4:8]}-{code[8:]}"
