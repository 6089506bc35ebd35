"""The one decision: may this visitor see this page, or open this document?

The restrictions come from :mod:`.rules`; here the member's grants, groups and editing
permissions are weighed against them. Grants are read from the database on every request, so
expiry and revocation act at once.
"""

from __future__ import annotations

import functools
from datetime import datetime

from django.db import connection
from django.utils import timezone
from wagtail.documents.models import AbstractDocument
from wagtail.models import Collection

from ..domains import seat_keys
from ..members import NotAllowed, find_email_member, is_privileged
from ..models import Grant, PageAccessRestriction
from ..permission_policies import document_policy
from .drip import opens_at, to_moment
from .rules import (
    Decision,
    Rule,
    _grant_match_sql,
    _grant_params,
    _load,
    _params,
    _placeholders,
    _q,
    rules_for,
    rules_for_page,
)

__all__ = [
    "can_view",
    "can_view_document",
    "decide",
    "decide_document",
    "decision_for",
    "email_may_view",
    "email_mode",
    "member_may_view",
]

Mode = PageAccessRestriction.Mode


@functools.cache
def _grants_sql(placeholders: int, taking_seat: bool = False) -> str:
    meta = Grant._meta

    def col(name):
        return f"g.{_q(meta.get_field(name).column)}"

    lists = _placeholders("list", placeholders)
    last, starts, expires = col("last_access_at"), col("starts_at"), col("expires_at")
    return (
        f"SELECT {col('id')}, {col('access_list')}, "
        f"CASE WHEN {last} IS NULL OR {last} < %(stale_before)s THEN 1 ELSE 0 END, "
        f"COALESCE({starts}, {col('created_at')}) "
        f"FROM {_q(meta.db_table)} g WHERE {_grant_match_sql('g', taking_seat=taking_seat)} "
        f"AND {col('access_list')} IN ({lists}) AND {col('revoked_at')} IS NULL "
        f"AND ({starts} IS NULL OR {starts} <= %(now)s) "
        f"AND ({expires} IS NULL OR {expires} > %(now)s)"
    )


def _active_grants(
    email: str, list_ids: set[int], at: datetime, *, taking_seat: bool = False
) -> list[tuple]:
    """``(grant id, list id, last access is stale, start)`` of ``email``'s active grants on
    ``list_ids``: its own, and the domain grants it holds a seat on (``taking_seat``: or
    could take one). The start (``starts_at``, or when the grant was added) is for drip. An
    index lookup on (email, access_list)."""
    if not email or not list_ids:
        return []
    ids = sorted(list_ids)
    params = _params("list", ids) | _grant_params(email, at)
    with connection.cursor() as cursor:
        cursor.execute(_grants_sql(len(ids), taking_seat), params)
        return [
            (gid, list_id, bool(stale), to_moment(start))
            for gid, list_id, stale, start in cursor.fetchall()
        ]


def _user_email(user) -> str:
    # The form grants are keyed by (``members.normalize_email``), without its validation:
    # on every protected page view, for an address read from the user table. An address that
    # would not validate matches no grant (every grant's address was validated), so skipping
    # the check opens nothing.
    value = getattr(user, user.get_email_field_name(), "") or ""
    return value.strip().lower() if isinstance(value, str) else ""


def _evaluate(
    rules, *, authenticated: bool, email: str, group_ids, at, grants=None, taking_seat=False
) -> tuple[Rule | None, list, datetime | None]:
    """The first rule that does not pass (or None), the active grants that were used
    (``grants``, when already loaded with the rules), and, when only drip holds the member
    back, when every rule will have opened (docs/courses-and-teams.md#drip)."""
    if grants is None:
        needed = set().union(*(r.list_ids for r in rules)) if authenticated else set()
        grants = _active_grants(email, needed, at, taking_seat=taking_seat) if needed else []
    starts: dict[int, datetime] = {}
    for _, list_id, _, start in grants:
        starts[list_id] = min(start, starts.get(list_id, start))
    groups = None
    closed: list[tuple[Rule, datetime]] = []
    for rule in rules:
        if not authenticated:
            return rule, grants, None
        if rule.list_ids & starts.keys():
            opening = opens_at(rule, starts)
            if opening is None or opening <= at:
                continue
        else:
            opening = None
        if rule.mode == Mode.MEMBERS:
            if not rule.names_lists and not rule.group_ids:
                continue
            if rule.group_ids:
                if groups is None:
                    groups = set(group_ids())
                if rule.group_ids & groups:
                    continue
        if opening is None:
            return rule, grants, None
        closed.append((rule, opening))
    if closed:
        return closed[0][0], grants, max(opening for _, opening in closed)
    return None, grants, None


def _may_edit(user, page) -> bool:
    # Editors who may edit a page may view it (they would see it in preview anyway). Asked
    # only when the grants refused, so a member who may see the page pays no permission
    # queries; a refused one pays two (loading their permissions) to be sure.
    if not user or not user.is_authenticated or not is_privileged(user):
        return False
    if isinstance(page, AbstractDocument | Collection):
        return _may_change_documents(user, page)
    return page.permissions_for_user(user).can_edit()


def _may_change_documents(user, target) -> bool:
    # Editors who may change a document (or the documents of a collection) may open it, as
    # editors of a page may view it.
    policy = document_policy()
    if isinstance(target, AbstractDocument):
        return policy.user_has_permission_for_instance(user, "change", target)
    return policy.collections_user_has_permission_for(user, "change").filter(pk=target.pk).exists()


