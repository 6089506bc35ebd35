"""What restricts a page or a document: the restrictions on its path (for a document, its
collection's path), with the access lists that open each on the page's site.

* a page with no restriction on its path: one query (the restrictions of its ancestors);
* a protected page for a signed-in member: the same query also returns the member's active
  grants on those lists (:func:`_load`), so the decision costs no second query.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import swapper
from django.contrib.auth.models import Group
from django.db import connection
from wagtail.documents.models import AbstractDocument
from wagtail.models import Collection, Site

from ..conf import app_settings
from ..domains import seat_keys
from ..models import AccessList, CollectionAccessRestriction, Grant, PageAccessRestriction, Seat
from .drip import to_duration, to_moment

if TYPE_CHECKING:
    from wagtail.models import Page

__all__ = [
    "Decision",
    "PathRestriction",
    "PathRestrictions",
    "Rule",
    "path_prefixes",
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
    #: Drip: the restriction opens this long after the member's grant on one of its lists
    #: started (None: at once). See :mod:`.drip`.
    opens_after: timedelta | None = None

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
    #: Allowed only because the user may edit the page (docs/editor-guide.md#editors-see-the-page).
    by_editor: bool = False
    #: Drip: when the member's grants will open every restriction that still holds them
    #: back (None: refused for another reason, or allowed). See :mod:`.drip`.
    opens_at: datetime | None = None

    @property
    def restricted(self) -> bool:
        """True when any restriction applies, even if it passed: the response is private."""
        return bool(self.rules)


def path_prefixes(path: str, steplen: int) -> list[str]:
    """The treebeard paths of a node and its ancestors, outermost first."""
    return [path[:end] for end in range(steplen, len(path) + 1, steplen)]


def _ancestor_paths(page) -> list[str]:
    return path_prefixes(page.path, page.steplen)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _grant_match_sql(alias: str, *, taking_seat: bool = False) -> str:
    """SQL true when the grant row ``alias`` opens its list to the member: their own grant,
    or a domain grant of their address's domain on which they hold a seat
    (docs/courses-and-teams.md#domain-grants-and-seats), or, ``taking_seat``, one with a
    seat free. An index lookup on (email, access_list) either way; the seat is looked up
    only for a domain grant. Named parameters: :func:`_grant_match_params`."""
    grant, seat = Grant._meta, Seat._meta
    email = f"{alias}.{_q(grant.get_field('email').column)}"
    gid = f"{alias}.{_q(grant.pk.column)}"
    seats = f"{alias}.{_q(grant.get_field('seats').column)}"
    s_grant, s_email = _q(seat.get_field("grant").column), _q(seat.get_field("email").column)
    held = (
        f"EXISTS (SELECT 1 FROM {_q(seat.db_table)} st "
        f"WHERE st.{s_grant} = {gid} AND st.{s_email} = %(address)s)"
    )
    if taking_seat:
        taken = f"(SELECT COUNT(*) FROM {_q(seat.db_table)} sc WHERE sc.{s_grant} = {gid})"
        held = f"({held} OR {seats} IS NULL OR {taken} < {seats})"
    return f"{email} IN (%(email)s, %(domain)s) AND ({email} = %(email)s OR {held})"


def _grant_match_params(email: str) -> dict[str, str]:
    """The named parameters of :func:`_grant_match_sql` for the member's normalised
    ``email``."""
    domain, address = seat_keys(email)
    return {"email": email, "domain": domain, "address": address}


def _placeholders(prefix: str, count: int) -> str:
    """``%(prefix0)s, %(prefix1)s, …``: ``count`` named parameters, filled by :func:`_params`.

    The hand-written queries take named parameters: Django's SQLite backend turns positional
    ``%s`` into ``?`` with a regular expression over the whole statement, which cost more
    than running our query; named ones it fills with one string formatting (measured with
    ``valgrind --tool=callgrind``, docs/performance.md). A value used twice is passed once."""
    return ", ".join(f"%({prefix}{i})s" for i in range(count))


def _params(prefix: str, values) -> dict:
    """The parameters of :func:`_placeholders` with the same ``prefix``, filled by ``values``."""
    return {f"{prefix}{i}": value for i, value in enumerate(values)}


def _grant_params(email: str, at: datetime) -> dict:
    """The named parameters of the member's grant lookup at ``at``: who the member is
    (:func:`_grant_match_params`), ``stale_before`` (a last access older than this is
    written again) and ``now``."""
    adapt = connection.ops.adapt_datetimefield_value
    return _grant_match_params(email) | {
        "stale_before": adapt(at - app_settings.LAST_ACCESS_RESOLUTION),
        "now": adapt(at),
    }


@functools.cache
def _rules_sql(placeholders: int, translations: bool, with_grants: bool) -> str:
    # Hand-written SQL for the query on every protected page view: building the same query
    # with the ORM costs many times more than running it (measured in ``make bench``). Every
    # name comes from the models' metadata, quoted; every value is a parameter.
    #
    # An access list that belongs to one site opens pages of that site only: its link is
    # dropped unless the list has no site or its site's root page is one of the page's
    # ancestors (or the page itself). Same single query.
    #
    # Restrictions on translations of the page or of its ancestors (same translation_key)
    # apply too (docs/protected-channels.md#translations); the page's alias ancestors come
    # back as rows without a restriction id (their sources' rules are read next, aliases only);
    # with ``with_grants``, the member's active grants on each list ride along (the serve
    # gate's one query, docs/performance.md).
    page = swapper.load_model("wagtailcore", "Page")._meta
    restriction = PageAccessRestriction._meta
    lists = PageAccessRestriction.access_lists.through._meta
    groups = PageAccessRestriction.groups.through._meta
    access_list = AccessList._meta
    grant = Grant._meta
    site = Site._meta
    r_id, r_page = _q(restriction.pk.column), _q(restriction.get_field("page").column)
    link = _q(lists.get_field("pageaccessrestriction").column)
    group_link = _q(groups.get_field("pageaccessrestriction").column)
    list_site = _q(access_list.get_field("site").column)
    a_id = _q(access_list.pk.column)
    p_path, p_key, p_alias = (
        _q("path"),
        _q("translation_key"),
        _q(page.get_field("alias_of").column),
    )
    paths = _placeholders("path", placeholders)
    where = f"p.{p_path} IN ({paths})"
    if translations:
        # The pages on the path are among the pages with their keys: one indexed IN, no OR.
        where = (
            f"p.{p_key} IN (SELECT t.{p_key} FROM {_q(page.db_table)} t "
            f"WHERE t.{p_path} IN ({paths}))"
        )
    grant_columns, grant_join = "NULL, NULL, NULL", ""
    if with_grants:

        def col(name):
            return _q(grant.get_field(name).column)

        last = f"gr.{col('last_access_at')}"
        grant_columns = (
            f"gr.{col('id')}, "
            f"CASE WHEN {last} IS NULL OR {last} < %(stale_before)s THEN 1 ELSE 0 END, "
            f"COALESCE(gr.{col('starts_at')}, gr.{col('created_at')})"
        )
        grant_join = (
            f"LEFT OUTER JOIN {_q(grant.db_table)} gr ON gr.{col('access_list')} = a.{a_id} "
            f"AND {_grant_match_sql('gr')} AND gr.{col('revoked_at')} IS NULL "
            f"AND (gr.{col('starts_at')} IS NULL OR gr.{col('starts_at')} <= %(now)s) "
            f"AND (gr.{col('expires_at')} IS NULL OR gr.{col('expires_at')} > %(now)s) "
        )
    return (
        f"SELECT r.{r_id}, r.{r_page}, p.{_q('depth')}, r.{_q('mode')}, "
        f"r.{_q(restriction.get_field('opens_after').column)}, "
        f"a.{a_id}, g.{_q(groups.get_field('group').column)}, "
        f"l.{_q(lists.get_field('accesslist').column)}, {grant_columns} "
        f"FROM {_q(restriction.db_table)} r "
        f"INNER JOIN {_q(page.db_table)} p ON p.{_q(page.pk.column)} = r.{r_page} "
        f"LEFT OUTER JOIN {_q(lists.db_table)} l ON l.{link} = r.{r_id} "
        f"LEFT OUTER JOIN {_q(access_list.db_table)} a "
        f"ON a.{a_id} = l.{_q(lists.get_field('accesslist').column)} "
        f"AND (a.{list_site} IS NULL OR a.{list_site} IN ("
        f"SELECT s.{_q(site.pk.column)} FROM {_q(site.db_table)} s "
        f"INNER JOIN {_q(page.db_table)} sp "
        f"ON sp.{_q(page.pk.column)} = s.{_q(site.get_field('root_page').column)} "
        f"WHERE sp.{p_path} IN ({paths}))) "
        f"{grant_join}"
        f"LEFT OUTER JOIN {_q(groups.db_table)} g ON g.{group_link} = r.{r_id} "
        f"WHERE {where} "
        f"UNION ALL SELECT NULL, al.{p_alias}, al.{_q('depth')}, NULL, NULL, NULL, NULL, "
        f"NULL, NULL, NULL, NULL FROM {_q(page.db_table)} al "
        f"WHERE al.{p_path} IN ({paths}) AND al.{p_alias} IS NOT NULL "
        f"ORDER BY 3"
    )


def _gather(rows) -> list[Rule]:
    """One :class:`Rule` per restriction, in the order first seen, from rows of
    ``(restriction id, its other fields, list id, group id, named list id)``: a restriction
    comes back once per list and group it names (None where it names none)."""
    entries: dict[int, tuple[dict, set, set, set]] = {}
    for rid, fields, *ids in rows:
        entry = entries.get(rid)
        if entry is None:
            entry = entries[rid] = (fields, set(), set(), set())
        for found, value in zip(entry[1:], ids, strict=True):
            if value is not None:
                found.add(value)
    return [
        Rule(
            id=rid,
            list_ids=frozenset(lists),
            group_ids=frozenset(groups),
            named_list_ids=frozenset(named),
            **fields,
        )
        for rid, (fields, lists, groups, named) in entries.items()
    ]


def _load(page, *, email: str = "", at=None, seen=None) -> tuple[tuple[Rule, ...], list]:
    """The rules on ``page``'s path (with translations and alias sources) and, for a non-empty
    ``email``, its active grants on their lists, as ``_active_grants`` returns them (with
    each grant's start, for drip)."""
    paths = _ancestor_paths(page)
    translations = app_settings.PROTECT_TRANSLATIONS
    params = _params("path", paths) | (_grant_params(email, at) if email else {})
    with connection.cursor() as cursor:
        cursor.execute(_rules_sql(len(paths), translations, bool(email)), params)
        rows = cursor.fetchall()
    grants: dict[int, tuple] = {}
    sources: set[int] = set()

    def restriction_rows():
        for rid, page_id, depth, mode, delay, list_id, group_id, named, *grant in rows:
            if rid is None:
                sources.add(page_id)
                continue
            if grant[0] is not None:
                grant_id, stale, start = grant
                grants[grant_id] = (grant_id, list_id, bool(stale), to_moment(start))
            delay = to_duration(delay)
            fields = {"page_id": page_id, "depth": depth, "mode": mode, "opens_after": delay}
            yield rid, fields, list_id, group_id, named

    rules = _gather(restriction_rows())
    grant_rows = list(grants.values())
    # An alias is protected as its source is (docs/protected-channels.md#aliases): only pages
    # with an alias on their path pay for this, one query per source (and only they build
    # the queryset: building it costs as much as the whole query above).
    seen = (seen or set()) | {page.pk}
    sources -= seen
    if not sources:
        return tuple(rules), grant_rows
    Page = swapper.load_model("wagtailcore", "Page")
    for source in Page.objects.filter(pk__in=sources).only("path", "depth"):
        more, more_grants = _load(source, email=email, at=at, seen=seen)
        known = {rule.id for rule in rules}
        rules += [rule for rule in more if rule.id not in known]
        grant_rows += [g for g in more_grants if g[0] not in grants]
    return tuple(rules), grant_rows


def rules_for_page(page) -> tuple[Rule, ...]:
    """Every restriction that applies to ``page``, outermost first: those on the page and its
    ancestors, on their translations (``WAGTAIL_MEMBER_ACCESS_PROTECT_TRANSLATIONS``), and the
    rules of the source of any alias on its path; each with the access lists that may open it
    on this page's site. One query (one more per alias source); an empty tuple when nothing
    applies.

    The one reader of a path's restrictions: the serve, :func:`can_view`, the flows and the
    admin (through :func:`path_restrictions`) all start here."""
    return _load(page)[0]


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

    @property
    def on_path(self) -> tuple[PathRestriction, ...]:
        """Every restriction, outermost first, the page's own last."""
        return (*self.inherited, *filter(None, [self.own]))


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


def rules_for_collection(collection) -> tuple[Rule, ...]:
    """Every :class:`CollectionAccessRestriction` on ``collection`` and its ancestors,
    outermost first; an empty tuple when none. One query. Collections belong to no site, so
    every list a restriction names opens it (``list_ids == named_list_ids``)."""
    paths = path_prefixes(collection.path, collection.steplen)
    rows = (
        CollectionAccessRestriction.objects.filter(collection__path__in=paths)
        .order_by("collection__depth", "pk")
        .values_list("pk", "collection_id", "collection__depth", "mode", "access_lists", "groups")
    )
    # Every list named opens it: the named lists are the lists.
    return tuple(
        _gather(
            (rid, {"page_id": None, "collection_id": cid, "depth": d, "mode": mode}, *ids, ids[0])
            for rid, cid, d, mode, *ids in rows
        )
    )


def rules_for(target) -> tuple[Rule, ...]:
    """The rules of what an unlock opens: a page (:func:`rules_for_page`), a document (its
    collection's, :func:`rules_for_collection`) or a collection."""
    if isinstance(target, AbstractDocument):
        return rules_for_collection(target.collection)
    if isinstance(target, Collection):
        return rules_for_collection(target)
    return rules_for_page(target)
