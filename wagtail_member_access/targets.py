"""What an unlock opens: a page, or a document (whose collection's member access decides,
docs/security.md#documents). The flows, the tokens and the unlock views ask here how to
store, name and link to either, so that one journey serves both."""

from __future__ import annotations

from wagtail.documents import get_document_model
from wagtail.documents.models import AbstractDocument

from . import sites

__all__ = [
    "challenge_fields",
    "full_url",
    "is_document",
    "of_challenge",
    "session_key",
    "site_of",
    "url",
]


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
