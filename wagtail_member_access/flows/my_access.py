"""What a member has access to: their access lists and the pages each opens, for "My access"
and the no-access page, with when each page that drips opens (docs/courses-and-teams.md#drip);
and, for the "this lesson opens on" page, the lessons beside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import access, moments, user_agents
from ..access.drip import grant_start
from ..domains import address_domain, canonical_address
from ..models import Grant
from . import common, sessions

__all__ = ["AccessEntry", "Lesson", "browsers", "lessons_beside", "member_access"]

#: The most lessons the "opens on" page lists.
MAX_LESSONS = 50


@dataclass(frozen=True)
class AccessEntry:
    """One access list a member is on, for "My access" and the no-access page."""

    list_name: str
    status: str  # "active", "upcoming", "expired" or "revoked"
    starts_at: datetime | None
    expires_at: datetime | None
    pages: tuple[tuple[str, str], ...]  # (title, url)
    revoked_at: datetime | None = None
    #: For each of ``pages``, when it opens for this member (drip), None when it is open.
    opens_at: tuple[datetime | None, ...] = ()

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def page_items(self) -> list[tuple[str, str, str]]:
        """(title, url, when it opens in words) of each page; ``""`` for an open page."""
        opens = self.opens_at or (None,) * len(self.pages)
        return [
            (title, url, moments.moment(when) if when else "")
            for (title, url), when in zip(self.pages, opens, strict=True)
        ]

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
        restrictions = [r for r in grant.access_list.restrictions.all() if r.page.live]
        entries.append(
            AccessEntry(
                grant.access_list.name,
                _status(grant, now),
                grant.starts_at,
                grant.expires_at,
                tuple((r.page.title, r.page.get_url(request) or "") for r in restrictions),
                grant.revoked_at,
                tuple(_opens(grant, r, now) for r in restrictions),
            )
        )
    entries.sort(key=lambda e: (_ORDER[e.status], e.list_name.lower()))
    return entries


def _opens(grant: Grant, restriction, now) -> datetime | None:
    """When ``restriction``'s pages open for ``grant``'s member, None if they are open (or
    do not drip, or the grant was revoked or has ended). Counted from this grant's start, as
    the access decision does."""
    if restriction.opens_after is None or _status(grant, now) not in ("active", "upcoming"):
        return None
    when = grant_start(grant) + restriction.opens_after
    return when if when > now else None


@dataclass(frozen=True)
class Lesson:
    """A page beside a lesson that has not opened yet."""

    title: str
    url: str
    #: When it opens for the member; None: it is open now.
    opens_at: datetime | None

    @property
    def opens_on(self) -> str:
        """When it opens, in words with the time zone (as the page's own date); ``""``
        when it is open."""
        return moments.moment(self.opens_at) if self.opens_at else ""


def lessons_beside(user, page, rule, request=None) -> list[Lesson]:
    """The live pages beside ``page`` (same parent) whose own restriction names one of the
    access lists ``rule`` names (the restriction that holds ``page`` back), in the site's
    order, with when each opens for ``user``; those the member cannot see at all are left
    out. At most :data:`MAX_LESSONS`; about two queries per page."""
    parent = page.get_parent()
    if parent is None or not rule.named_list_ids:
        return []
    siblings = (
        parent.get_children()
        .live()
        .exclude(pk=page.pk)
        .filter(member_access_restriction__access_lists__in=rule.named_list_ids)
        .distinct()
        .order_by("path")[:MAX_LESSONS]
    )
    lessons = []
    for sibling in siblings:
        decision = access.decision_for(user, sibling)
        if decision.allowed or decision.opens_at is not None:
            lessons.append(
                Lesson(
                    sibling.title,
                    sibling.get_url(request) or "",
                    None if decision.allowed else decision.opens_at,
                )
            )
    return lessons


def browsers(request) -> list[dict]:
    """The member's signed-in browsers for "My access" (:func:`sessions.active_sessions`),
    each with ``browser``: the browser in words ("Chrome on Linux", by
    ``user_agents.browser_name``; ``device`` stays the raw User-Agent), and ``last_seen``:
    when, in words with the time zone, by ``moments.moment`` like every other date on the
    page (docs/expiry.md#shown)."""
    return [
        {
            **session,
            "browser": user_agents.browser_name(session["device"]),
            "last_seen": moments.moment(session["last_seen_at"]),
        }
        for session in sessions.active_sessions(request)
    ]
