"""Forms: they check the shape of input; services check the rules."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from crm.models import Member, Position, Tag
from crm.phones import normalise_mobile
from crm.selectors import branches_visible_to, regions_visible_to, workplaces_visible_to

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class MemberForm(forms.ModelForm):
    """A member's details as staff edit them. Branch, workplace and employer choices are the user's scope."""

    tags = forms.ModelMultipleChoiceField(queryset=Tag.objects.all(), required=False)
    # Wider than the stored E.164 value: people type spaces, brackets and dashes.
    mobile = forms.CharField(max_length=32, required=False, help_text="A UK mobile, e.g. 07911 123456.")

    class Meta:
        model = Member
        fields = [
            "first_name",
            "last_name",
            "email",
            "mobile",
            "address_line1",
            "address_line2",
            "town",
            "postcode",
            "workplace",
            "branch",
            "employer",
            "sector",
            "category",
            "status",
            "joined_on",
            "has_arrears",
            "email_consent",
            "sms_consent",
            "tags",
            "notes",
        ]
        widgets = {"joined_on": DATE_INPUT, "notes": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "workplace": "Leave empty for supply and retired members; the branch then says where they belong.",
            "branch": "Set from the workplace when there is one.",
            "email_consent": "Only with the member's agreement; the time and source are recorded.",
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = branches_visible_to(user)
        self.fields["branch"].required = False
        self.fields["workplace"].queryset = workplaces_visible_to(user)

    def clean_mobile(self) -> str:
        return normalise_mobile(self.cleaned_data.get("mobile", ""))

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("workplace") and not cleaned.get("branch") and not self.errors:
            raise ValidationError({"branch": "Choose a workplace or, for members without one, a branch."})
        return cleaned

    def _post_clean(self):
        # The service validates and saves the model; the form only checks the fields it was given.
        pass

    def details(self) -> dict:
        data = dict(self.cleaned_data)
        if data.get("workplace") and not data.get("branch"):
            data.pop("branch")
        return data


class PositionForm(forms.Form):
    kind = forms.ChoiceField(label="Role", choices=Position.Kind.choices)
    workplace = forms.ModelChoiceField(queryset=None, required=False, help_text="For workplace roles.")
    branch = forms.ModelChoiceField(queryset=None, required=False, help_text="For branch roles.")
    region = forms.ModelChoiceField(queryset=None, required=False, help_text="For regional roles.")
    started_on = forms.DateField(widget=DATE_INPUT)
    ended_on = forms.DateField(widget=DATE_INPUT, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workplace"].queryset = workplaces_visible_to(user)
        self.fields["branch"].queryset = branches_visible_to(user)
        self.fields["region"].queryset = regions_visible_to(user)


class EndPositionForm(forms.Form):
    ended_on = forms.DateField(label="Ended on", widget=DATE_INPUT)
