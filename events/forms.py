"""Forms check the shape of input; events.services checks the rules."""

from __future__ import annotations

from django import forms

from crm.models import Branch, Member, Region, Sector
from crm.models.equalities import STRANDS
from crm.selectors import branches_visible_to, regions_visible_to
from events.models import Course, Event
from events.services import MAX_ACCESS_NEEDS, MAX_DIETARY, MAX_WEEKS

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
NATIONAL = "national"


class EventForm(forms.Form):
    kind = forms.ChoiceField(choices=Event.Kind.choices)
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=10_000)
    course = forms.ModelChoiceField(
        queryset=Course.objects.order_by("title"), required=False, help_text="For training sessions only."
    )
    starts_at = forms.DateTimeField(label="Starts", widget=DATETIME_INPUT, help_text="UK time.")
    ends_at = forms.DateTimeField(label="Ends", widget=DATETIME_INPUT)
    venue = forms.CharField(max_length=255, required=False)
    online_url = forms.URLField(label="Online link", required=False, max_length=200, assume_scheme="https")
    capacity = forms.IntegerField(label="Places", min_value=1, max_value=100_000)
    registration_opens_at = forms.DateTimeField(label="Registration opens", widget=DATETIME_INPUT)
    registration_closes_at = forms.DateTimeField(label="Registration closes", widget=DATETIME_INPUT)
    host = forms.ChoiceField(label="Run by")
    audience = forms.ChoiceField(label="Who may attend", choices=Event.Audience.choices)
    audience_region = forms.ModelChoiceField(queryset=Region.objects.all(), required=False, label="Region")
    audience_branch = forms.ModelChoiceField(queryset=Branch.objects.all(), required=False, label="Branch")
    audience_sector = forms.ChoiceField(choices=[("", "---------"), *Sector.choices], required=False, label="Sector")
    audience_category = forms.ChoiceField(
        choices=[("", "---------"), *Member.Category.choices], required=False, label="Membership category"
    )
    audience_strand = forms.ChoiceField(
        choices=[("", "---------"), *STRANDS],
        required=False,
        label="Equalities strand",
        help_text="Members who self-identify with it in their own equalities answers may book; nobody is shown "
        "who they are.",
    )
    repeat_weeks = forms.IntegerField(
        label="Repeat weekly",
        required=False,
        min_value=2,
        max_value=MAX_WEEKS,
        help_text="For a weekly event (a member call): how many weeks in all, including the first.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        hosts = [(NATIONAL, "National office")] if user.is_national else []
        hosts += [(f"region:{r.pk}", f"{r.name} region") for r in regions_visible_to(user).filter(organisers=user)]
        if user.is_national:
            hosts += [(f"region:{r.pk}", f"{r.name} region") for r in Region.objects.all()]
        hosts += [(f"branch:{b.pk}", f"{b.name} branch") for b in branches_visible_to(user)]
        self.fields["host"].choices = list(dict(hosts).items())

    def details(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("repeat_weeks", None)
        host = data.pop("host")
        data["host_branch"] = data["host_region"] = None
        if host.startswith("region:"):
            data["host_region"] = Region.objects.get(pk=int(host.split(":")[1]))
        elif host.startswith("branch:"):
            data["host_branch"] = Branch.objects.get(pk=int(host.split(":")[1]))
        return data


class EventEditForm(forms.Form):
    """The details an organiser may change after the event is made (events.services.EDITABLE_FIELDS)."""

    title = EventForm.base_fields["title"]
    description = EventForm.base_fields["description"]
    starts_at = EventForm.base_fields["starts_at"]
    ends_at = EventForm.base_fields["ends_at"]
    venue = EventForm.base_fields["venue"]
    online_url = EventForm.base_fields["online_url"]
    capacity = EventForm.base_fields["capacity"]
    registration_opens_at = EventForm.base_fields["registration_opens_at"]
    registration_closes_at = EventForm.base_fields["registration_closes_at"]
    audience = EventForm.base_fields["audience"]
    audience_region = EventForm.base_fields["audience_region"]
    audience_branch = EventForm.base_fields["audience_branch"]
    audience_sector = EventForm.base_fields["audience_sector"]
    audience_category = EventForm.base_fields["audience_category"]
    audience_strand = EventForm.base_fields["audience_strand"]

    def __init__(self, *args, event: Event, **kwargs):
        initial = {name: getattr(event, name) for name in self.base_fields}
        super().__init__(*args, initial=initial, **kwargs)


class StewardForm(forms.Form):
    username = forms.CharField(
        label="Steward's user name",
        max_length=150,
        help_text="They will be able to use this event's check-in page, and nothing else of it.",
    )


class RegistrationForm(forms.Form):
    """The registration questions. Access needs are seen only by the member and the event's organisers."""

    access_needs = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=MAX_ACCESS_NEEDS,
        help_text="Anything we should arrange so you can take part. Only the event's organisers see this.",
    )
    needs_childcare = forms.BooleanField(label="I need childcare to attend", required=False)
    dietary_needs = forms.CharField(required=False, max_length=MAX_DIETARY)


class RegisterMemberForm(RegistrationForm):
    membership_number = forms.CharField(max_length=20, help_text="The member you are registering.")

    field_order = ["membership_number", "access_needs", "needs_childcare", "dietary_needs"]

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.members = members  # the acting user's scope

    def clean_membership_number(self) -> Member:
        number = self.cleaned_data["membership_number"].strip().upper()
        try:
            return self.members.get(membership_number=number)
        except Member.DoesNotExist as error:
            raise forms.ValidationError("No member with that number among the members you can see.") from error


class CheckInForm(forms.Form):
    code = forms.CharField(
        label="Check-in code",
        max_length=64,
        help_text="Scan the QR code, or type the code under it (e.g. R123-ABCD…).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "autofocus": True}),
    )


class DelegateRuleForm(forms.Form):
    members_per_delegate = forms.IntegerField(
        label="Members per delegate",
        min_value=1,
        max_value=100_000,
        help_text="One delegate per this many active members, or part thereof.",
    )
    minimum_per_branch = forms.IntegerField(label="Minimum per branch", min_value=0, max_value=100_000, initial=1)


class QuestionForm(forms.Form):
    text = forms.CharField(
        label="Your question",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The organisers choose questions to answer on the call. Up to three each.",
    )


class NameDelegateForm(forms.Form):
    branch = forms.ModelChoiceField(queryset=Branch.objects.none())
    membership_number = forms.CharField(max_length=20, help_text="An active member of the branch.")

    def __init__(self, *args, branches, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = branches


class MotionForm(forms.Form):
    branch = forms.ModelChoiceField(queryset=Branch.objects.none(), label="Submitted by branch")
    title = forms.CharField(max_length=200)
    text = forms.CharField(label="Motion", max_length=10_000, widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args, branches, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = branches


class AmendmentForm(forms.Form):
    motion = forms.ModelChoiceField(queryset=Branch.objects.none(), label="Motion to amend")
    branch = forms.ModelChoiceField(queryset=Branch.objects.none(), label="Submitted by branch")
    text = forms.CharField(label="Amendment", max_length=5_000, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, branches, motions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = branches
        self.fields["motion"].queryset = motions


class DeadlineForm(forms.Form):
    closes_at = forms.DateTimeField(label="Motions close", widget=DATETIME_INPUT)
    amendments_close_at = forms.DateTimeField(
        label="Amendments close",
        widget=DATETIME_INPUT,
        required=False,
        help_text="Optional: a later deadline, so branches can amend motions once all are in. "
        "Left empty, amendments close with the motions.",
    )


class CompositeForm(forms.Form):
    motions = forms.ModelMultipleChoiceField(
        queryset=Branch.objects.none(), widget=forms.CheckboxSelectMultiple, label="Motions to composite"
    )
    title = forms.CharField(max_length=200, label="Composite title")
    text = forms.CharField(label="Composite motion", max_length=10_000, widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args, motions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["motions"].queryset = motions


class AgendaForm(forms.Form):
    """One position per motion still before the conference: 1 is taken first."""

    def __init__(self, *args, motions, **kwargs):
        super().__init__(*args, **kwargs)
        self.motions = list(motions)
        for number, motion in enumerate(self.motions, start=1):
            self.fields[f"position_{motion.pk}"] = forms.IntegerField(
                label=motion.title, min_value=1, max_value=len(self.motions), initial=motion.agenda_position or number
            )

    def ordered_ids(self) -> list[int]:
        positions = {motion.pk: self.cleaned_data[f"position_{motion.pk}"] for motion in self.motions}
        if len(set(positions.values())) != len(positions):
            raise forms.ValidationError("Give each motion a different position.")
        return sorted(positions, key=positions.__getitem__)
