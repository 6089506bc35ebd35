from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .conf import app_settings
from .members import MAX_EMAIL_LENGTH, normalize_email


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
