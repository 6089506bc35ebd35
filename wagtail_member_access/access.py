"""The one decision: may this visitor see this page?

The page serve (through the ``on_serve_page`` hook), :func:`wagtail_member_access.api.can_view`
and the send-a-code flow all decide here. Cost, measured in tests and ``make bench``:

* a page with no restriction on its path: one query (the restrictions of its ancestors);
* a protected page for a member who may see it: that query plus one for the member's active
  grants (an indexed lookup by email, so it does not grow with the number of grants), plus a
  rare write of ``last_access_at``.

Grants are read from the database on every request, so expiry and revocation act at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import swapper
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from wagtail.documents import get_document_model
from wagtail.documents.models import AbstractDocument
from wagtail.models import Collection, Site
from wagtail.permissions import policy_registry

from .conf import app_settings
from .members import NotAllowed, find_member, is_privileged, normalize_email
from .models import AccessList, CollectionAccessRestriction, Grant, PageAccessRestriction

if TYPE_CHECKING:
    from wagtail.models import Page

__all__ = [
    "Decision",
    "PathRestriction",
    "PathRestrictions",
    "Rule",
    "can_view",
    "can_view_document",
    "decide",
    "decide_document",
    "email_may_view",
    "email_mode",
    "member_may_view",
    "path_restrictions",
    "rules_for",
    "rules_for_collection",
    "rules_for_page",
]

Mode = PageAccessRestriction.Mode


@dataclass(frozen=True)
class Rule:
    """A snapshot of one restriction on a page's path."""

    id: int
    #: The page it is set on (None for a collection's restriction).
    page_id: int | None
    depth: int
    mode: str
    #: The access lists that open it on this page's site (lists of other sites left out).
    list_ids: frozenset[int]
    group_ids: frozenset[int]
    #: Every access list the restriction names, those of other sites included (they do not
    #: open it here, but the admin shows them).
    named_list_ids: frozenset[int] = frozenset()
    #: The collection it is set on (documents), None for a page's restriction.
    collection_id: int | None = None

    @property
    def names_lists(self) -> bool:
        """True when the restriction names any access list, even one of another site: a
        members-only restriction naming lists never falls back to "any signed-in member"."""
        return bool(self.named_list_ids)

    @property
    def by_email(self) -> bool:
        """Unlocked by proving an email on one of the lists (code and/or link)."""
        return self.mode != Mode.MEMBERS


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rules: tuple[Rule, ...] = ()
    #: The outermost restriction that refused the visitor (None when allowed).
    failed: Rule | None = None

    @property
    def restricted(self) -> bool:
        """True when any restriction applies, even if it passed: the response is private."""
        return bool(self.rules)


def _ancestor_paths(page) -> list[str]:
    step = page.steplen
    return [page.path[:end] for end in range(step, len(page.path) + 1, step)]


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


@functools.cache
def _rules_sql(placeholders: int) -> str:
    # Hand-written SQL for the two queries on every page view: building the same query with
    # the ORM costs many times more than running it (measured in ``make bench``). Every name
    # comes from the models' metadata, quoted; every value is a parameter.
    #
    # An access list that belongs to one site opens pages of that site only: its link is
    # dropped unless the list has no site or its site's root page is one of the page's
    # ancestors (or the page itself). Same single query.
    page = swapper.load_model("wagtailcore", "Page")._meta
    restriction = PageAccessRestriction._meta
    lists = PageAccessRestriction.access_lists.through._meta
    groups = PageAccessRestriction.groups.through._meta
    access_list = AccessList._meta
    site = Site._meta
    r_id, r_page = _q(restriction.pk.column), _q(restriction.get_field("page").column)
    link = _q(lists.get_field("pageaccessrestriction").column)
    group_link = _q(groups.get_field("pageaccessrestriction").column)
    list_site = _q(access_list.get_field("site").column)
    paths = ", ".join(["%s"] * placeholders)
    return (
        f"SELECT r.{r_id}, r.{r_page}, p.{_q('depth')}, r.{_q('mode')}, "
        f"a.{_q(access_list.pk.column)}, g.{_q(groups.get_field('group').column)}, "
        f"l.{_q(lists.get_field('accesslist').column)} "
        f"FROM {_q(restriction.db_table)} r "
        f"INNER JOIN {_q(page.db_table)} p ON p.{_q(page.pk.column)} = r.{r_page} "
        f"LEFT OUTER JOIN {_q(lists.db_table)} l ON l.{link} = r.{r_id} "
        f"LEFT OUTER JOIN {_q(access_list.db_table)} a "
        f"ON a.{_q(access_list.pk.column)} = l.{_q(lists.get_field('accesslist').column)} "
        f"AND (a.{list_site} IS NULL OR a.{list_site} IN ("
        f"SELECT s.{_q(site.pk.column)} FROM {_q(site.db_table)} s "
        f"INNER JOIN {_q(page.db_table)} sp "
        f"ON sp.{_q(page.pk.column)} = s.{_q(site.get_field('root_page').column)} "
        f"WHERE sp.{_q('path')} IN ({paths}))) "
        f"LEFT OUTER JOIN {_q(groups.db_table)} g ON g.{group_link} = r.{r_id} "
        f"WHERE p.{_q('path')} IN ({paths}) ORDER BY p.{_q('depth')}"
    )


