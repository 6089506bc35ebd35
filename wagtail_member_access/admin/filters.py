"""The grants listing's filters and search. Each status is a condition on the same four
fields that :meth:`GrantQuerySet.active` reads, so the listing, the counts and the access
decision agree on what "active" means. The search finds grants by the start of the email
address through an index (docs/performance.md#grants-listing-and-export)."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db import connections
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import WagtailFilterSet

from ..models import AccessList, Grant

__all__ = [
    "EXPIRING_DAYS",
    "GrantFilterSet",
    "STATUS_CHOICES",
    "filter_status",
    "search_grants",
    "status_at",
    "status_of",
]

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
    return status_at(grant.revoked_at, grant.starts_at, grant.expires_at, at or timezone.now())


def status_at(revoked_at, starts_at, expires_at, at) -> str:
    """The status key of a grant with these fields at the moment ``at``."""
    if revoked_at is not None:
        return "revoked"
    if starts_at is not None and starts_at > at:
        return "not_started"
    if expires_at is not None and expires_at <= at:
        return "expired"
    return "active"


def search_grants(queryset, query: str):
    """``queryset`` narrowed to the grants that ``query`` finds: those whose email address
    starts with it (an index range, whatever the number of grants) and, when ``query`` has no
    ``@``, also those whose name contains it (case-insensitive; this part reads every name of
    the filtered grants). An empty ``query`` finds everything."""
    text = query.strip()
    if not text:
        return queryset
    found = _email_starts_with(text.lower(), connections[queryset.db].vendor)
    if "@" not in text:
        found |= Q(name__icontains=text)
    return queryset.filter(found)


def _email_starts_with(prefix: str, vendor: str) -> Q:
    """Emails are stored lower-cased (``members.normalize_email``). PostgreSQL answers
    ``LIKE 'ana%'`` from the ``varchar_pattern_ops`` index; SQLite's ``LIKE`` ignores case and
    so cannot use a plain index, but a range under its binary collation is the same set."""
    if vendor == "postgresql":
        return Q(email__startswith=prefix)
    last = ord(prefix[-1])
    if last == 0x10FFFF:
        return Q(email__startswith=prefix)
    return Q(email__gte=prefix, email__lt=prefix[:-1] + chr(last + 1))


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
