"""Forms for the count pages: they parse input; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms

from elections.counting import BLTError, decode_blt
from elections.models import Method, Rule

MAX_BLT_BYTES = 200 * 1024 * 1024


class CountUploadForm(forms.Form):
    title = forms.CharField(max_length=200, help_text="For example: National Executive, women's seats, 2026.")
    blt_file = forms.FileField(label="Ballots (BLT file)", help_text="The anonymised ballots in BLT format, UTF-8.")
    method = forms.ChoiceField(choices=Method.choices, initial=Method.STV)
    rule = forms.ChoiceField(
        choices=Rule.choices, required=False, initial=Rule.SCOTTISH, label="STV rule", help_text="Only for STV."
    )
    seats = forms.IntegerField(
        min_value=1, required=False, help_text="Leave empty to use the number of seats in the file."
    )
    seed = forms.CharField(
        max_length=200,
        label="Seed for drawing lots",
        help_text="Fixed and published before the count, so that a recount draws any lots the same way.",
    )
    reserved_seats = forms.IntegerField(min_value=0, required=False, label="Reserved seats", help_text="Optional.")
    reserved_group = forms.CharField(
        required=False,
        label="Candidates the reserved seats are for",
        help_text="Candidate numbers as in the BLT file, separated by commas, e.g. 2, 5, 7.",
    )
    reserved_label = forms.CharField(
        max_length=100, required=False, label="Name of the group", help_text="For example: women members."
    )

    def clean_blt_file(self) -> str:
        upload = self.cleaned_data["blt_file"]
        if upload.size > MAX_BLT_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_BLT_BYTES // (1024 * 1024)} MB.")
        try:
            return decode_blt(upload.read())
        except BLTError as error:
            raise forms.ValidationError(str(error)) from None

    def clean_reserved_group(self) -> list[int]:
        text = self.cleaned_data.get("reserved_group") or ""
        numbers = []
        for part in filter(None, (piece.strip() for piece in text.split(","))):
            if not part.isdigit() or int(part) < 1:
                raise forms.ValidationError(f"{part!r} is not a candidate number (whole numbers from 1).")
            numbers.append(int(part))
        return numbers

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        method = data.get("method")
        if method == Method.STV and not data.get("rule"):
            data["rule"] = Rule.SCOTTISH
        elif method and method != Method.STV and data.get("rule"):
            # The rule menu defaults to Scottish; for other methods it simply does not apply.
            data["rule"] = ""
        if data.get("reserved_seats") and not data.get("reserved_group"):
            self.add_error("reserved_group", "Name the candidates the reserved seats are for.")
        return data
