"""The public Python API of wagtail-member-access.

Everything here is documented in docs/api.md and stable; the admin, the importer, the webhook
and the tests use these same functions. Everything else in the package is an implementation
detail::

    from wagtail_member_access import api

    course = api.create_access_list("Course A")
    api.protect(page, mode="code", access_lists=[course])
    api.grant_access("ana@example.com", course, name="Ana")
    api.can_view(user, page)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from wagtail.log_actions import log

from . import access, compat_documents, email_templates, grants, log_actions, mirror
from .access import visibility
from .email_templates import set_email_template
from .models import (
    AccessList,
    CollectionAccessRestriction,
    EmailTemplate,
    Grant,
    PageAccessRestriction,
    check_opens_after,
)

__all__ = [
    "can_view",
    "can_view_document",
    "create_access_list",
    "grant_access",
    "protect",
    "protect_collection",
    "reset_email_template",
    "revoke_access",
    "set_email_template",
    "unprotect",
    "unprotect_collection",
    "visible_pages",
]

MODES = tuple(PageAccessRestriction.Mode.values)


def create_access_list(
    name: str,
    *,
    slug: str | None = None,
    description: str = "",
    site=None,
    default_days: int | None = None,
) -> AccessList:
    """Create an access list (a product, course or membership tier) and return it.

    ``slug`` defaults to a slug of ``name``, made unique with a number if taken. ``site`` (a
    Wagtail ``Site``) limits the list to that site's pages; None (the default) means every
    site. ``default_days`` is the access period given to new grants added without an expiry
    (None: unlimited). Raises ``ValidationError`` for an empty name or a ``default_days``
    below 1.
    """
    if default_days is not None and (
        not isinstance(default_days, int) or isinstance(default_days, bool) or default_days < 1
    ):
        raise ValidationError("default_days must be a whole number of days, 1 or more.")
    name = (name or "").strip()
    if not name:
        raise ValidationError("An access list needs a name.", code="name")
    base = slugify(slug or name)[:240] or "list"
    candidate, n = base, 1
    while AccessList.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return AccessList.objects.create(
        name=name,
        slug=candidate,
        description=description,
        site=site,
        default_days=default_days,
    )


def _checked_lists(mode: str, access_lists: Iterable[AccessList]) -> list[AccessList]:
    """``access_lists`` as a list; raises ``ValidationError`` for an unknown mode or an email
    mode without lists (the same for pages and collections)."""
    if mode not in MODES:
        raise ValidationError(f"Unknown mode {mode!r}; use one of {', '.join(MODES)}.", code="mode")
    access_lists = list(access_lists)
    if mode != PageAccessRestriction.Mode.MEMBERS and not access_lists:
        raise ValidationError(
            f"Mode {mode!r} needs at least one access list: only emails on a list can unlock.",
            code="lists",
        )
    return access_lists


def protect(
    page,
    *,
    mode: str,
    access_lists: Iterable[AccessList] = (),
    groups: Iterable = (),
    user=None,
    opens_after: timedelta | None = None,
) -> PageAccessRestriction:
    """Protect ``page`` and all pages below it; replaces the page's existing member access.

    ``mode`` is ``"members"``, ``"code"``, ``"link"`` or ``"code_or_link"``. Email modes need at
    least one access list (only emails with an active grant on one of them can unlock);
    ``members`` with no lists and no groups admits any signed-in member. ``opens_after``
    (drip, a whole number of days, at most 3650) opens the pages to a member that long after
    their grant on one of the lists started; it needs at least one access list (members in a
    chosen group are not held back). Raises ``ValidationError`` (and changes nothing) for an
    unknown mode or an email mode without lists, for an access list that belongs to another
    site than the page's, or for an ``opens_after`` that is not allowed. The change is
    written to the page's history, as ``user`` if given.
    """
    access_lists = _checked_lists(mode, access_lists)
    check_opens_after(opens_after, has_lists=bool(access_lists))
    groups = list(groups)
    foreign = [al for al in access_lists if al.site_id is not None]
    if foreign:
        site = page.get_site()
        foreign = [al.name for al in foreign if site is None or al.site_id != site.pk]
        if foreign:
            raise ValidationError(
                "These access lists belong to another site and cannot open this page: "
                f"{', '.join(foreign)}.",
                code="site",
            )
    with transaction.atomic():
        restriction = mirror.save_restriction(
            page, mode, access_lists, groups, opens_after=opens_after, user=user
        )
        mirror.sync()
    return restriction


def unprotect(page, *, user=None) -> bool:
    """Remove the member access set on ``page`` itself (restrictions on its ancestors still
    apply). Returns False if the page had none."""
    with transaction.atomic():
        deleted, _ = PageAccessRestriction.objects.filter(page=page).delete()
        if deleted:
            log(instance=page, action=log_actions.UNPROTECT, user=user)
            mirror.sync()
    return bool(deleted)


def grant_access(
    email: str,
    access_list: AccessList,
    *,
    name: str | None = None,
    starts_at: datetime | None | grants.Unset = grants.UNSET,
    expires_at: datetime | None | grants.Unset = grants.UNSET,
    duration: timedelta | None = None,
    source: str = Grant.Source.API,
    reference: str | None = None,
    note: str | None = None,
    added_by=None,
    notify: bool = False,
    seats: int | None | grants.Unset = grants.UNSET,
) -> Grant:
    """Give ``email`` access to everything ``access_list`` protects, and return the grant.

    ``email`` may be a domain, ``"@school.example"``: everyone who proves an address at
    exactly that domain gets the list's access, each distinct member taking one of ``seats``
    (None: no limit; left out: a new grant has no limit, an existing one keeps its number;
    docs/courses-and-teams.md#domain-grants-and-seats).

    One grant per (email, list): granting again updates it and restores a revoked one. The same
    non-empty ``reference`` (an order id) returns the existing grant unchanged (also after a
    later reference updated it), so a retried purchase grants once. ``starts_at=None`` means
    no start (access from now on), ``expires_at=None`` unlimited, as in ``grants.grant``;
    ``duration`` counts from ``starts_at`` or now. Left out, ``name``, ``note`` and
    ``starts_at`` keep an existing grant's values, but the expiry is always set: with neither
    ``expires_at`` nor ``duration``, the grant (new or existing) gets the list's
    ``default_days`` from its start or now, and is unlimited when the list has none.
    ``notify=True`` emails the member that their access is ready, with links to the pages.
    Raises ``ValidationError`` and changes nothing for a malformed email, an expiry before the
    start, or both ``expires_at`` and ``duration``; for a malformed domain, ``seats`` for an
    address, ``seats`` below 1, or below the seats already taken.
    """
    if expires_at is grants.UNSET and duration is None:
        # An API call sets the period (docs/api.md#grant_access), so that granting again
        # renews it; grants.grant() would keep an existing grant's expiry.
        expires_at = grants.default_expiry(access_list, starts_at)
    obj, _ = grants.grant(
        email,
        access_list,
        name=name,
        starts_at=starts_at,
        expires_at=expires_at,
        duration=duration,
        source=source,
        reference=reference,
        note=note,
        added_by=added_by,
        notify=notify,
        seats=seats,
    )
    return obj


def revoke_access(email: str, access_list: AccessList, *, by=None) -> bool:
    """End ``email``'s access to ``access_list`` from its next request on. Returns False when
    there was no active grant. The grant is kept (revoked) for the record."""
    return grants.revoke(email, access_list, by=by)


def can_view(user, page) -> bool:
    """May ``user`` view ``page``? The same decision the page serve makes (``user`` may be
    ``None`` or ``AnonymousUser``)."""
    return access.can_view(user, page)


# --- documents (docs/api.md#documents) ---------------------------------------------------------


def protect_collection(
    collection,
    *,
    mode: str,
    access_lists: Iterable[AccessList] = (),
    groups: Iterable = (),
    user=None,
) -> CollectionAccessRestriction:
    """Protect the documents of ``collection`` and of every collection below it; replaces the
    collection's existing member access. The same modes, lists and groups as :func:`protect`
    (collections belong to no site, so lists of any site may open them). Raises
    ``ValidationError`` (and changes nothing) for an unknown mode, an email mode without
    lists, or the root collection. Written to the collection's history, as ``user`` if given.
    """
    access_lists = _checked_lists(mode, access_lists)
    groups = list(groups)
    if collection.is_root():
        raise ValidationError(
            "The root collection cannot be protected: protect a collection below it.",
            code="root",
        )
    with transaction.atomic():
        restriction, _ = CollectionAccessRestriction.objects.update_or_create(
            collection=collection, defaults={"mode": mode}
        )
        restriction.access_lists.set(access_lists)
        restriction.groups.set(groups)
        compat_documents.sync_collections()
        log(
            instance=collection,
            action=log_actions.PROTECT,
            user=user,
            data={"mode": mode, "access_lists": [al.name for al in access_lists]},
        )
    return restriction


def unprotect_collection(collection, *, user=None) -> bool:
    """Remove the member access set on ``collection`` itself (restrictions on the collections
    above it still apply). Returns False (and changes nothing) if it had none."""
    with transaction.atomic():
        deleted, _ = CollectionAccessRestriction.objects.filter(collection=collection).delete()
        if deleted:
            compat_documents.sync_collections()
            log(instance=collection, action=log_actions.UNPROTECT, user=user)
    return bool(deleted)


def can_view_document(user, document) -> bool:
    """May ``user`` open ``document``? The same decision the document serve makes (``user``
    may be ``None`` or ``AnonymousUser``); Wagtail's own collection privacy is not asked."""
    return access.can_view_document(user, document)


# --- editable emails (docs/member-emails.md) ---------------------------------------------------


def reset_email_template(kind: str, *, site=None, language: str | None = None, user=None) -> bool:
    """Go back to the shipped default of ``kind`` for exactly this ``site`` and ``language``
    (a version for every site or language still applies). Returns False when there was no
    version to remove; raises ``ValidationError`` for an unknown kind."""
    email_templates.check_kind(kind)
    template = EmailTemplate.objects.filter(kind=kind, site=site, language=language or "").first()
    if template is None:
        return False
    email_templates.reset_template(template, user=user)
    return True


def visible_pages(request, queryset):
    """``queryset`` (of pages) without those this request may not see: member access and
    Wagtail's own privacy alike, decided as the page serve decides. For a site's own listings
    and search views; a filter on the pages' paths, so it may come before ``.search()``::

        pages = api.visible_pages(request, Page.objects.live()).search(query)

    Costs one query for the privacy rows, plus a constant few for a signed-in member."""
    return visibility.visible_pages(request, queryset)
