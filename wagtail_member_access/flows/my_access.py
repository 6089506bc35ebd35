"""What a member has access to: their access lists and the pages each opens, for "My access"
and the no-access page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import moments
from ..domains import address_domain, canonical_address
from ..models import Grant
from . import common

__all__ = ["AccessEntry", "member_access"]


@dataclass(frozen=True)
class AccessEntry:
    """One access list a member is on, for "My access" and the no-access page."""

    list_name: str
    status: str  # "active", "upcoming", "expired" or "revoked"
    starts_at: datetime | None
    expires_at: datetime | None
    pages: tuple[tuple[str, str], ...]  # (title, url)
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def when(self) -> str:
        """The entry's dates in words, by the rules of ``moments`` (docs/expiry.md#shown):
        "until the end of 31 January 2031 (UTC)", "starts …", "ended …", "revoked on …";
        "" for unlimited access."""
        if self.status == "revoked":
            return moments.revoked(self.revoked_at)
        if self.status == "upcoming":
            return _("starts %(moment)s") % {"moment": moments.moment(self.starts_at)}
        if self.status == "expired":
            return moments.ended(self.expires_at)
        return moments.until(self.expires_at)


_ORDER = {"active": 0, "upcoming": 1, "expired": 2, "revoked": 3}


def _status(grant: Grant, now) -> str:
    if grant.revoked_at is not None:
        return "revoked"
    if grant.is_active(now):
        return "active"
    if grant.starts_at and grant.starts_at > now:
        return "upcoming"
    return "expired"


def member_access(user, request=None) -> list[AccessEntry]:
    """Every access list ``user``'s email is on (active first, then upcoming, then expired,
    then revoked) with the live pages each opens. Three queries. Empty for an
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
        Grant.objects.filter(Q(email=email) | seat)
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
                grant.revoked_at,
            )
        )
    entries.sort(key=lambda e: (_ORDER[e.status], e.list_name.lower()))
    return entries