def rules_for_page(page) -> tuple[Rule, ...]:
    """Every restriction on ``page`` and its ancestors, outermost first, each with the access
    lists that may open it on this page's site. One query; an empty tuple when nothing on the
    path is restricted.

    The one reader of a path's restrictions: the serve, :func:`can_view`, the flows and the
    admin (through :func:`path_restrictions`) all start here."""
    paths = _ancestor_paths(page)
    with connection.cursor() as cursor:
        cursor.execute(_rules_sql(len(paths)), paths * 2)
        rows = cursor.fetchall()
    collected: dict[int, dict] = {}
    for rid, page_id, depth, mode, list_id, group_id, linked_list_id in rows:
        entry = collected.setdefault(
            rid,
            {
                "page_id": page_id,
                "depth": depth,
                "mode": mode,
                "lists": set(),
                "groups": set(),
                "named": set(),
            },
        )
        if list_id is not None:
            entry["lists"].add(list_id)
        if linked_list_id is not None:
            entry["named"].add(linked_list_id)
        if group_id is not None:
            entry["groups"].add(group_id)
    return tuple(
        Rule(
            id=rid,
            page_id=e["page_id"],
            depth=e["depth"],
            mode=e["mode"],
            list_ids=frozenset(e["lists"]),
            group_ids=frozenset(e["groups"]),
            named_list_ids=frozenset(e["named"]),
        )
        for rid, e in collected.items()
    )


@dataclass(frozen=True)
class PathRestriction:
    """One restriction on a page's path with what it names, loaded for display (the admin)."""

    rule: Rule
    #: The page it is set on (a plain ``Page`` for an ancestor, the page asked about for its own).
    page: Page
    #: Every access list it names, by name, those of other sites included.
    access_lists: tuple[AccessList, ...]
    #: Its groups, by name.
    groups: tuple[Group, ...]

    @property
    def mode(self) -> str:
        return self.rule.mode

    def get_mode_display(self) -> str:
        return Mode(self.rule.mode).label


@dataclass(frozen=True)
class PathRestrictions:
    """The restrictions on a page's path: the page's own and those it inherits."""

    own: PathRestriction | None
    #: The ancestors' restrictions, outermost first.
    inherited: tuple[PathRestriction, ...]


def path_restrictions(page) -> PathRestrictions:
    """The restrictions on ``page`` and its ancestors, read by :func:`rules_for_page`, with the
    pages they are set on, the lists and the groups they name. One query when nothing on the
    path is restricted (``own`` None, ``inherited`` empty); otherwise at most three more (the
    ancestors, the lists, the groups), each skipped when there is nothing to load."""
    rules = rules_for_page(page)
    if not rules:
        return PathRestrictions(own=None, inherited=())
    ancestor_ids = {rule.page_id for rule in rules} - {page.pk}
    pages = {page.pk: page}
    if ancestor_ids:
        pages.update(swapper.load_model("wagtailcore", "Page").objects.in_bulk(ancestor_ids))
    list_ids = set().union(*(rule.named_list_ids for rule in rules))
    lists = list(AccessList.objects.filter(pk__in=list_ids).order_by("name")) if list_ids else []
    group_ids = set().union(*(rule.group_ids for rule in rules))
    groups = list(Group.objects.filter(pk__in=group_ids).order_by("name")) if group_ids else []
    entries = [
        PathRestriction(
            rule=rule,
            page=pages[rule.page_id],
            access_lists=tuple(al for al in lists if al.pk in rule.named_list_ids),
            groups=tuple(group for group in groups if group.pk in rule.group_ids),
        )
        for rule in rules
    ]
    own = next((entry for entry in entries if entry.rule.page_id == page.pk), None)
    return PathRestrictions(
        own=own, inherited=tuple(entry for entry in entries if entry is not own)
    )


