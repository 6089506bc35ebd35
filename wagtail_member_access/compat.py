"""Every place where the package changes Wagtail's own code, in one module.

Wagtail 8.0 has no hook for a third kind of page privacy, so the package makes three small
overrides, installed once from ``AppConfig.ready()`` by :func:`install` and checked at start-up
by ``checks.check_wagtail_internals`` (errors ``wagtail_member_access.E020`` to ``E027``), which
fails loudly when Wagtail's code no longer looks like what they wrap
(docs/protected-channels.md#how-it-works):

1. ``PageViewRestriction.accept_request`` answers for our rows (type :data:`MEMBER_ACCESS`)
   with the decision of :mod:`access` (the APIs ask it per row);
2. the page privacy dialog (``SetPrivacyView.dispatch``) sees only Wagtail's own rows, so
   Wagtail's plain dialog never removes member access (the package's dialog,
   ``admin/privacy_dialog.py``, a subclass, reads member access from our tables);
3. ``CopyPageAction._copy_page`` copies the member access of every page it copies.

Each wrapper keeps the original in ``__wrapped__`` and is marked ``_wma_override``. When
Wagtail's swappable restriction model (wagtail/wagtail#14381) lands, (1) becomes a method of
our own restriction model and (2) a setting; the rest of the package does not change.
"""

from __future__ import annotations

import contextvars
import functools
import inspect

from django.utils.translation import gettext_lazy as _

from . import mirror

__all__ = [
    "HIDE_MEMBER_ROWS",
    "MEMBER_ACCESS",
    "OVERRIDE_MARK",
    "code_names",
    "hiding_member_rows",
    "install",
    "mark",
    "privacy_dialog",
    "privacy_view_replaceable",
    "problems",
    "public_pages_api",
    "without_member_rows",
    "wrap",
]

MEMBER_ACCESS = mirror.MEMBER_ACCESS
#: The attribute every override carries (the system checks look for it).
OVERRIDE_MARK = "_wma_override"

#: True while a privacy dialog runs: ``get_view_restrictions`` leaves our rows out.
HIDE_MEMBER_ROWS = contextvars.ContextVar("wagtail_member_access_hide_rows", default=False)


def wrap(owner, name: str, make):
    """Replace ``owner.name`` by ``make(original)``, once (a second call does nothing), marked
    ``_wma_override`` with the original in ``__wrapped__``. Returns the wrapper. ``owner`` is a
    class or a module; the original is looked up in ``owner.__dict__`` first, so an inherited
    method is wrapped on ``owner`` only, leaving the base class alone."""
    original = owner.__dict__.get(name, getattr(owner, name))
    if getattr(original, OVERRIDE_MARK, False):
        return original
    raw = original.__func__ if isinstance(original, classmethod | staticmethod) else original
    wrapper = mark(functools.wraps(raw)(make(raw)), raw)
    setattr(owner, name, wrapper)
    return wrapper


def mark(wrapper, original):
    """Mark ``wrapper`` as an override of ``original`` (kept in ``__wrapped__``), as the system
    checks look for it; returns ``wrapper``. :func:`wrap` marks what it installs; an override
    it cannot install (a ``cached_property``) is marked by hand."""
    wrapper.__wrapped__ = original
    setattr(wrapper, OVERRIDE_MARK, True)
    return wrapper


def _accept_request(original):
    def accept_request(self, request):
        if self.restriction_type == MEMBER_ACCESS:
            return mirror.accepts_page_row(self, request)
        return original(self, request)

    return accept_request


def without_member_rows(original):
    """``get_view_restrictions`` (of pages or collections) without our rows while a privacy
    dialog runs (:data:`HIDE_MEMBER_ROWS`)."""

    def get_view_restrictions(self):
        restrictions = original(self)
        if HIDE_MEMBER_ROWS.get():
            return restrictions.exclude(restriction_type=MEMBER_ACCESS)
        return restrictions

    return get_view_restrictions


