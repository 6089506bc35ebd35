"""Where documents meet Wagtail's internals: the mirror ``CollectionViewRestriction`` rows and
the few overrides Wagtail 8.0 has no hook for (docs/security.md#documents).

A collection with member access carries one ``CollectionViewRestriction`` row of our own type
``member_access`` (a "mirror row"). Wagtail's documents API v2 and v3 ask every row's
``accept_request``; for ours the answer comes from :mod:`wagtail_member_access.access`, the
one decision. What protects a collection is never read from the rows: they are hints for
Wagtail, kept in step by :func:`sync_collections`.

The overrides, installed once by :func:`install` from ``AppConfig.ready()`` through
``compat.wrap`` (as the pages' overrides are: once, marked ``_wma_override``, the original in
``__wrapped__``), so that ``checks.check_document_internals`` sees them:

1. ``CollectionViewRestriction.accept_request``: our rows answer by :func:`accepts_row`,
   Wagtail's own rows exactly as before;
2. Wagtail's collection privacy dialog (``collection_privacy.set_privacy``) sees only
   Wagtail's own rows (``Collection.get_view_restrictions`` leaves ours out while it runs),
   so "Public" there cannot delete our row, nor "Private" turn it into a login row;
3. the collection edit view's header "⋯" menu gains the "Member access" item
   (``wagtail.admin.views.collections.Edit.header_more_buttons``);
4. Wagtail's document serve view (``wagtail.documents.views.serve.serve``) marks its response
   private and never cached when member access was asked and passed: its
   ``before_serve_document`` hooks cannot change the response, and a hook that returned the
   file itself would not be taken (a file response is no ``HttpResponse``). Everything else
   the view does (the other hooks, the ``document_served`` signal, ETags, sendfile, the serve
   methods) stays Wagtail's.
"""

from __future__ import annotations

import contextvars
import functools

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models.signals import post_delete, post_migrate, post_save
from django.utils.functional import cached_property
from wagtail.models import Collection, CollectionViewRestriction

from . import access, compat, mirror
from .models import CollectionAccessRestriction
from .responses import private

__all__ = [
    "MEMBER_ACCESS",
    "OVERRIDE_MARK",
    "accepts_row",
    "install",
    "connect_signals",
    "mark_passed",
    "sync_collections",
]

#: Our ``restriction_type``: the same as the pages' mirror rows (``mirror.MEMBER_ACCESS``).
MEMBER_ACCESS = mirror.MEMBER_ACCESS
#: The attribute each override carries (checked by ``checks.check_document_internals``), the
#: same mark as the pages' overrides (``compat.wrap``).
OVERRIDE_MARK = compat.OVERRIDE_MARK

_SYNCING = contextvars.ContextVar("wagtail_member_access_syncing", default=False)
_MEMO = "_wagtail_member_access_collection_rows"
_PRIVATE = "_wagtail_member_access_private_document"


# --- the mirror rows ---------------------------------------------------------------------------


def sync_collections(using: str = DEFAULT_DB_ALIAS) -> None:
    """Make the mirror rows match the collections with member access: add the missing ones,
    delete the stray ones. Never touches Wagtail's own rows (password, login, groups)."""
    if _SYNCING.get():
        return
    token = _SYNCING.set(True)
    try:
        restrictions = CollectionAccessRestriction.objects.using(using)
        desired = set(restrictions.values_list("collection_id", flat=True))
        rows = CollectionViewRestriction.objects.using(using).filter(restriction_type=MEMBER_ACCESS)
        actual = set(rows.values_list("collection_id", flat=True))
        CollectionViewRestriction.objects.using(using).bulk_create(
            CollectionViewRestriction(collection_id=pk, restriction_type=MEMBER_ACCESS)
            for pk in sorted(desired - actual)
        )
        if actual - desired:
            rows.filter(collection_id__in=actual - desired).delete()
    finally:
        _SYNCING.reset(token)


def _row_changed(sender, instance, **kwargs) -> None:
    # Someone else wrote or deleted one of our rows (a fixture, a script): restore the mirror.
    if instance.restriction_type == MEMBER_ACCESS:
        sync_collections()


