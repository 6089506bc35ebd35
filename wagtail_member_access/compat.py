"""Every place where the package changes Wagtail's own code, in one module.

Wagtail 8.0 has no hook for a third kind of page privacy, so the package makes three small
overrides, installed once from ``AppConfig.ready()`` by :func:`install` and checked at start-up
by ``checks.check_wagtail_internals`` (errors ``wagtail_member_access.E010`` to ``E016``), which
fails loudly when Wagtail's code no longer looks like what they wrap
(docs/protected-channels.md#how-it-works):

1. ``PageViewRestriction.accept_request`` answers for our rows (type :data:`MEMBER_ACCESS`)
   with the decision of :mod:`access` (the APIs ask it per row);
2. the page privacy dialog (``SetPrivacyView.dispatch``) sees only Wagtail's own rows, so
   choosing "Public" there never removes member access;
3. ``CopyPageAction._copy_page`` copies the member access of every page it copies.

Each wrapper keeps the original in ``__wrapped__`` and is marked ``_wma_override``. When
Wagtail's swappable restriction model (wagtail/wagtail#14381) lands, (1) becomes a method of
our own restriction model and (2) a setting; the rest of the package does not change.
"""

from __future__ import annotations

import contextvars
import functools

from django.utils.translation import gettext_lazy as _

from . import mirror

__all__ = ["HIDE_MEMBER_ROWS", "MEMBER_ACCESS", "install", "wrap"]

MEMBER_ACCESS = mirror.MEMBER_ACCESS

#: True while a privacy dialog runs: ``get_view_restrictions`` leaves our rows out.
HIDE_MEMBER_ROWS = contextvars.ContextVar("wagtail_member_access_hide_rows", default=False)


def wrap(owner, name: str, make):
    """Replace ``owner.name`` by ``make(original)``, once (a second call does nothing), marked
    ``_wma_override`` with the original in ``__wrapped__``. Returns the wrapper. ``owner`` is a
    class or a module; the original is looked up in ``owner.__dict__`` first, so an inherited
    method is wrapped on ``owner`` only, leaving the base class alone."""
    original = owner.__dict__.get(name, getattr(owner, name))
    if getattr(original, "_wma_override", False):
        return original
    raw = original.__func__ if isinstance(original, classmethod | staticmethod) else original
    wrapper = functools.wraps(raw)(make(raw))
    wrapper.__wrapped__ = raw
    wrapper._wma_override = True
    setattr(owner, name, wrapper)
    return wrapper


def _accept_request(original):
    def accept_request(self, request):
        if self.restriction_type == MEMBER_ACCESS:
            return mirror.accepts_page_row(self, request)
        return original(self, request)

    return accept_request


def _without_member_rows(original):
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


def install() -> None:
    """Install the overrides (idempotent). Called from ``AppConfig.ready()``."""
    from wagtail.actions.copy_page import CopyPageAction
    from wagtail.admin.views import page_privacy
    from wagtail.models import BaseViewRestriction, PageViewRestriction
    from wagtail.models.pages import AbstractPage

    wrap(PageViewRestriction, "accept_request", _accept_request)
    wrap(AbstractPage, "get_view_restrictions", _without_member_rows)
    wrap(page_privacy.SetPrivacyView, "dispatch", hiding_member_rows)
    wrap(CopyPageAction, "_copy_page", _copy_page)
    # The history entries Wagtail writes for rows it copies (a copied or aliased page) read
    # their title from this attribute; the field's choices and the dialog's form keep theirs.
    if MEMBER_ACCESS not in dict(PageViewRestriction.RESTRICTION_CHOICES):
        PageViewRestriction.RESTRICTION_CHOICES = (
            *BaseViewRestriction.RESTRICTION_CHOICES,
            (MEMBER_ACCESS, _("Member access")),
        )
