from __future__ import annotations

from django import forms
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .conf import app_settings
from .members import MAX_EMAIL_LENGTH, normalize_email

__all__ = [
    "CodeForm",
    "EmailForm",
    "MemberPasswordChangeForm",
    "MemberSetPasswordForm",
    "PasswordSignInForm",
    "ResetCodeForm",
]


class EmailForm(forms.Form):
    email = forms.CharField(
        label=_("Email address"),
        max_length=MAX_EMAIL_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)

    def clean_email(self):
        try:
            return normalize_email(self.cleaned_data["email"])
        except ValidationError:
            raise ValidationError(_("Enter a valid email address."), code="invalid") from None


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the email"),
        max_length=16,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)

    def clean_code(self):
        code = "".join(self.cleaned_data["code"].split()).replace("-", "")
        length = app_settings.CODE_LENGTH
        if not code.isascii() or not code.isdigit() or len(code) != length:
            raise ValidationError(
                _("Enter the %(length)s-digit code from the email.") % {"length": length},
                code="format",
            )
        return code


# --- member accounts ----------------------------------------------------------------------------


class PasswordSignInForm(forms.Form):
    """Email (or, for editors, username) and password. Only the format is checked here:
    whether they are right is decided by ``accounts.authenticate_password``."""

    email = forms.CharField(
        label=_("Email address"),
        max_length=MAX_EMAIL_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "username", "spellcheck": "false"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)

    def clean_email(self):
        value = self.cleaned_data["email"].strip()
        if any(c in value for c in "\r\n\x00"):
            raise ValidationError(_("Enter a valid email address."), code="invalid")
        return value


class _TermsMixin:
    """Adds the terms checkbox when ``TERMS_URL`` is set and the member has not accepted yet."""

    def add_terms(self, required: bool):
        if required:
            self.fields["accept_terms"] = forms.BooleanField(
                label=_("I accept the terms of use"),
                required=True,
                error_messages={"required": _("Please accept the terms of use to continue.")},
            )


class MemberSetPasswordForm(_TermsMixin, SetPasswordForm):
    """A new password (twice), checked by Django's ``AUTH_PASSWORD_VALIDATORS`` against the
    member's account; plus the terms when they are required."""

    def __init__(self, user, *args, terms: bool = False, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.add_terms(terms)


class ResetCodeForm(MemberSetPasswordForm):
    """The forgotten-password code and the new password, on one page."""

    code = forms.CharField(
        label=_("Code from the email"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )
    field_order = ["code", "new_password1", "new_password2"]
    clean_code = CodeForm.clean_code


class MemberPasswordChangeForm(_TermsMixin, PasswordChangeForm):
    """A voluntary change from "My access": the current password, then the new one twice."""

    def __init__(self, user, *args, terms: bool = False, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.add_terms(terms)
