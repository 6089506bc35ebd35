"""What an unlock opens: a page, or a document (whose collection's member access decides,
docs/security.md#documents). The flows, the tokens and the unlock views ask here how to
store, name and link to either, so that one journey serves both."""

from __future__ import annotations

import swapper
from django.db.models import Exists, OuterRef
from django.db.models.functions import Length, Substr
from wagtail.documents import get_document_model
from wagtail.documents.models import AbstractDocument

from . import sites
from .models import CollectionAccessRestriction, PageAccessRestriction

__all__ = [
    "challenge_fields",
    "full_url",
    "is_document",
    "of_challenge",
    "session_key",
    "site_of",
    "unlockable",
    "url",
]

_MEMBERS = PageAccessRestriction.Mode.MEMBERS


def is_document(target) -> bool:
    return isinstance(target, AbstractDocument)


def challenge_fields(target) -> dict:
    """The ``EmailChallenge`` fields naming ``target`` (None: the member sign-in)."""
    if is_document(target):
        return {"page_id": None, "document_id": target.pk}
    return {"page_id": target.pk if target is not None else None, "document_id": None}


def session_key(target) -> int | str | None:
    """How a browser's pending request names ``target`` in its session (JSON)."""
    if is_document(target):
        return f"document:{target.pk}"
    return target.pk if target is not None else None


def of_challenge(challenge):
    """The page (specific) or document a challenge is for; None for the sign-in, or when the
    document was deleted meanwhile (its id is not a foreign key)."""
    if challenge.document_id is not None:
        return get_document_model().objects.filter(pk=challenge.document_id).first()
    if challenge.page_id is not None:
        return challenge.page.specific
    return None


def url(target, request=None) -> str:
    """Where a visitor opens ``target``: the page's URL, or the document's serve URL."""
    if is_document(target):
        return target.url
    return target.get_url(request) or "/"


def site_of(target):
    """The site a challenge for ``target`` belongs to: the page's, or (documents belong to no
    site) the default one."""
    if is_document(target):
        return sites.default_site()
    return target.get_site()


def full_url(target, site=None) -> str:
    """The absolute address of ``target`` for an email."""
    if is_document(target):
        return sites.absolute_url(site or sites.default_site(), target.url)
    return target.get_full_url() or ""


def _on_path(restrictions, outer_path: str, own_path: str):
    # "A restriction set on this node or one above it": the restriction's node path is a
    # prefix of the outer row's path (Wagtail's materialised paths), in SQL.
    return Exists(
        restrictions.exclude(mode=_MEMBERS).filter(
            **{own_path: Substr(OuterRef(outer_path), 1, Length(own_path))}
        )
    )


def unlockable(page_id=None, document_id=None, filename=None):
    """The live page (specific) or the document behind an unlock URL when a restriction on
    its path is unlocked by email; None otherwise (missing, not live, public, protected by
    Wagtail's privacy or members-only access alone, or a document whose ``filename`` is not
    the one given).

    One query decides, whichever the answer, so the number of queries does not tell an id
    that exists from one that does not (docs/security.md#unlock-endpoints); the page's
    specific row is loaded only for a page that is unlockable."""
    if document_id is not None:
        protected = _on_path(
            CollectionAccessRestriction.objects, "collection__path", "collection__path"
        )
        documents = get_document_model().objects.select_related("collection")
        document = documents.filter(protected, pk=document_id).first()
        # As Wagtail's serve view: the id and the filename must name the same document.
        return document if document is not None and document.filename == filename else None
    Page = swapper.load_model("wagtailcore", "Page")
    protected = _on_path(PageAccessRestriction.objects, "path", "page__path")
    page = Page.objects.live().filter(protected, pk=page_id).first()
    return page.specific if page is not None else None
