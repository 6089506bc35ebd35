"""Forms of the access-list admin. The grant form only validates and collects arguments:
saving is :func:`wagtail_member_access.grants.grant`'s, so the admin validates, logs and
signals exactly as the API, the import and the webhook do."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.widgets import AdminDateInput, AdminDateTimeInput

from .. import grants, moments
from ..conf import app_settings
from ..domains import is_domain, normalize_grantee
from ..imports import day_end
from ..models import AccessList, Grant

__all__ = [
    "AccessListForm",
    "ExpiryDateTimeInput",
    "ExtendForm",
    "GrantForm",
    "ImportForm",
    "end_of_day",
]


def end_of_day(day) -> datetime:
    """Access "until 2026-12-31" lasts all that day: it ends when the next day begins, in
    the editor's time zone (as a CSV import's dates do)."""
    return timezone.make_aware(
        datetime.combine(day + timedelta(days=1), time.min), timezone.get_current_timezone()
    )


class ExpiryDateTimeInput(AdminDateTimeInput):
    """Wagtail's date-time picker for an expiry, picking days only. A day picked is
    written as a date without a time, which the form reads as the end of that day;
    Wagtail's picker would add the current clock time ("2026-12-31 06:25"), ending access
    that morning (docs/editor-guide.md#adding-and-editing-a-grant). A time can still be
    typed. An expiry at midnight is shown as the last day it includes (docs/expiry.md#shown);
    the picker must leave that date, or a typed time, as it is when the field loses focus,
    since "2031-01-31 00:00" would be the start of that day, a day less of access."""

    def get_config(self):
        return {
            **super().get_config(),
            "format": "Y-m-d",
            "timepicker": False,
            "validateOnBlur": False,
        }


class AccessListForm(WagtailAdminModelForm):
    class Meta:
        model = AccessList
        fields = ["name", "slug", "description", "site", "default_days"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text = _(
            "Used by the CSV import command and the purchase webhook. Leave empty to make "
            "one from the name."
        )
        self.fields["site"].empty_label = _("All sites")

    def clean_default_days(self):
        days = self.cleaned_data.get("default_days")
        if days is not None and days < 1:
            raise ValidationError(_("Enter a number of days of 1 or more, or leave it empty."))
        return days


class GrantForm(WagtailAdminModelForm):
    """Add a grant (email, name, starts, expires or unlimited, note) or edit one (the email
    and the list are then fixed: one grant per email and list)."""

    unlimited = forms.BooleanField(
        label=_("Unlimited"),
        required=False,
        help_text=_("Tick for access without an end; the expiry date must then be empty."),
    )

    notify = forms.BooleanField(
        label=_("Email the access"),
        required=False,
        help_text=_(
            "Send “Your access is ready” with a sign-in link for each page the list opens "
            "(and a set-your-password link if the member has no password yet)."
        ),
    )

    restore = forms.BooleanField(
        label=_("Restore access"),
        required=False,
        help_text=_(
            "This grant is revoked. Tick to give its access back; saved without, it stays "
            "revoked (changes to the name, note or dates are saved)."
        ),
    )

    # A domain (@school.example) is not an email address: checked by clean_email.
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        help_text=_(
            "One address, or a domain such as @school.example for everyone who proves an "
            "address at exactly that domain."
        ),
    )

    class Meta:
        model = Grant
        fields = ["access_list", "email", "name", "starts_at", "expires_at", "seats", "note"]
        widgets = {"starts_at": AdminDateTimeInput, "expires_at": ExpiryDateTimeInput}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.creating = self.instance.pk is None
        self.fields["starts_at"].help_text = _("Leave empty for access from now on.")
        if self.creating or self.instance.revoked_at is None:
            del self.fields["restore"]  # only a revoked grant is restored, and only when ticked
        if self.creating:
            self.fields["expires_at"].help_text = _(
                "Leave empty for the list's default access period (unlimited if the list has none)."
            )
        else:
            del self.fields["notify"]  # editing: the bulk action "Resend access email" sends it
            if not self.instance.is_domain:
                del self.fields["seats"]  # one address holds no seats
            for name in ("access_list", "email"):
                self.fields[name].disabled = True
            self.fields["expires_at"].help_text = _(
                "When the access ends. Leave empty and tick “Unlimited” for access without an end."
            )
            self.initial.setdefault("unlimited", self.instance.expires_at is None)
            # An expiry at midnight is shown as the last day it includes, as the emails and
            # the listing show it; saved unchanged, it means the end of that day again.
            if (day := moments.last_day(self.instance.expires_at)) is not None:
                self.initial["expires_at"] = day.isoformat()
        self.fields["expires_at"].help_text = format_lazy(
            "{} {}",
            self.fields["expires_at"].help_text,
            _("A date without a time means until the end of that day."),
        )

    def clean_expires_at(self):
        # A date without a time means until the end of that day, as in a CSV import: access
        # "until 31 January" includes 31 January.
        value = self.cleaned_data.get("expires_at")
        if value is not None:
            raw = str(self.data.get(self.add_prefix("expires_at"), ""))
            value = day_end(raw, timezone.get_current_timezone()) or value
        return value

    def clean_email(self):
        email = self.cleaned_data.get("email")
        if self.creating and email:
            try:
                email = normalize_grantee(email)
            except ValidationError:
                if is_domain(email):
                    raise ValidationError(
                        _("Enter a domain such as @school.example (no address, no spaces).")
                    ) from None
                raise ValidationError(_("Enter a valid email address.")) from None
        return email

    def clean_seats(self):
        seats = self.cleaned_data.get("seats")
        email = self.cleaned_data.get("email") or self.instance.email
        if seats is not None:
            if email and not is_domain(email):
                raise ValidationError(_("Seats are for a domain (@school.example) only."))
            if seats < 1:
                raise ValidationError(_("Enter 1 seat or more, or leave it empty for no limit."))
        return seats

    def clean(self):
        data = super().clean()
        starts, expires = data.get("starts_at"), data.get("expires_at")
        if data.get("unlimited") and expires:
            self.add_error(
                "unlimited", _("Either give an expiry date or tick “Unlimited”, not both.")
            )
        elif not self.creating and not data.get("unlimited") and expires is None:
            self.add_error("expires_at", _("Enter when the access ends, or tick “Unlimited”."))
        if starts and expires and expires <= starts:
            self.add_error("expires_at", _("The access must end after it starts."))
        access_list, email = data.get("access_list"), data.get("email")
        if (
            self.creating
            and access_list
            and email
            and Grant.objects.filter(access_list=access_list, email=email).exists()
        ):
            self.add_error(
                "email",
                _(
                    "%(email)s already has a grant on “%(list)s”. Edit that grant instead (a "
                    "revoked one is restored with the bulk action “Restore”)."
                )
                % {"email": email, "list": access_list.name},
            )
        return data

    def _get_validation_exclusions(self):
        # The model's EmailField would refuse a domain: clean_email has checked the value.
        return {*super()._get_validation_exclusions(), "email"}

    def validate_unique(self):
        # Uniqueness is clean()'s (with a message that says what to do) and, in the end,
        # grants.grant's, which serialises concurrent grants for the same email and list.
        pass

    def grant_arguments(self) -> dict:
        """Keyword arguments for :func:`grants.grant` (without source and added_by)."""
        data = self.cleaned_data
        if data.get("unlimited"):
            expires_at = None
        elif data.get("expires_at") is None:
            expires_at = grants.UNSET  # a new grant: the list's default period
        else:
            expires_at = data["expires_at"]
        return {
            "email": data["email"],
            "access_list": data["access_list"],
            "name": data.get("name", ""),
            "starts_at": data.get("starts_at"),
            "expires_at": expires_at,
            "note": data.get("note", ""),
            "notify": bool(data.get("notify")),
            "seats": data.get("seats"),
            "restore": "restore" not in self.fields or bool(data.get("restore")),
        }


class ExtendForm(forms.Form):
    """The bulk action "Extend access": by a number of days, or to a date."""

    days = forms.IntegerField(
        label=_("Extend by (days)"),
        required=False,
        min_value=1,
        max_value=36500,
        help_text=_("Added to each grant's end, or to today for access that has ended."),
    )
    until = forms.DateField(
        label=_("Or: access until"),
        required=False,
        widget=AdminDateInput,
        help_text=_("The new last day of access for every selected grant."),
    )

    def clean(self):
        data = super().clean()
        days, until = data.get("days"), data.get("until")
        if (days is None) == (until is None) and not self.errors:
            raise ValidationError(_("Give either a number of days or a date."))
        if until is not None and end_of_day(until) <= timezone.now():
            self.add_error("until", _("The new end must be in the future."))
        return data

    def extend_arguments(self) -> dict:
        data = self.cleaned_data
        if data.get("days") is not None:
            return {"days": data["days"]}
        return {"until": end_of_day(data["until"])}


class ImportForm(forms.Form):
    """The CSV upload; with ``choose_list`` (the import reached from the grants listing
    rather than from one list) also the access list to import into."""

    access_list = forms.ModelChoiceField(
        queryset=AccessList.objects.order_by("name"),
        label=_("Access list"),
        help_text=_("The list the grants are imported into."),
    )
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns email, name, starts, expires, note (English or German headers), "
            "separated by commas or semicolons, UTF-8."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args, choose_list: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not choose_list:
            del self.fields["access_list"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = app_settings.IMPORT_MAX_SIZE
        if upload.size > limit:
            raise ValidationError(
                _(
                    "The file is %(size)s MB; files up to %(limit)s MB can be imported. "
                    "Split it into smaller files."
                )
                % {
                    "size": f"{upload.size / 1_000_000:.1f}",
                    "limit": f"{limit / 1_000_000:g}",
                }
            )
        return upload