def hiding_member_rows(original):
    """``original`` run with :data:`HIDE_MEMBER_ROWS` on: what a privacy dialog sees."""

    def hiding(*args, **kwargs):
        token = HIDE_MEMBER_ROWS.set(True)
        try:
            return original(*args, **kwargs)
        finally:
            HIDE_MEMBER_ROWS.reset(token)

    return hiding


def _copy_page(original):
    def _copy_page(self, page, to=None, update_attrs=None, exclude_fields=None, _mpnode_attrs=None):
        page_copy = original(
            self,
            page,
            to=to,
            update_attrs=update_attrs,
            exclude_fields=exclude_fields,
            _mpnode_attrs=_mpnode_attrs,
        )
        if self.reset_translation_key:  # a translation is protected by its original's key
            mirror.copy_protection(page, page_copy, user=self.user, root=page.pk == self.page.pk)
        return page_copy

    return _copy_page


def _page_class_defining(name: str):
    """The class of Wagtail's page model that defines ``name`` (``AbstractPage`` in Wagtail 8,
    ``Page`` in 7.4)."""
    from wagtail.models import Page

    return next(cls for cls in Page.__mro__ if name in cls.__dict__)


def privacy_dialog(page_privacy):
    """Where Wagtail's page privacy dialog reads the rows: the class-based view's ``dispatch``
    (Wagtail 8), or the function view ``set_privacy`` (Wagtail 7.4)."""
    if hasattr(page_privacy, "SetPrivacyView"):
        return page_privacy.SetPrivacyView, "dispatch"
    return page_privacy, "set_privacy"


def privacy_view_replaceable() -> bool:
    """Can a page viewset replace the privacy dialog? Wagtail 8's dialog is a view class named
    by ``PageViewSet.set_privacy_view_class``; Wagtail 7.4's is a function view with no hook,
    so there the package keeps Wagtail's dialog (docs/editor-guide.md#wagtail-74)."""
    from wagtail.admin.viewsets.pages import PageViewSet

    return hasattr(PageViewSet, "set_privacy_view_class")


def public_pages_api():
    """The function with which Wagtail's API v2 leaves out private pages, asking each
    restriction's ``accept_request``: ``get_public_pages_queryset`` (Wagtail 8) or the pages
    endpoint's ``get_base_queryset`` (Wagtail 7.4)."""
    try:
        from wagtail.api.querysets import get_public_pages_queryset
    except ImportError:
        from wagtail.api.v2.views import PagesAPIViewSet

        return PagesAPIViewSet.get_base_queryset
    return get_public_pages_queryset


def install() -> None:
    """Install the overrides (idempotent). Called from ``AppConfig.ready()``."""
    from wagtail.actions.copy_page import CopyPageAction
    from wagtail.admin.views import page_privacy
    from wagtail.models import BaseViewRestriction, PageViewRestriction

    wrap(PageViewRestriction, "accept_request", _accept_request)
    wrap(
        _page_class_defining("get_view_restrictions"), "get_view_restrictions", without_member_rows
    )
    wrap(*privacy_dialog(page_privacy), hiding_member_rows)
    wrap(CopyPageAction, "_copy_page", _copy_page)
    # The history entries Wagtail writes for rows it copies (a copied or aliased page) read
    # their title from this attribute; the field's choices and the dialog's form keep theirs.
    if MEMBER_ACCESS not in dict(PageViewRestriction.RESTRICTION_CHOICES):
        PageViewRestriction.RESTRICTION_CHOICES = (
            *BaseViewRestriction.RESTRICTION_CHOICES,
            (MEMBER_ACCESS, _("Member access")),
        )


# --- what the overrides rely on (checked at start-up) -------------------------------------

COPY_PAGE_PARAMETERS = ("self", "page", "to", "update_attrs", "exclude_fields", "_mpnode_attrs")