def _restriction_changed(sender, instance, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    # A CollectionAccessRestriction saved or deleted by anyone (the admin and the API sync
    # at once themselves; the ORM, loaddata, a script do not): sync once the transaction
    # commits, when loaddata's rows (and a deleted collection's cascade) are all in place.
    transaction.on_commit(functools.partial(sync_collections, using), using=using)


def _after_migrate(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    # Data migrations write through historical models, which send no signals to our
    # receivers: sync after every ``migrate`` (and ``flush``), if both tables exist (not
    # after migrating this app back to zero).
    tables = set(connections[using].introspection.table_names())
    if {CollectionAccessRestriction._meta.db_table, CollectionViewRestriction._meta.db_table} <= (
        tables
    ):
        sync_collections(using)


# --- 1. the API's question "does this request pass this row?" ----------------------------------


def mark_passed(request, decision: access.Decision) -> None:
    """Record that ``request`` passed every collection restriction of ``decision`` (the
    document serve decided already): Wagtail's own check then asks no second time, and the
    served file is made private (override 4)."""
    memo = request.__dict__.setdefault(_MEMO, {})
    for rule in decision.rules:
        memo[rule.collection_id] = True
    request.__dict__[_PRIVATE] = True


def accepts_row(row, request) -> bool:
    """Our answer for one of our rows: may this request open the documents of the row's
    collection? Anonymous requests (and Wagtail's API v3, which treats session users as
    anonymous) are refused without a query; a signed-in user is decided once per collection
    and request by ``access.can_view_document``."""
    http_request = getattr(request, "_request", request)  # DRF's Request wraps the HttpRequest
    memo = http_request.__dict__.setdefault(_MEMO, {})
    if memo.get(row.collection_id):
        return True
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    if row.collection_id not in memo:
        memo[row.collection_id] = access.can_view_document(user, row.collection)
    return memo[row.collection_id]


# --- installing --------------------------------------------------------------------------------


def _accept_request(original):
    def accept_request(self, request):
        if self.restriction_type == MEMBER_ACCESS:
            return accepts_row(self, request)
        return original(self, request)

    return accept_request


def _header_more_buttons(original, buttons_for):
    def header_more_buttons(self):
        return [*original.func(self), *buttons_for(self.object, self.request.user)]

    prop = cached_property(compat.mark(header_more_buttons, original.func))
    setattr(prop, OVERRIDE_MARK, True)
    return prop


def _private_serve(view):
    def serve(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if request.__dict__.get(_PRIVATE):
            private(response)
        return response

    return serve


def connect_signals(app_config) -> None:
    """Keep the mirror rows in step with every writer (docs/security.md#documents):
    Wagtail's rows written by others, our restrictions saved or deleted through the ORM or
    loaddata, and data migrations (after ``migrate``)."""
    for signal in (post_save, post_delete):
        signal.connect(
            _row_changed,
            sender=CollectionViewRestriction,
            dispatch_uid=f"wagtail_member_access.collection_rows.{signal is post_save}",
        )
        signal.connect(
            _restriction_changed,
            sender=CollectionAccessRestriction,
            dispatch_uid=f"wagtail_member_access.collection_restrictions.{signal is post_save}",
        )
    post_migrate.connect(
        _after_migrate, sender=app_config, dispatch_uid="wagtail_member_access.collection_sync"
    )


def install(collection_buttons) -> None:
    """Install the overrides (once; ``AppConfig.ready()`` calls it, before the admin's URLconf
    is imported). ``collection_buttons(collection, user)`` gives the collection edit view's
    extra header menu items."""
    # Imported here, not at the top: the admin's views need the app registry, and this
    # module is also imported (by api.py) before it is ready.
    from wagtail.admin.views import collection_privacy, collections
    from wagtail.documents.views import serve

    compat.wrap(CollectionViewRestriction, "accept_request", _accept_request)
    compat.wrap(Collection, "get_view_restrictions", compat.without_member_rows)
    compat.wrap(serve, "serve", _private_serve)
    compat.wrap(collection_privacy, "set_privacy", compat.hiding_member_rows)
    current = collections.Edit.__dict__.get("header_more_buttons")
    if not getattr(current, OVERRIDE_MARK, False):
        original = collections.Edit.header_more_buttons
        prop = _header_more_buttons(original, collection_buttons)
        prop.__set_name__(collections.Edit, "header_more_buttons")
        collections.Edit.header_more_buttons = prop
