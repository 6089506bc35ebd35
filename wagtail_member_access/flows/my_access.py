"""What a member has access to: their access lists and the pages each opens, for "My access"
and the no-access page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from ..domains import address_domain, canonical_address
from ..models import Grant
from . import common

__all__ = ["AccessEntry", "member_access"]


@dataclass(frozen=True)
class AccessEntry:
    """One access list a member is on, for "My access" and the no-access page."""

    list_name: str
    status: str  # "active", "upcoming" or "expired"
    starts_at: datetime | None
    expires_at: datetime | None
    pages: tuple[tuple[str, str], ...]  # (title, url)

    @property
    def active(self) -> bool:
        return self.status == "active"


_ORDER = {"active": 0, "upcoming": 1, "expired": 2}


def _status(grant: Grant, now) -> str:
    if grant.is_active(now):
        return "active"
    if grant.starts_at and grant.starts_at > now:
        return "upcoming"
    return "expired"


def member_access(user, request=None) -> list[AccessEntry]:
    """Every access list ``user``'s email is on (active first, then upcoming, then expired;
    revoked grants are left out) with the live pages each opens. Three queries. Empty for an
    anonymous user and for an account whose address is malformed."""
    if user is None or not user.is_authenticated:
        return []
    try:
        email = common.email_of(user)
    except ValidationError:
        return []
    now = timezone.now()
    # Their own grants, and the domain grants they hold a seat on
    # (docs/courses-and-teams.md#domain-grants-and-seats).
    seat = Q(email=address_domain(email), seat_set__email=canonical_address(email))
    grants = (
        Grant.objects.filter(Q(email=email) | seat, revoked_at__isnull=True)
        .distinct()
        .select_related("access_list")
        .prefetch_related("access_list__restrictions__page")
    )
    entries = []
    for grant in grants:
        pages = tuple(
            (r.page.title, r.page.get_url(request) or "")
            for r in grant.access_list.restrictions.all()
            if r.page.live
        )
        entries.append(
            AccessEntry(
                grant.access_list.name,
                _status(grant, now),
                grant.starts_at,
                grant.expires_at,
                pages,
            )
        )
    entries.sort(key=lambda e: (_ORDER[e.status], e.list_name.lower()))
    return entries
