from __future__ import annotations

from django import forms
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from . import passwords
from .conf import app_settings
from .members import MAX_EMAIL_LENGTH, normalize_email

__all__ = [
    "CodeForm",
    "CurrentPasswordForm",
    "EmailForm",
    "MemberPasswordChangeForm",
    "MemberSetPasswordForm",
    "NewEmailForm",
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


class _RulesMixin:
    """New passwords follow :mod:`wagtail_member_access.passwords` (the site's validators, or
    the package's when it has none: docs/security.md#password-rules), and say so."""

    def use_member_rules(self):
        self.fields["new_password1"].help_text = lazy(passwords.help_text_html, str)()

    def validate_password_for_user(self, user, password_field_name="password2", **kwargs):  # noqa: S107
        password = self.cleaned_data.get(password_field_name)
        if password:
            try:
                passwords.validate(password, user)
            except ValidationError as error:
                self.add_error(password_field_name, error)


class MemberSetPasswordForm(_RulesMixin, _TermsMixin, SetPasswordForm):
    """A new password (twice), checked against the member's account by the site's
    ``AUTH_PASSWORD_VALIDATORS`` (or the package's rules when it has none); plus the terms
    when they are required."""

    def __init__(self, user, *args, terms: bool = False, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.use_member_rules()
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


class MemberPasswordChangeForm(_RulesMixin, _TermsMixin, PasswordChangeForm):
    """A voluntary change from "My access": the current password, then the new one twice."""

    def __init__(self, user, *args, terms: bool = False, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.use_member_rules()
        self.add_terms(terms)


class CurrentPasswordForm(forms.Form):
    """The current password, to remove it (back to signing in by email)."""

    password = forms.CharField(
        label=_("Current password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError(
                _("Your current password was entered incorrectly."), code="password_incorrect"
            )
        return password


class NewEmailForm(EmailForm):
    """The address a member wants to use from now on."""

    email = forms.CharField(
        label=_("New email address"),
        max_length=MAX_EMAIL_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
