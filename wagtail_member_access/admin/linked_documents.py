"""Documents a page links to that anyone can download: the warning on a page's Member access
view (docs/editor-guide.md#documents). A protected page does not protect the files it links
to; their collection must be protected too."""

from __future__ import annotations

from django.urls import reverse
from wagtail.documents import get_document_model
from wagtail.models import ReferenceIndex

from .. import access

__all__ = ["unprotected_documents"]


def unprotected_documents(page) -> list[dict]:
    """The documents ``page`` links to (Wagtail's reference index: fields, rich text,
    StreamField blocks) that anyone can download: no member access on their collection or
    above. Each with its collection and the URL of that collection's member access (empty
    for the root collection, which cannot be protected). Two queries, plus one per distinct
    collection."""
    Document = get_document_model()
    references = ReferenceIndex.get_references_for_object(page).filter(
        to_content_type=ReferenceIndex._get_base_content_type(Document)
    )
    ids = {int(object_id) for object_id in references.values_list("to_object_id", flat=True)}
    if not ids:
        return []
    documents = Document.objects.filter(pk__in=ids).select_related("collection").order_by("title")
    result, is_open = [], {}
    for document in documents:
        collection = document.collection
        if collection.pk not in is_open:
            is_open[collection.pk] = not access.rules_for_collection(collection)
        if is_open[collection.pk]:
            result.append(
                {
                    "document": document,
                    "collection": collection,
                    "protect_url": ""
                    if collection.is_root()
                    else reverse("wagtail_member_access_collections:edit", args=[collection.pk]),
                }
            )
    return result
