"""The "Member access" menu: access lists and grants as Wagtail ``ModelViewSet``s, with
Django's model permissions (view, add, change, delete) deciding who sees and does what."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet

from ..models import AccessList, Grant
from .emails import EmailLayoutViewSet, EmailTemplateViewSet
from .filters import GrantFilterSet
from .forms import AccessListForm, GrantForm
from .members import BulkEmailViewSet
from .views import (
    AccessListIndexView,
    GrantCreateView,
    GrantDeleteView,
    GrantEditView,
    GrantIndexView,
    GrantRevokeView,
    ImportView,
    SeatsView,
)

__all__ = ["AccessListViewSet", "GrantViewSet", "MemberAccessGroup", "member_access_group"]


class AccessListViewSet(ModelViewSet):
    model = AccessList
    name = "wagtail_member_access_lists"
    url_prefix = "member-access/lists"
    icon = "list-ul"
    menu_label = _("Access lists")
    menu_order = 100
    index_view_class = AccessListIndexView
    form_fields = ["name", "slug", "description", "site", "default_days"]
    search_fields = ["name", "slug", "description"]
    search_backend_name = None
    copy_view_enabled = False
    list_per_page = 50

    def get_form_class(self, for_update=False):
        return AccessListForm

    @property
    def import_view(self):
        return ImportView.as_view()

    def get_urlpatterns(self):
        return [
            *super().get_urlpatterns(),
            path("<int:pk>/import/", self.import_view, name="import"),
        ]


class GrantViewSet(ModelViewSet):
    model = Grant
    name = "wagtail_member_access_grants"
    url_prefix = "member-access/grants"
    icon = "group"
    menu_label = _("Grants")
    menu_order = 200
    index_view_class = GrantIndexView
    add_view_class = GrantCreateView
    edit_view_class = GrantEditView
    delete_view_class = GrantDeleteView
    filterset_class = GrantFilterSet
    search_fields = ["email", "name"]
    search_backend_name = None
    copy_view_enabled = False
    list_per_page = 50
    list_export = GrantIndexView.list_export
    export_filename = "grants"

    def get_form_class(self, for_update=False):
        return GrantForm

    def get_urlpatterns(self):
        # "Import CSV" in the grants listing's header: the form asks for the list.
        return [
            *super().get_urlpatterns(),
            path("import/", ImportView.as_view(), name="import"),
            path("<int:pk>/seats/", SeatsView.as_view(), name="seats"),
            path("<int:pk>/revoke/", GrantRevokeView.as_view(), name="revoke"),
        ]


class MemberAccessGroup(ViewSetGroup):
    menu_label = _("Member access")
    menu_icon = "lock"
    menu_order = 250
    items = (
        AccessListViewSet,
        GrantViewSet,
        BulkEmailViewSet,
        EmailTemplateViewSet,
        EmailLayoutViewSet,
    )


def member_access_group() -> MemberAccessGroup:
    """For the ``register_admin_viewset`` hook."""
    return MemberAccessGroup()
