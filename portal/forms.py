"""The portal's forms: they check the shape of what a member types; crm.services.member_account checks the rules.
Each form lists only the fields a member may send, so anything else in a forged request is never read."""

from __future__ import annotations

from django import forms

from crm.services.member_account import MAX_ADDRESS_LENGTH, OWN_DETAIL_FIELDS
from crm.views.equalities import EqualitiesForm as BaseEqualitiesForm


class SignInForm(forms.Form):
    address = forms.CharField(
        label="Email address or mobile number",
        max_length=MAX_ADDRESS_LENGTH,
        help_text="The one on your membership record. We send a 6-digit code and a sign-in link to it.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "spellcheck": "false"}),
    )


class SignInCodeForm(forms.Form):
    code = forms.CharField(
        label="Sign-in code",
        max_length=12,
        help_text="The 6 digits in the message we sent.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class DetailsForm(forms.Form):
    email = forms.EmailField(label="Email address", required=False, max_length=254)
    # Wider than the stored E.164 value: people type spaces, brackets and dashes (the service normalises it).
    mobile = forms.CharField(label="Mobile number", required=False, max_length=32, help_text="e.g. 07911 123456")
    address_line1 = forms.CharField(label="Address line 1", required=False, max_length=150)
    address_line2 = forms.CharField(label="Address line 2", required=False, max_length=150)
    town = forms.CharField(label="Town or city", required=False, max_length=100)
    postcode = forms.CharField(label="Postcode", required=False, max_length=10)

    def details(self) -> dict:
        return {name: self.cleaned_data.get(name, "") for name in OWN_DETAIL_FIELDS}


class WorkplaceSearchForm(forms.Form):
    q = forms.CharField(label="School or college name, or postcode", min_length=2, max_length=100)


class WorkplaceChoiceForm(forms.Form):
    workplace = forms.ModelChoiceField(queryset=None, label="Your new workplace", widget=forms.RadioSelect)

    def __init__(self, *args, workplaces, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workplace"].queryset = workplaces


class PreferencesForm(forms.Form):
    email_consent = forms.BooleanField(label="Yes, send me campaign emails", required=False)
    sms_consent = forms.BooleanField(label="Yes, send me campaign texts", required=False)


class EqualitiesForm(BaseEqualitiesForm):
    """The staff pages' questions (each may be left unanswered or answered 'Prefer not to say'), and the
    member's own agreement to the wording shown."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consent"] = forms.BooleanField(
            label="I agree to the union keeping these answers as explained above",
            required=True,
            error_messages={"required": "Tick the box to agree, or leave this page without saving."},
        )


class CertificateCheckForm(forms.Form):
    """The public certificate checker: a verification code as printed on a certificate. Its shape and its
    signature are checked by events.selectors.certification_for_code; here only that something short was typed."""

    code = forms.CharField(
        label="Verification code",
        max_length=40,
        help_text="As printed at the foot of the certificate, for example C12-ABCDEFGHJKMNPQRS.",
        error_messages={
            "required": "Type the verification code printed on the certificate.",
            "max_length": "That is longer than any certificate's code. Check what you typed.",
        },
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}),
    )
