"""The tenant extranet's forms: fields and labels only; every rule lives in tenancy.py."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def attach(form: forms.Form, exc: ValidationError) -> None:
    """A service's refusal shown on the form's fields (unknown fields: on the form)."""
    if hasattr(exc, "error_dict"):
        for name, messages in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, messages)
    else:
        form.add_error(None, exc.messages)


class PasswordInput(forms.PasswordInput):
    def __init__(self, autocomplete="new-password"):
        super().__init__(
            attrs={
                "autocomplete": autocomplete,
                "data-password-checklist": "1" if autocomplete == "new-password" else "",
                "spellcheck": "false",
            }
        )


class ChoicesMixin(forms.Form):
    paperless = forms.ChoiceField(
        label=_("I want my rent notice by e-mail (leases paid by direct debit only)"),
        choices=YES_NO,
        widget=forms.RadioSelect,
        initial="no",
    )
    commercial = forms.ChoiceField(
        label=_("I accept commercial information by e-mail"),
        choices=YES_NO,
        widget=forms.RadioSelect,
        initial="no",
    )
    general = forms.ChoiceField(
        label=_("I accept general (non-commercial) information by e-mail"),
        choices=YES_NO,
        widget=forms.RadioSelect,
        initial="no",
    )
    accept_terms = forms.BooleanField(
        label=_("I accept the terms of use and the privacy policy"), required=False
    )

    def choices(self):
        from backend.accounts.tenancy import Choices

        data = self.cleaned_data
        return Choices(
            paperless=data.get("paperless") == "yes",
            commercial=data.get("commercial") == "yes",
            general=data.get("general") == "yes",
            accept_terms=bool(data.get("accept_terms")),
        )


class AccountFields(ChoicesMixin):
    """The new account's identifier and password, then the consents (both activations)."""

    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        help_text=_("It becomes your identifier: check it carefully."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(label=_("Password"), max_length=128, widget=PasswordInput())
    confirm = forms.CharField(
        label=_("Confirm the password"), max_length=128, widget=PasswordInput("new-password")
    )
    field_order = [
        "email",
        "password",
        "confirm",
        "paperless",
        "commercial",
        "general",
        "accept_terms",
    ]


class NoticeActivationForm(AccountFields):
    reference = forms.CharField(
        label=_("Contract reference (digits, without the L)"),
        max_length=30,
        help_text=_("On your rent notice, e.g. 0012345."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    module = forms.CharField(
        label=_("Module number"),
        max_length=20,
        help_text=_("On your rent notice, next to the contract reference."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    surname = forms.CharField(
        label=_("Surname of the main signatory (or yours, if you co-signed the lease)"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    field_order = [
        "reference",
        "module",
        "surname",
        "email",
        "password",
        "confirm",
        "paperless",
        "commercial",
        "general",
        "accept_terms",
    ]


class ProvisionalForm(forms.Form):
    identifier = forms.CharField(
        label=_("Provisional identifier"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    secret = forms.CharField(
        label=_("Provisional password"),
        max_length=64,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )


class SecureAccountForm(AccountFields):
    """Step 2 with the agency's letter."""


class LoginForm(forms.Form):
    identifier = forms.CharField(
        label=_("E-mail, mobile number or contract reference"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label=_("Password"), max_length=128, widget=PasswordInput("current-password")
    )
    remember = forms.BooleanField(label=_("Remember me on this device"), required=False)


class IdentifierForm(forms.Form):
    identifier = forms.CharField(
        label=_("E-mail, mobile number or contract reference"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )


class ForgotIdentifierForm(forms.Form):
    reference = forms.CharField(
        label=_("Contract reference (digits, without the L)"), max_length=30
    )
    surname = forms.CharField(label=_("Your surname"), max_length=100)


class NewPasswordForm(forms.Form):
    password = forms.CharField(label=_("New password"), max_length=128, widget=PasswordInput())
    confirm = forms.CharField(
        label=_("Confirm the password"), max_length=128, widget=PasswordInput("new-password")
    )


class ChangePasswordForm(NewPasswordForm):
    old = forms.CharField(
        label=_("Current password"), max_length=128, widget=PasswordInput("current-password")
    )
    field_order = ["old", "password", "confirm"]


class ChangeEmailForm(forms.Form):
    email = forms.EmailField(label=_("New e-mail address"), max_length=254)
    password = forms.CharField(
        label=_("Current password"), max_length=128, widget=PasswordInput("current-password")
    )


class MobileForm(forms.Form):
    mobile = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code received by text message"),
        max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class ConsentsForm(forms.Form):
    paperless = ChoicesMixin.base_fields["paperless"]
    commercial = ChoicesMixin.base_fields["commercial"]
    general = ChoicesMixin.base_fields["general"]


class MergeForm(forms.Form):
    identifier = forms.CharField(
        label=_("Provisional identifier of the other home"), max_length=20, required=False
    )
    secret = forms.CharField(
        label=_("Its provisional password"),
        max_length=64,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    reference = forms.CharField(label=_("Or its contract reference"), max_length=30, required=False)
    module = forms.CharField(label=_("Its module number"), max_length=20, required=False)
    surname = forms.CharField(label=_("The signatory's surname"), max_length=100, required=False)
    password = forms.CharField(
        label=_("Your current password"), max_length=128, widget=PasswordInput("current-password")
    )


class HelpForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=200)
    contact = forms.CharField(label=_("E-mail or phone where we can answer you"), max_length=254)
    contract_reference = forms.CharField(
        label=_("Contract reference (if you have it)"), max_length=30, required=False
    )
    message = forms.CharField(
        label=_("What happens?"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4})
    )
