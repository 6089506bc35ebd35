"""The access decision for many pages at once: the APIs' per-row question, answered in one
batch per request, and :func:`visible_pages` for a site's own listings and search.

The rules are those of :mod:`wagtail_member_access.access` (a restriction on the page, an
ancestor, a translation of either, or an alias's source); only the loading is batched.
"""

from __future__ import annotations

from collections import defaultdict

import swapper
from django.utils import timezone
from wagtail.models import PageViewRestriction

from ..conf import app_settings
from ..models import PageAccessRestriction
from . import decision
from .rules import Rule, path_prefixes

__all__ = ["passed_pages", "visible_pages"]


def _load_rules(site) -> tuple[list[tuple[str, str, Rule]], set[int]]:
    """Every restriction as ``(page path, page translation_key, Rule)`` with the lists that
    open it on ``site``; three queries."""
    through = PageAccessRestriction.access_lists.through
    lists, named = defaultdict(set), defaultdict(set)
    for rid, list_id, list_site in through.objects.values_list(
        "pageaccessrestriction_id", "accesslist_id", "accesslist__site_id"
    ):
        named[rid].add(list_id)
        if list_site is None or (site is not None and list_site == site.pk):
            lists[rid].add(list_id)
    groups = defaultdict(set)
    for rid, group_id in PageAccessRestriction.groups.through.objects.values_list(
        "pageaccessrestriction_id", "group_id"
    ):
        groups[rid].add(group_id)
    rules = [
        (
            path,
            key,
            Rule(
                id=rid,
                page_id=page_id,
                depth=depth,
                mode=mode,
                list_ids=frozenset(lists[rid]),
                group_ids=frozenset(groups[rid]),
                named_list_ids=frozenset(named[rid]),
                opens_after=opens_after,
            ),
        )
        for rid, page_id, path, depth, key, mode, opens_after in (
            PageAccessRestriction.objects.values_list(
                "pk",
                "page_id",
                "page__path",
                "page__depth",
                "page__translation_key",
                "mode",
                "opens_after",
            ).order_by("page__depth", "pk")
        )
    ]
    return rules, set().union(*lists.values()) if lists else set()


def _covered_paths(pages, Page) -> tuple[dict[int, set[str]], dict[str, tuple]]:
    """For each page, the paths whose restrictions apply to it: its ancestors (and itself),
    and those of the source of every alias among them, to any depth; and what is known of
    each path (translation key, alias source path). One query, and one more per level of
    alias indirection."""
    steplen = Page.steplen
    info: dict[str, tuple] = {}  # path -> (translation_key, alias_of path or None)
    wanted = {p for page in pages for p in path_prefixes(page.path, steplen)}
    while wanted - set(info):
        rows = list(
            Page.objects.filter(path__in=wanted - set(info)).values_list(
                "path", "translation_key", "alias_of__path"
            )
        )
        for path, key, source_path in rows:
            info[path] = (key, source_path)
        missing = {p for p in wanted - set(info) if p not in {r[0] for r in rows}}
        for path in missing:  # deleted meanwhile: nothing to learn
            info[path] = (None, None)
        wanted = {
            p
            for _, (_, source) in list(info.items())
            if source
            for p in path_prefixes(source, steplen)
        } | set(info)

    covered = {}
    for page in pages:
        paths, pending = set(), [page.path]
        while pending:
            for p in path_prefixes(pending.pop(), steplen):
                if p not in paths:
                    paths.add(p)
                    source = info.get(p, (None, None))[1]
                    if source:
                        pending.append(source)
        covered[page.pk] = paths
    return covered, info


def passed_pages(user, pages, site) -> set[int]:
    """The ids of those ``pages`` whose restrictions ``user`` passes, by the rules of
    :mod:`access` (editors pass pages they may edit). A constant number of queries for any
    number of pages, plus the editors' permission check for each refused page of a
    privileged user. Records no access (an API read is not a visit)."""
    if not pages or not (user and user.is_authenticated):
        return set()
    Page = swapper.load_model("wagtailcore", "Page")
    rules, list_ids = _load_rules(site)
    covered, info = _covered_paths(pages, Page)
    at = timezone.now()
    email = decision._user_email(user)
    grants = decision._active_grants(email, list_ids, at) if email else []
    group_cache = []

    def group_ids():
        if not group_cache:
            group_cache.append(list(user.groups.values_list("id", flat=True)))
        return group_cache[0]

    translations = app_settings.PROTECT_TRANSLATIONS
    passed = set()
    for page in pages:
        paths = covered[page.pk]
        keys = {info[p][0] for p in paths if p in info} if translations else set()
        applicable = [rule for path, key, rule in rules if path in paths or key in keys]
        failed, _, _ = decision._evaluate(
            applicable,
            authenticated=True,
            email=email,
            group_ids=group_ids,
            at=at,
            grants=grants,
        )
        if failed is None or decision._may_edit(user, page):
            passed.add(page.pk)
    return passed


def visible_pages(request, queryset):
    """``queryset`` without the pages this request may not see, by Wagtail's privacy and by
    member access alike: each privacy row the request does not pass removes its page and the
    pages below it, as Wagtail's API does. A path filter, so ``.search()`` may follow. Costs
    one query for the rows (plus, for a signed-in member, the batch of
    :func:`passed_pages`)."""
    refused = [
        row.page
        for row in PageViewRestriction.objects.select_related("page")
        if not row.accept_request(request)
    ]
    for page in refused:
        queryset = queryset.not_descendant_of(page, inclusive=True)
    return queryset
