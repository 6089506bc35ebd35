"""The "Email delivery" report (Reports menu): every email the mail server refused (codes,
links and resets, access emails, bulk emails, expiry reminders), whether it is still being
retried, was sent in the end, or failed for good (docs/security.md#mail-retries). Editors who
may view grants see it; it can be exported.

Its rows are one query: the ``EmailChallenge`` and ``EmailSend`` rows with an error, as the
same columns, joined with ``UNION ALL`` (searched and sorted in the database)."""

from __future__ import annotations

from types import SimpleNamespace

from django.db.models import CharField, DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail.admin.auth import permission_denied
from wagtail.admin.menu import MenuItem
from wagtail.admin.paginator import WagtailPaginator
from wagtail.admin.ui.tables import Column, DateColumn, NumberColumn
from wagtail.admin.views.reports import ReportView

from ..models import EmailChallenge, EmailSend

__all__ = ["DeliveryReportView", "menu_item", "urlpatterns"]

PERMISSION = "wagtail_member_access.view_grant"

STATUS = {
    "sent": _("Sent after a retry"),
    "retrying": _("Retrying"),
    "failed": _("Failed for good"),
    "stopped": _("Not retried: replaced or used"),
}


def status_of(row) -> str:
    """``sent``, ``retrying``, ``failed`` (given up) or ``stopped`` (cancelled otherwise) for
    a challenge or a row of the report."""
    if row.sent_at:
        return "sent"
    if row.cancel_reason == EmailChallenge.CancelReason.SEND_FAILED:
        return "failed"
    if row.cancelled_at or row.redeemed_at:
        return "stopped"
    return "retrying"


#: The report's columns, as each model gives them (the same names in the same order: the
#: ``UNION`` needs it).
_TEXT = CharField()
_ROW = {
    EmailChallenge: {
        "requested": F("created_at"),
        "address": F("email"),
        "purpose_value": F("purpose"),
        "about": Coalesce(F("page__title"), Value(""), output_field=_TEXT),
        "attempts": F("send_attempts"),
        "sent_at_": F("sent_at"),
        "cancelled_at_": F("cancelled_at"),
        "reason": F("cancel_reason"),
        "redeemed_at_": F("redeemed_at"),
        "next_at": F("next_attempt_at"),
        "error": F("send_error"),
    },
    EmailSend: {
        "requested": F("created_at"),
        "address": F("email"),
        "purpose_value": F("kind"),
        "about": Coalesce(
            F("grant__access_list__name"),
            F("job__access_list__name"),
            Value(""),
            output_field=_TEXT,
        ),
        "attempts": F("send_attempts"),
        "sent_at_": F("sent_at"),
        "cancelled_at_": F("cancelled_at"),
        "reason": F("cancel_reason"),
        "redeemed_at_": Value(None, output_field=DateTimeField()),
        "next_at": F("next_attempt_at"),
        "error": F("send_error"),
    },
}
_PURPOSES = dict(EmailChallenge.Purpose.choices) | dict(EmailSend.Kind.choices)


def _row(values: dict) -> SimpleNamespace:
    """One row of the report, with the attributes its columns and its export read."""
    row = SimpleNamespace(
        created_at=values["requested"],
        email=values["address"],
        purpose=values["purpose_value"],
        purpose_label=_PURPOSES.get(values["purpose_value"], values["purpose_value"]),
        about=values["about"],
        send_attempts=values["attempts"],
        sent_at=values["sent_at_"],
        cancelled_at=values["cancelled_at_"],
        cancel_reason=values["reason"],
        redeemed_at=values["redeemed_at_"],
        next_attempt_at=values["next_at"],
        send_error=values["error"],
    )
    row.status = status_of(row)
    row.status_label = STATUS[row.status]
    return row


class _Paginator(WagtailPaginator):
    # The rows come from two models: count them as what they are.
    verbose_name = _("refused email")
    verbose_name_plural = _("refused emails")


class DeliveryReportView(ReportView):
    page_title = _("Email delivery")
    paginator_class = _Paginator
    verbose_name = _Paginator.verbose_name
    verbose_name_plural = _Paginator.verbose_name_plural
    header_icon = "warning"
    index_url_name = "wagtail_member_access_deliveries"
    index_results_url_name = "wagtail_member_access_deliveries_results"
    is_searchable = True
    search_fields = ["email"]
    default_ordering = "-requested"
    columns = [
        DateColumn("created_at", label=_("Requested"), sort_key="requested"),
        Column("email", label=_("Email"), sort_key="address"),
        Column("purpose_label", label=_("Purpose")),
        Column("about", label=_("Page or list")),
        NumberColumn("send_attempts", label=_("Attempts"), sort_key="attempts"),
        Column("status_label", label=_("Status")),
        DateColumn("next_attempt_at", label=_("Next attempt")),
        Column("send_error", label=_("Last error")),
    ]
    list_export = ["created_at", "email", "purpose", "send_attempts", "status", "send_error"]
    export_headings = {
        "created_at": _("Requested"),
        "email": _("Email"),
        "purpose": _("Purpose"),
        "send_attempts": _("Attempts"),
        "status": _("Status"),
        "send_error": _("Last error"),
    }

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(PERMISSION):
            return permission_denied(request)
        return super().dispatch(request, *args, **kwargs)

    def get_filename(self):
        return "email-delivery"

    def get_queryset(self):
        parts = []
        for model, row in _ROW.items():
            rows = self.search_queryset(model.objects.exclude(send_error=""))
            parts.append(rows.annotate(**row).values(*row))
        return self.order_queryset(parts[0].union(parts[1], all=True))

    def get_table(self, object_list):
        return super().get_table(self.decorate_paginated_queryset(object_list))

    def decorate_paginated_queryset(self, object_list):
        return [_row(values) if isinstance(values, dict) else values for values in object_list]


urlpatterns = [
    path(
        "member-access/email-delivery/",
        DeliveryReportView.as_view(),
        name="wagtail_member_access_deliveries",
    ),
    path(
        "member-access/email-delivery/results/",
        DeliveryReportView.as_view(results_only=True),
        name="wagtail_member_access_deliveries_results",
    ),
]


class _DeliveryMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(PERMISSION)


def menu_item() -> MenuItem:
    """For the ``register_reports_menu_item`` hook."""
    return _DeliveryMenuItem(
        _("Email delivery"),
        reverse("wagtail_member_access_deliveries"),
        name="member-access-email-delivery",
        icon_name="warning",
        order=1400,
    )
