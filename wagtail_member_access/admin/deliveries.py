"""The "Email delivery" report (Reports menu): every code, link and reset email the mail
server refused, whether it is still being retried, was sent in the end, or failed for good
(docs/security.md#mail-retries). Editors who may view grants see it; it can be exported."""

from __future__ import annotations

from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail.admin.auth import permission_denied
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.tables import Column, DateColumn, NumberColumn
from wagtail.admin.views.reports import ReportView

from ..models import EmailChallenge

__all__ = ["DeliveryReportView", "menu_item", "urlpatterns"]

PERMISSION = "wagtail_member_access.view_grant"

STATUS = {
    "sent": _("Sent after a retry"),
    "retrying": _("Retrying"),
    "failed": _("Failed for good"),
    "stopped": _("Not retried: replaced or used"),
}


def status_of(challenge: EmailChallenge) -> str:
    """``sent``, ``retrying``, ``failed`` (given up) or ``stopped`` (cancelled otherwise)."""
    if challenge.sent_at:
        return "sent"
    if challenge.cancel_reason == EmailChallenge.CancelReason.SEND_FAILED:
        return "failed"
    if challenge.cancelled_at or challenge.redeemed_at:
        return "stopped"
    return "retrying"


class DeliveryReportView(ReportView):
    page_title = _("Email delivery")
    header_icon = "warning"
    index_url_name = "wagtail_member_access_deliveries"
    index_results_url_name = "wagtail_member_access_deliveries_results"
    is_searchable = True
    search_fields = ["email"]
    default_ordering = "-created_at"
    columns = [
        DateColumn("created_at", label=_("Requested"), sort_key="created_at"),
        Column("email", label=_("Email"), sort_key="email"),
        Column("get_purpose_display", label=_("Purpose")),
        Column("page", label=_("Page")),
        NumberColumn("send_attempts", label=_("Attempts"), sort_key="send_attempts"),
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

    def get_base_queryset(self):
        return EmailChallenge.objects.exclude(send_error="").select_related("page")

    def decorate_paginated_queryset(self, object_list):
        for challenge in object_list:
            challenge.status = status_of(challenge)
            challenge.status_label = STATUS[challenge.status]
        return object_list


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