def code_names(function) -> set[str]:
    """The names and strings ``function``'s code uses (globals, attributes, keyword
    arguments), its nested functions' and comprehensions' too: what the system checks read
    to see that Wagtail's code still asks what the overrides answer."""
    function = getattr(function, "__wrapped__", function)
    code = getattr(function, "__code__", None)
    names, pending = set(), [code] if code else []
    while pending:
        code = pending.pop()
        names |= set(code.co_names)
        for const in code.co_consts:
            if inspect.iscode(const):
                pending.append(const)
            elif isinstance(const, str):
                names.add(const)
            elif isinstance(const, tuple):  # keyword argument names of a call
                names |= {c for c in const if isinstance(c, str)}
    return names


def _overridden(function) -> bool:
    return getattr(function, "_wma_override", False)


def _serve_hooks_in_order() -> bool:
    from wagtail import hooks
    from wagtail import wagtail_hooks as wagtail_own

    hooks.search_for_hooks()
    order = {fn: position for fn, position in hooks._hooks.get("on_serve_page", [])}
    ours = [fn for fn in order if fn.__module__ == "wagtail_member_access.wagtail_hooks"]
    theirs = wagtail_own.check_view_restrictions
    return (
        len(ours) == 1
        and theirs in order
        and order[ours[0]] < order[theirs]
        and {"get_view_restrictions", "accept_request"} <= code_names(theirs)
    )


def problems() -> list[tuple[str, str]]:
    """``(check id, what no longer matches)`` for each Wagtail internal an override or the
    mirror relies on; empty when all match (``checks.check_wagtail_internals``)."""
    from django.test import RequestFactory
    from wagtail.actions.copy_page import CopyPageAction
    from wagtail.admin.templatetags import wagtailadmin_tags
    from wagtail.admin.views import page_privacy
    from wagtail.models import BaseViewRestriction, PageViewRestriction
    from wagtail.query import PageQuerySet

    found = []
    if not _overridden(PageViewRestriction.__dict__.get("accept_request")):
        found.append(("E020", "PageViewRestriction.accept_request is not the package's override"))
    try:
        falls_through = BaseViewRestriction.accept_request(
            PageViewRestriction(restriction_type="x"), RequestFactory().get("/")
        )
    except Exception:
        falls_through = False
    if falls_through is not True:
        found.append(("E021", "accept_request no longer lets an unknown restriction type pass"))
    copy = CopyPageAction.__dict__.get("_copy_page")
    original = getattr(copy, "__wrapped__", copy)
    if (
        not _overridden(copy)
        or tuple(inspect.signature(original).parameters) != COPY_PAGE_PARAMETERS
        or "_copy_page" not in code_names(original)
    ):
        found.append(("E022", "CopyPageAction._copy_page no longer copies a tree page by page"))
    owner, name = privacy_dialog(page_privacy)
    dispatch = owner.__dict__.get(name)
    if (
        not _overridden(dispatch)
        or not _overridden(
            _page_class_defining("get_view_restrictions").__dict__.get("get_view_restrictions")
        )
        or "get_view_restrictions" not in code_names(dispatch)
    ):
        found.append(("E023", "the page privacy dialog no longer reads get_view_restrictions()"))
    if not _serve_hooks_in_order():
        found.append(("E024", "Wagtail's on_serve_page privacy check no longer runs inside ours"))
    if "accept_request" not in code_names(public_pages_api()):
        found.append(("E025", "the pages API no longer asks accept_request() per privacy row"))
    path_readers = (PageQuerySet.private_q, wagtailadmin_tags.test_page_is_public)
    if any(
        "PageViewRestriction" not in code_names(f) or "restriction_type" in code_names(f)
        for f in path_readers
    ):
        found.append(("E026", ".public() or the padlock no longer count every privacy row"))
    field = PageViewRestriction._meta.get_field("restriction_type")
    if field.max_length < len(MEMBER_ACCESS):
        found.append(("E027", "PageViewRestriction.restriction_type is too short for our type"))
    return found