@functools.cache
def _grants_sql(placeholders: int) -> str:
    meta = Grant._meta

    def col(name):
        return _q(meta.get_field(name).column)

    lists = ", ".join(["%s"] * placeholders)
    last, starts, expires = col("last_access_at"), col("starts_at"), col("expires_at")
    return (
        f"SELECT {col('id')}, {col('access_list')}, "
        f"CASE WHEN {last} IS NULL OR {last} < %s THEN 1 ELSE 0 END "
        f"FROM {_q(meta.db_table)} WHERE {col('email')} = %s "
        f"AND {col('access_list')} IN ({lists}) AND {col('revoked_at')} IS NULL "
        f"AND ({starts} IS NULL OR {starts} <= %s) AND ({expires} IS NULL OR {expires} > %s)"
    )


def _active_grants(email: str, list_ids: set[int], at: datetime) -> list[tuple]:
    """``(grant id, list id, last access is stale)`` of ``email``'s active grants on
    ``list_ids``: an index lookup on (email, access_list)."""
    if not email or not list_ids:
        return []
    adapt = connection.ops.adapt_datetimefield_value
    stale_before = adapt(at - app_settings.LAST_ACCESS_RESOLUTION)
    now = adapt(at)
    ids = sorted(list_ids)
    with connection.cursor() as cursor:
        cursor.execute(_grants_sql(len(ids)), [stale_before, email, *ids, now, now])
        return [(gid, list_id, bool(stale)) for gid, list_id, stale in cursor.fetchall()]


def _user_email(user) -> str:
    value = getattr(user, user.get_email_field_name(), "") or ""
    try:
        return normalize_email(value)
    except Exception:
        return ""


def _evaluate(rules, *, authenticated: bool, email: str, group_ids, at) -> tuple[Rule | None, list]:
    """The first rule that does not pass (or None), and the active grants that were used."""
    needed = set().union(*(r.list_ids for r in rules)) if authenticated else set()
    grants = _active_grants(email, needed, at) if needed else []
    granted_lists = {list_id for _, list_id, _ in grants}
    groups = None
    for rule in rules:
        if not authenticated:
            return rule, grants
        if rule.list_ids & granted_lists:
            continue
        if rule.mode == Mode.MEMBERS:
            if not rule.names_lists and not rule.group_ids:
                continue
            if rule.group_ids:
                if groups is None:
                    groups = set(group_ids())
                if rule.group_ids & groups:
                    continue
        return rule, grants
    return None, grants


def _may_edit(user, page) -> bool:
    # Editors who may edit a page may view it (they would see it in preview anyway). Asked
    # only when the grants refused, so a member who may see the page pays no permission
    # queries; a refused one pays two (loading their permissions) to be sure.
    if not user or not user.is_authenticated or not is_privileged(user):
        return False
    if isinstance(page, AbstractDocument | Collection):
        return _may_change_documents(user, page)
    return page.permissions_for_user(user).can_edit()


def _touch(grants, at) -> None:
    stale = [gid for gid, _, is_stale in grants if is_stale]
    if stale:
        Grant.objects.filter(pk__in=stale).update(last_access_at=at)


def _decide_for_user(user, page, rules, *, touch: bool) -> Decision:
    if not rules:
        return Decision(True)
    at = timezone.now()
    authenticated = bool(user and user.is_authenticated)
    failed, grants = _evaluate(
        rules,
        authenticated=authenticated,
        email=_user_email(user) if authenticated else "",
        group_ids=lambda: user.groups.values_list("id", flat=True),
        at=at,
    )
    if failed is not None and _may_edit(user, page):
        failed = None
    if failed is None and touch and grants:
        _touch(grants, at)
    return Decision(failed is None, rules, failed)


def decide(request, page) -> Decision:
    """The decision for this request, cached on the request (one evaluation per page).

    ``request.user`` is only touched when the page has restrictions, so a public page does not
    load the session.
    """
    cache = request.__dict__.setdefault("_wagtail_member_access_decisions", {})
    if page.pk not in cache:
        rules = rules_for_page(page)
        user = request.user if rules else None
        cache[page.pk] = _decide_for_user(user, page, rules, touch=True)
    return cache[page.pk]


