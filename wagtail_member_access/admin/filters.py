"""The grants listing's filters. Each status is a condition on the same four fields that
:meth:`GrantQuerySet.active` reads, so the listing, the counts and the access decision
agree on what "active" means."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import WagtailFilterSet

from ..models import AccessList, Grant

__all__ = ["EXPIRING_DAYS", "GrantFilterSet", "STATUS_CHOICES", "filter_status", "status_of"]

#: "Expiring soon" means: active, and ending within this many days.
EXPIRING_DAYS = 7

STATUS_CHOICES = [
    ("active", _("Active")),
    ("not_started", _("Not yet started")),
    ("expired", _("Expired")),
    ("revoked", _("Revoked")),
    ("expiring", _("Expiring within 7 days")),
]


def filter_status(queryset, status: str, at=None):
    """``queryset`` narrowed to the grants with ``status`` at ``at`` (default: now)."""
    at = at or timezone.now()
    if status == "active":
        return queryset.active(at)
    if status == "expiring":
        return queryset.active(at).filter(expires_at__lte=at + timedelta(days=EXPIRING_DAYS))
    if status == "not_started":
        return queryset.filter(revoked_at__isnull=True, starts_at__gt=at)
    if status == "expired":
        # Ended: not revoked, and not counted as "not yet started" either.
        return queryset.filter(
            Q(starts_at__isnull=True) | Q(starts_at__lte=at),
            revoked_at__isnull=True,
            expires_at__lte=at,
        )
    if status == "revoked":
        return queryset.filter(revoked_at__isnull=False)
    return queryset


def status_of(grant: Grant, at=None) -> str:
    """The status key of one grant (``expiring`` is reported as ``active``)."""
    at = at or timezone.now()
    if grant.revoked_at is not None:
        return "revoked"
    if grant.starts_at is not None and grant.starts_at > at:
        return "not_started"
    if grant.expires_at is not None and grant.expires_at <= at:
        return "expired"
    return "active"


class GrantFilterSet(WagtailFilterSet):
    access_list = django_filters.ModelChoiceFilter(
        queryset=AccessList.objects.all(), label=_("Access list")
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=STATUS_CHOICES,
        method="filter_by_status",
        empty_label=_("All"),
    )
    source = django_filters.ChoiceFilter(
        label=_("Source"), choices=Grant.Source.choices, empty_label=_("All")
    )

    class Meta:
        model = Grant
        fields = ["access_list", "status", "source"]

    def filter_by_status(self, queryset, name, value):
        return filter_status(queryset, value)
