import math

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from backend.accounts import throttle
from backend.accounts.auth import is_staff_user


def client_address(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a proxy rewrites it, and
    # the deployment guide puts the proxy's address rewriting in front (docs/deployment.md).
    return request.META.get("REMOTE_ADDR", "") if request else ""


class StaffLoginForm(AuthenticationForm):
    """Django's login form with CNIL throttling, for staff and contractors."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Incorrect username or password."),
        "not_staff": _("This account cannot use the staff pages."),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("Username")
        # No autofocus: on a phone it pops the keyboard up and skips the "skip to content" link.
        self.fields["username"].widget.attrs.pop("autofocus", None)
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "username", "autocapitalize": "none"}
        )
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        attempt = throttle.Attempt(username, client_address(self.request))
        verdict = attempt.begin()
        if not verdict.allowed:
            minutes = max(1, math.ceil(verdict.retry_after.total_seconds() / 60))
            raise forms.ValidationError(
                ngettext(
                    "Too many failed attempts. Try again in %(minutes)d minute.",
                    "Too many failed attempts. Try again in %(minutes)d minutes.",
                    minutes,
                )
                % {"minutes": minutes},
                code="throttled",
            )
        cleaned = super().clean()  # a failure keeps the attempt's rows: they count
        attempt.succeeded()
        return cleaned

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not is_staff_user(user):
            raise forms.ValidationError(self.error_messages["not_staff"], code="not_staff")
