"""Views of the access-list admin, one module per screen. They parse input, call one function
of :mod:`wagtail_member_access.grants` or :mod:`wagtail_member_access.imports`, and render."""

from __future__ import annotations

from .common import grant_permission_policy, grants_url
from .csv_import import ImportView
from .grant_forms import GrantCreateView, GrantDeleteView, GrantEditView, GrantRevokeView
from .grant_list import GrantIndexView, listing_queryset
from .lists import AccessListIndexView
from .seats import SeatsView, seats_label

__all__ = [
    "AccessListIndexView",
    "GrantCreateView",
    "GrantDeleteView",
    "GrantEditView",
    "GrantIndexView",
    "GrantRevokeView",
    "ImportView",
    "SeatsView",
    "grant_permission_policy",
    "grants_url",
    "listing_queryset",
    "seats_label",
]