def can_view(user, page) -> bool:
    """May ``user`` (or ``AnonymousUser``/None) view ``page``? The same rules as the page serve,
    including editors' right to view pages they may edit. Does not record an access."""
    return _decide_for_user(user, page, rules_for_page(page), touch=False).allowed


def email_mode(rules) -> str | None:
    """How a page is unlocked by email: the mode of the innermost email restriction on its
    path (the most specific setting wins), or None if no restriction is unlocked by email."""
    modes = [rule.mode for rule in rules if rule.by_email]
    return modes[-1] if modes else None


def email_may_view(email: str, page, *, rules=None) -> str | None:
    """If a member signed in with ``email`` could view ``page`` (or a document), the address
    to write to (the one stored on the grant); otherwise None. Used before sending a code: it
    is only sent to emails with access. Group rules use the groups of the existing account
    for ``email``."""

    rules = rules_for(page) if rules is None else rules
    if not rules or not any(rule.by_email for rule in rules):
        return None
    return member_may_view(email, page, rules=rules)


def member_may_view(email: str, page, *, rules=None) -> str | None:
    """If a member signed in with ``email`` could view ``page`` (whatever the page's modes),
    the address stored on the grant that opens it; otherwise None (also for a page without
    restrictions, and for staff and inactive accounts, who are never signed in by email)."""
    rules = rules_for(page) if rules is None else rules
    if not rules:
        return None
    try:
        user = find_member(email)
    except NotAllowed:
        return None
    if user is not None and (not user.is_active or is_privileged(user)):
        return None
    at = timezone.now()
    failed, grants = _evaluate(
        rules,
        authenticated=True,
        email=email,
        group_ids=(lambda: user.groups.values_list("id", flat=True)) if user else (lambda: ()),
        at=at,
    )
    if failed is not None or not grants:
        return None
    return Grant.objects.values_list("email", flat=True).get(pk=grants[0][0])


# --- documents ---------------------------------------------------------------------------------
# A document is protected by the restrictions on its collection and the collections above it
# (docs/security.md#documents), decided by the same _evaluate and _decide_for_user as a page.


def rules_for_collection(collection) -> tuple[Rule, ...]:
    """Every :class:`CollectionAccessRestriction` on ``collection`` and its ancestors,
    outermost first; an empty tuple when none. One query. Collections belong to no site, so
    every list a restriction names opens it (``list_ids == named_list_ids``)."""
    step = collection.steplen
    paths = [collection.path[:end] for end in range(step, len(collection.path) + 1, step)]
    rows = (
        CollectionAccessRestriction.objects.filter(collection__path__in=paths)
        .order_by("collection__depth", "pk")
        .values_list("pk", "collection_id", "collection__depth", "mode", "access_lists", "groups")
    )
    collected: dict[int, dict] = {}
    for rid, collection_id, depth, mode, list_id, group_id in rows:
        entry = collected.setdefault(
            rid,
            {
                "collection_id": collection_id,
                "depth": depth,
                "mode": mode,
                "lists": set(),
                "groups": set(),
            },
        )
        if list_id is not None:
            entry["lists"].add(list_id)
        if group_id is not None:
            entry["groups"].add(group_id)
    return tuple(
        Rule(
            id=rid,
            page_id=None,
            depth=e["depth"],
            mode=e["mode"],
            list_ids=frozenset(e["lists"]),
            group_ids=frozenset(e["groups"]),
            named_list_ids=frozenset(e["lists"]),
            collection_id=e["collection_id"],
        )
        for rid, e in collected.items()
    )


def rules_for(target) -> tuple[Rule, ...]:
    """The rules of what an unlock opens: a page (:func:`rules_for_page`), a document (its
    collection's, :func:`rules_for_collection`) or a collection."""
    if isinstance(target, AbstractDocument):
        return rules_for_collection(target.collection)
    if isinstance(target, Collection):
        return rules_for_collection(target)
    return rules_for_page(target)


def _may_change_documents(user, target) -> bool:
    # Editors who may change a document (or the documents of a collection) may open it, as
    # editors of a page may view it.
    policy = policy_registry.get_by_type(get_document_model())
    if isinstance(target, AbstractDocument):
        return policy.user_has_permission_for_instance(user, "change", target)
    return policy.collections_user_has_permission_for(user, "change").filter(pk=target.pk).exists()


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
