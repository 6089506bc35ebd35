"""The access lists listing: each list's site, default period, active grants and the pages
it protects, with links to its grants and its CSV import."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from wagtail.admin.ui.menus import MenuItem
from wagtail.admin.ui.tables import Column
from wagtail.admin.views.generic import IndexView

from ...models import Grant, PageAccessRestriction
from .common import can_import, grant_permission_policy, grants_url

__all__ = ["AccessListIndexView"]


class ActiveGrantsColumn(Column):
    cell_template_name = "wagtail_member_access/admin/active_grants_cell.html"

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        context["url"] = grants_url(instance, status="active")
        return context


class ProtectedPagesColumn(Column):
    """The pages a list protects, each linking to its edit view, with the access mode."""

    cell_template_name = "wagtail_member_access/admin/protected_pages_cell.html"

    def get_value(self, instance):
        return [
            {
                "title": restriction.page.title,
                "url": reverse("wagtailadmin_pages:edit", args=(restriction.page_id,)),
                "mode": restriction.get_mode_display(),
            }
            for restriction in instance.restrictions.all()
        ]


class AccessListIndexView(IndexView):
    default_ordering = "name"

    def get_base_queryset(self):
        active = (
            Grant.objects.active()
            .filter(access_list=OuterRef("pk"))
            .order_by()
            .values("access_list")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_base_queryset()
            .select_related("site")
            .annotate(active_grants=Coalesce(Subquery(active, output_field=IntegerField()), 0))
            .prefetch_related(
                Prefetch(
                    "restrictions",
                    queryset=PageAccessRestriction.objects.select_related("page").order_by(
                        "page__path"
                    ),
                )
            )
        )

    @cached_property
    def columns(self):
        return [
            self._get_title_column("name"),
            Column(
                "site",
                label=pgettext_lazy("Wagtail site", "Site"),
                accessor=lambda obj: obj.site or _("All sites"),
            ),
            Column(
                "default_days",
                label=_("Default access period"),
                accessor=lambda obj: (
                    _("%(days)s days") % {"days": obj.default_days}
                    if obj.default_days
                    else _("Unlimited")
                ),
                sort_key="default_days",
            ),
            ActiveGrantsColumn("active_grants", label=_("Active grants"), sort_key="active_grants"),
            ProtectedPagesColumn("pages", label=_("Protects")),
        ]

    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        if grant_permission_policy.user_has_any_permission(
            self.request.user, ["add", "change", "delete", "view"]
        ):
            buttons.append(
                MenuItem(_("Grants"), url=grants_url(instance), icon_name="group", priority=5)
            )
        if can_import(self.request.user):
            buttons.append(
                MenuItem(
                    _("Import CSV"),
                    url=reverse("wagtail_member_access_lists:import", args=(instance.pk,)),
                    icon_name="upload",
                    priority=6,
                )
            )
        return buttons