def _touch(grants, at) -> None:
    stale = [gid for gid, _, is_stale, _ in grants if is_stale]
    if stale:
        Grant.objects.filter(pk__in=stale).update(last_access_at=at)


def _decide_for_user(
    user, page, rules, *, touch: bool, grants=None, at=None, email=None
) -> Decision:
    if not rules:
        return Decision(True)
    at = at or timezone.now()
    authenticated = bool(user and user.is_authenticated)
    if email is None:
        email = _user_email(user) if authenticated else ""
    failed, grants, opening = _evaluate(
        rules,
        authenticated=authenticated,
        email=email,
        group_ids=lambda: user.groups.values_list("id", flat=True),
        at=at,
        grants=grants if authenticated else None,
    )
    by_editor = failed is not None and _may_edit(user, page)
    if by_editor:
        failed = None
    if failed is None and touch and grants:
        _touch(grants, at)
    return Decision(
        failed is None, rules, failed, by_editor, opening if failed is not None else None
    )


def decide(request, page, *, restricted: bool = False) -> Decision:
    """The decision for this request, cached on the request (one evaluation per page).

    ``request.user`` is only touched when the page has restrictions, so a public page does not
    load the session. ``restricted=True`` (the serve gate, which knows it from Wagtail's rows)
    reads the user first and the rules with the member's grants in one query.
    """
    cache = request.__dict__.setdefault("_wagtail_member_access_decisions", {})
    if page.pk not in cache:
        if restricted:
            user, at = request.user, timezone.now()
            email = _user_email(user) if user.is_authenticated else ""
            rules, grants = _load(page, email=email, at=at)
            cache[page.pk] = _decide_for_user(
                user, page, rules, touch=True, grants=grants if email else None, at=at, email=email
            )
        else:
            rules = rules_for_page(page)
            user = request.user if rules else None
            cache[page.pk] = _decide_for_user(user, page, rules, touch=True)
    return cache[page.pk]


def can_view(user, page) -> bool:
    """May ``user`` (or ``AnonymousUser``/None) view ``page``? The same rules as the page serve,
    including editors' right to view pages they may edit. Does not record an access."""
    return decision_for(user, page).allowed


def decision_for(user, page) -> Decision:
    """The decision :func:`can_view` makes, with why (``failed``) and, for a lesson that
    has not opened yet, when it opens (``opens_at``). Not cached; records no access."""
    return _decide_for_user(user, page, rules_for_page(page), touch=False)


def email_mode(rules) -> str | None:
    """How a page is unlocked by email: the mode of the innermost email restriction on its
    path (the most specific setting wins), or None if no restriction is unlocked by email."""
    modes = [rule.mode for rule in rules if rule.by_email]
    return modes[-1] if modes else None


def email_may_view(email: str, page, *, rules=None, taking_seat: bool = False) -> str | None:
    """If a member signed in with ``email`` could view ``page`` (or a document), the address
    to write to (the one stored on the grant); otherwise None. Used before sending a code: it
    is only sent to emails with access. Group rules use the groups of the existing account
    for ``email``. ``taking_seat``: a domain grant with a free seat counts as one the member
    holds a seat on (docs/courses-and-teams.md#domain-grants-and-seats)."""

    rules = rules_for(page) if rules is None else rules
    if not rules or not any(rule.by_email for rule in rules):
        return None
    return member_may_view(email, page, rules=rules, taking_seat=taking_seat)


def member_may_view(
    email: str, page, *, rules=None, open_now: bool = False, taking_seat: bool = False
) -> str | None:
    """If a member signed in with ``email`` could view ``page`` (whatever the page's modes),
    the address stored on the grant that opens it (for a domain grant, ``email`` with the
    domain in the grant's form); otherwise None (also for a page without restrictions, and
    for staff and inactive accounts, who are never signed in by email). A lesson that has not
    opened yet (drip) counts as viewable, so that the member can sign in and see when it
    opens, unless ``open_now``. ``taking_seat`` as in :func:`email_may_view`."""
    rules = rules_for(page) if rules is None else rules
    if not rules:
        return None
    try:
        user = find_email_member(email)
    except NotAllowed:
        return None
    at = timezone.now()
    failed, grants, opening = _evaluate(
        rules,
        authenticated=True,
        email=email,
        group_ids=(lambda: user.groups.values_list("id", flat=True)) if user else (lambda: ()),
        at=at,
        taking_seat=taking_seat,
    )
    if (failed is not None and (open_now or opening is None)) or not grants:
        return None
    stored = Grant.objects.filter(pk__in=[g[0] for g in grants]).values_list("email", flat=True)
    own = sorted(address for address in stored if not address.startswith("@"))
    return own[0] if own else seat_keys(email)[1]


def decide_document(request, document) -> Decision:
    """The decision for opening ``document`` (or the documents of a collection) in this
    request, cached on the request. ``request.user`` is only touched when the collection
    has restrictions."""
    cache = request.__dict__.setdefault("_wagtail_member_access_decisions", {})
    key = (type(document).__name__, document.pk)
    if key not in cache:
        rules = rules_for(document)
        user = request.user if rules else None
        cache[key] = _decide_for_user(user, document, rules, touch=True)
    return cache[key]


def can_view_document(user, document) -> bool:
    """May ``user`` (or ``AnonymousUser``/None) open ``document`` (or, given a collection, its
    documents)? The same rules as the document serve. Does not record an access."""
    return _decide_for_user(user, document, rules_for(document), touch=False).allowed
