"""Wagtail's permission policies for documents and collections, on Wagtail 8 and 7.4.

Wagtail 8 keeps them in ``wagtail.permissions.policy_registry`` (which knows a custom document
model's own policy); Wagtail 7.4 has module-level policies instead. This is the one place that
tells them apart.
"""

from __future__ import annotations

from wagtail.documents import get_document_model
from wagtail.models import Collection

try:  # Wagtail 8
    from wagtail.permissions import policy_registry
except ImportError:  # Wagtail 7.4
    policy_registry = None

__all__ = ["collection_policy", "document_policy"]


def document_policy():
    """The permission policy of the document model (``change`` on a document or collection)."""
    if policy_registry is not None:
        return policy_registry.get_by_type(get_document_model())
    from wagtail.documents.permissions import permission_policy

    return permission_policy


def collection_policy():
    """The permission policy of collections (``change``: Wagtail's rule for their privacy)."""
    if policy_registry is not None:
        return policy_registry.get_by_type(Collection)
    from wagtail.permissions import collection_permission_policy

    return collection_permission_policy
