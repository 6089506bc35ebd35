"""The mirror rows: every member-protected page is also marked private for Wagtail.

A ``PageViewRestriction`` row of our own type (:data:`MEMBER_ACCESS`) on a page tells Wagtail
"this page and the pages below it are private": ``.public()``, the sitemap, the explorer's
padlock and the APIs then leave them out, exactly as for Wagtail's own privacy
(docs/protected-channels.md). A row says only *that* a page is member-protected; *who* may see
it is always decided by :mod:`wagtail_member_access.access` (through :func:`accepts_page_row`).

The rows are derived data. :func:`sync` makes them match the restrictions, idempotently; it
runs inside every write path (``api.protect``/``unprotect``, copy, move, alias, translation,
delete, and when anything else writes our rows) and from ``manage.py member_access_sync``.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

import swapper
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from wagtail.log_actions import log
from wagtail.models import PageViewRestriction, Site
from wagtail.signals import copy_for_translation_done, post_page_move

from . import access, log_actions
from .access import visibility
from .conf import app_settings
from .models import PageAccessRestriction

__all__ = [
    "MEMBER_ACCESS",
    "accepts_page_row",
    "connect",
    "copy_protection",
    "desired_page_ids",
    "drift",
    "save_restriction",
    "sync",
]

#: The ``restriction_type`` of the mirror rows (Wagtail's field holds 20 characters).
MEMBER_ACCESS = "member_access"

_SYNCING = contextvars.ContextVar("wagtail_member_access_syncing", default=False)


def _page_model():
    return swapper.load_model("wagtailcore", "Page")


def _has_prefix(path: str, paths: set[str], steplen: int) -> bool:
    return any(path[:end] in paths for end in range(steplen, len(path) + 1, steplen))


def desired_page_ids(
    *, Page=None, Restriction=None, translations: bool | None = None, restrictions=None
) -> set[int]:
    """The ids of the pages that must carry a mirror row:

    1. every page with a member restriction of its own;
    2. with translations protected, every page sharing a ``translation_key`` with one of those
       (the pages below a translation are covered by its row, by path);
    3. every alias whose source is protected (by its own, an ancestor's, a translation's or its
       own source's restriction) and that source itself (Wagtail reads an alias's privacy from
       its source), to a fixpoint for aliases of aliases.

    A handful of queries over the whole table. ``Page``/``Restriction`` take the historical
    models in a data migration; ``restrictions`` (a queryset of restrictions) narrows it to the
    pages those restrictions protect (the admin's page listing filter)."""
    Page = Page or _page_model()
    Restriction = Restriction or PageAccessRestriction
    if translations is None:
        translations = app_settings.PROTECT_TRANSLATIONS
    if restrictions is None:
        restrictions = Restriction.objects.all()
    desired = set(restrictions.values_list("page_id", flat=True))
    if not desired:
        return set()
    if translations:
        keys = Page.objects.filter(pk__in=desired).values("translation_key")
        desired |= set(Page.objects.filter(translation_key__in=keys).values_list("pk", flat=True))
    aliases = list(Page.objects.exclude(alias_of=None).values_list("pk", "path", "alias_of_id"))
    if not aliases:
        return desired
    paths = dict(Page.objects.filter(pk__in=desired).values_list("pk", "path"))
    sources = {source for _, _, source in aliases}
    source_paths = dict(Page.objects.filter(pk__in=sources).values_list("pk", "path"))
    steplen = Page.steplen
    changed = True
    while changed:
        changed = False
        protected_paths = set(paths.values())
        for pk, path, source in aliases:
            if pk in desired:
                continue
            source_path = source_paths.get(source)
            if source_path and _has_prefix(source_path, protected_paths, steplen):
                desired |= {pk, source}
                paths |= {pk: path, source: source_path}
                changed = True
    return desired


@contextmanager
def _syncing():
    token = _SYNCING.set(True)
    try:
        yield
    finally:
        _SYNCING.reset(token)


def syncing() -> bool:
    """True while :func:`sync` writes: our own writes do not trigger another sync."""
    return _SYNCING.get()


def drift() -> tuple[set[int], set[int]]:
    """``(missing, stray)``: pages that need a mirror row and have none, and mirror rows on
    pages that need none. Both empty when the mirror is in sync."""
    desired = desired_page_ids()
    actual = set(
        PageViewRestriction.objects.filter(restriction_type=MEMBER_ACCESS).values_list(
            "page_id", flat=True
        )
    )
    return desired - actual, actual - desired


def sync() -> tuple[int, int]:
    """Make the mirror rows match the restrictions; returns ``(created, deleted)``.

    Idempotent; writes nothing when in sync. Rows of Wagtail's own types are never touched.
    Written with ``bulk_create`` and a queryset delete, so no history entries: the page's
    history shows our own "protected"/"unprotected" entries instead. Does nothing when
    called from inside itself (our own row writes fire the receivers that call it)."""
    if syncing():
        return 0, 0
    with _syncing(), transaction.atomic():
        desired = desired_page_ids()
        rows = PageViewRestriction.objects.filter(restriction_type=MEMBER_ACCESS)
        actual = {}
        for pk, page_id in rows.values_list("pk", "page_id"):
            actual.setdefault(page_id, []).append(pk)
        # One row per page: a second row (Wagtail copies rows at every level of a tree copy)
        # is redundant.
        extra = [pk for pks in actual.values() for pk in pks[1:]]
        stray = [pks[0] for page_id, pks in actual.items() if page_id not in desired]
        deleted = 0
        if stray or extra:
            deleted, _ = PageViewRestriction.objects.filter(pk__in=stray + extra).delete()
        missing = sorted(desired - set(actual))
        PageViewRestriction.objects.bulk_create(
            [PageViewRestriction(page_id=pk, restriction_type=MEMBER_ACCESS) for pk in missing]
        )
    return len(missing), deleted


def accepts_page_row(row, request) -> bool:
    """Wagtail's question for one of our rows (the APIs ask it per row): does this request
    pass the member access of ``row.page``? Decided by :mod:`access` rules:

    * a page the serve gate already let this request see: yes, without a query;
    * anonymous (every API v3 client without a token is anonymous): no, without a query;
    * a signed-in member: one batch for every mirror row, at the first row, cached on the
      request (docs/performance.md#api)."""
    req = getattr(request, "_request", request)  # DRF's Request wraps the HttpRequest
    if row.page_id in req.__dict__.get("_wma_passed_pages", ()):
        return True
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    passed = req.__dict__.get("_wma_passed_rows")
    if passed is None:
        pages = [
            r.page
            for r in PageViewRestriction.objects.filter(
                restriction_type=MEMBER_ACCESS
            ).select_related("page")
        ]
        passed = visibility.passed_pages(user, pages, Site.find_for_request(req))
        req._wma_passed_rows = passed
    return row.page_id in passed


def copy_protection(source, copy, *, user=None, root: bool = False) -> None:
    """After Wagtail copied ``source`` to ``copy``: give the copy the member access set on the
    source itself; and at the ``root`` of the copied tree, when the source was protected only
    by an ancestor that does not cover the copy, a copy of the innermost such restriction, so
    that nothing leaks through copies (docs/protected-channels.md#copies). Logged in the copy's
    history as "member access set"; then :func:`sync`."""
    restriction = PageAccessRestriction.objects.filter(page_id=source.pk).first()
    if restriction is None and root:
        covering = {rule.id for rule in access.rules_for_page(copy)}
        inherited = [rule for rule in access.rules_for_page(source) if rule.id not in covering]
        if inherited:
            restriction = max(inherited, key=lambda rule: rule.depth)
    if restriction is not None:
        _protect_like(restriction, copy, user=user)
    sync()


def _protect_like(rule, page, *, user=None) -> None:
    """Put a copy of the restriction behind ``rule`` on ``page`` (logged as ours)."""
    restriction = PageAccessRestriction.objects.get(pk=rule.id)
    lists = list(restriction.access_lists.all())
    clone, _ = PageAccessRestriction.objects.update_or_create(
        page_id=page.pk, defaults={"mode": restriction.mode}
    )
    clone.access_lists.set(lists)
    clone.groups.set(restriction.groups.all())
    log(
        instance=page,
        action=log_actions.PROTECT,
        user=user,
        data={"mode": restriction.mode, "access_lists": [al.name for al in lists]},
    )


# --- receivers: every other write path (docs/protected-channels.md#what-keeps-it-in-sync) ---


def _page_saved(sender, instance, created, **kwargs):
    if created and getattr(instance, "alias_of_id", None) and isinstance(instance, _page_model()):
        sync()


def _translation_copied(sender, source_obj, target_obj, **kwargs):
    if isinstance(target_obj, _page_model()):
        sync()


def _page_moved(sender, instance, **kwargs):
    sync()


#: Aliases whose source is being deleted, with the restriction they must keep: written
#: before the delete, applied after it (an alias inside the deleted tree is gone by then).
_ORPHANS = contextvars.ContextVar("wagtail_member_access_orphans", default=None)


def _page_deleting(sender, instance, **kwargs):
    # An alias keeps its content when its source is deleted (alias_of becomes NULL): it keeps
    # the source's protection too, as a restriction of its own.
    if sender is not _page_model():
        return
    aliases = list(
        _page_model().objects.filter(alias_of_id=instance.pk).values_list("pk", flat=True)
    )
    rules = access.rules_for_page(instance) if aliases else ()
    if not rules:
        return
    innermost = PageAccessRestriction.objects.get(pk=max(rules, key=lambda rule: rule.depth).id)
    kept = (
        innermost.mode,
        list(innermost.access_lists.all()),
        list(innermost.groups.all()),
        innermost.opens_after,
    )
    orphans = _ORPHANS.get()
    if orphans is None:
        orphans = {}
        _ORPHANS.set(orphans)
    orphans.update(dict.fromkeys(aliases, kept))


def _page_deleted(sender, instance, **kwargs):
    # Sent for the base page model once its rows are gone (every other model of the
    # cascade, our rows included, is deleted before it).
    if sender is not _page_model():
        return
    orphans = _ORPHANS.get()
    if orphans:
        _ORPHANS.set(None)
        protected = set(PageAccessRestriction.objects.values_list("page_id", flat=True))
        for alias in _page_model().objects.filter(pk__in=set(orphans) - protected):
            mode, lists, groups, opens_after = orphans[alias.pk]
            save_restriction(alias, mode, lists, groups, opens_after=opens_after)
    sync()


def save_restriction(page, mode, access_lists, groups, *, opens_after=None, user=None):
    """Set the member access of ``page`` itself (create or replace its restriction) with its
    audit entries: "set" always, "drip" when the delay changed. The one writer of a page's
    restriction (``api.protect``, an orphaned alias); the caller validates and runs
    :func:`sync` after it, inside its transaction."""
    before = (
        PageAccessRestriction.objects.filter(page=page)
        .values_list("opens_after", flat=True)
        .first()
    )
    restriction, _ = PageAccessRestriction.objects.update_or_create(
        page=page, defaults={"mode": mode, "opens_after": opens_after}
    )
    restriction.access_lists.set(access_lists)
    restriction.groups.set(groups)
    log(
        instance=page,
        action=log_actions.PROTECT,
        user=user,
        data={"mode": mode, "access_lists": [al.name for al in access_lists]},
    )
    if before != opens_after:
        log(
            instance=page,
            action=log_actions.DRIP,
            user=user,
            data={"days": opens_after.days if opens_after else None},
        )
    return restriction


def _row_saved(sender, instance, **kwargs):
    # Wagtail copies rows of every type when it copies or aliases a page, with .save().
    if instance.restriction_type == MEMBER_ACCESS and not syncing():
        sync()


def _row_deleted(sender, instance, **kwargs):
    # Anything else deleting one of our rows (wagtail-localize's sync of view restrictions):
    # put it back once the transaction is over, when a cascade has finished.
    if instance.restriction_type == MEMBER_ACCESS and not syncing():
        transaction.on_commit(sync)


def connect() -> None:
    """Connect the receivers that keep the rows in sync (from ``AppConfig.ready()``)."""
    uid = "wagtail_member_access.mirror."
    post_save.connect(_page_saved, dispatch_uid=uid + "page_saved")
    pre_delete.connect(_page_deleting, dispatch_uid=uid + "page_deleting")
    post_delete.connect(_page_deleted, dispatch_uid=uid + "page_deleted")
    copy_for_translation_done.connect(_translation_copied, dispatch_uid=uid + "translated")
    post_page_move.connect(_page_moved, dispatch_uid=uid + "moved")
    post_save.connect(_row_saved, sender=PageViewRestriction, dispatch_uid=uid + "row_saved")
    post_delete.connect(_row_deleted, sender=PageViewRestriction, dispatch_uid=uid + "row_del")
