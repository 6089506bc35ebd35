"""The grants listing: filters, search, the status column, null-aware sorting and the
CSV/XLSX export (with formula cells neutralised)."""

from __future__ import annotations

from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import BulkActionsCheckboxColumn, Column, StatusTagColumn
from wagtail.admin.views.generic import IndexView
from wagtail.admin.widgets import HeaderButton

from ...models import AccessList, Grant
from ..exports import NeutralisingExportMixin
from ..filters import STATUS_CHOICES, GrantFilterSet, status_of
from .common import ExpiryColumn, MomentColumn, can_import

__all__ = ["GrantIndexView", "listing_queryset"]

_STATUS_LABELS = dict(STATUS_CHOICES)


class StatusColumn(StatusTagColumn):
    def __init__(self, name, **kwargs):
        super().__init__(name, accessor=self.label, **kwargs)

    @staticmethod
    def label(grant):
        return _STATUS_LABELS[status_of(grant)]

    def get_primary(self, instance):
        return status_of(instance) == "active"


#: Sort keys whose empty value means "latest" (no end) rather than "earliest" (no start,
#: never).
_EMPTY_IS_LATEST = {"expires_at"}
_NULLABLE_SORT_KEYS = {"expires_at", "last_access_at", "starts_at"}


def listing_queryset(params, request=None):
    """The grants the listing shows for the query ``params`` (filters and search): the same
    set a bulk action on "all in listing" acts on."""
    queryset = Grant.objects.all()
    filterset = GrantFilterSet(data=params, queryset=queryset, request=request)
    if filterset.is_valid():
        queryset = filterset.qs
    query = (params.get("q") or "").strip()
    if query:
        queryset = queryset.filter(email__icontains=query) | queryset.filter(name__icontains=query)
    return queryset


class GrantIndexView(NeutralisingExportMixin, IndexView):
    template_name = "wagtail_member_access/admin/grant_index.html"
    default_ordering = "email"
    search_fields = ["email", "name"]
    search_backend_name = None
    list_export = [
        "email",
        "name",
        "access_list",
        "status",
        "starts_at",
        "expires_at",
        "revoked_at",
        "last_access_at",
        "source",
        "reference",
        "note",
        "created_at",
    ]
    export_headings = {"access_list": _("Access list"), "status": _("Status")}

    def get_base_queryset(self):
        return super().get_base_queryset().select_related("access_list")

    @cached_property
    def can_change(self):
        return self.user_has_permission("change")

    @cached_property
    def filtered_list(self) -> AccessList | None:
        """The one access list the listing is filtered by, if it is."""
        if self.filters and self.filters.is_valid():
            return self.filters.form.cleaned_data.get("access_list")
        return None

    @cached_property
    def columns(self):
        columns = []
        if self.can_change:
            columns.append(BulkActionsCheckboxColumn("bulk_actions", obj_type="grant"))
        columns += [
            self._get_title_column("email", get_title_id=lambda grant: f"grant_{grant.pk}_title"),
            Column("name", label=_("Name"), sort_key="name"),
            Column("access_list", label=_("Access list"), accessor="access_list.name"),
            StatusColumn("status", label=_("Status")),
            MomentColumn("starts_at", label=_("Starts"), sort_key="starts_at"),
            ExpiryColumn(
                "expires_at", label=_("Expires"), sort_key="expires_at", empty=_("Unlimited")
            ),
            MomentColumn(
                "last_access_at",
                label=_("Last access"),
                sort_key="last_access_at",
                empty=_("Never"),
            ),
            Column("source", label=_("Source"), accessor="get_source_display"),
        ]
        return columns

    def order_queryset(self, queryset):
        ordering = self.ordering or ""
        key = ordering.lstrip("-")
        if key in _NULLABLE_SORT_KEYS:
            descending = ordering.startswith("-")
            # The same order on SQLite and PostgreSQL: an empty expiry (unlimited) is the
            # latest end, an empty start or last access the earliest.
            empty_last = (key in _EMPTY_IS_LATEST) != descending
            expression = F(key).desc if descending else F(key).asc
            return queryset.order_by(
                expression(nulls_last=True) if empty_last else expression(nulls_first=True),
                "email",
                "pk",
            )
        queryset = super().order_queryset(queryset)
        return queryset.order_by(*queryset.query.order_by, "pk")

    def get_add_url(self):
        url = super().get_add_url()
        if url and self.filtered_list:
            url += ("&" if "?" in url else "?") + urlencode({"access_list": self.filtered_list.pk})
        return url

    @cached_property
    def header_buttons(self):
        buttons = super().header_buttons
        if self.filtered_list and can_import(self.request.user):
            buttons.append(
                HeaderButton(
                    _("Import CSV"),
                    url=reverse(
                        "wagtail_member_access_lists:import", args=(self.filtered_list.pk,)
                    ),
                    icon_name="upload",
                )
            )
        return buttons

    def get_page_subtitle(self):
        return self.filtered_list.name if self.filtered_list else super().get_page_subtitle()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_change"] = self.can_change
        return context

    def get_filename(self):
        name = f"grants-{self.filtered_list.slug}" if self.filtered_list else "grants"
        return f"{name}-{timezone.localdate():%Y-%m-%d}"

    def to_row_dict(self, item):
        values = {
            "access_list": item.access_list.name,
            "status": str(_STATUS_LABELS[status_of(item)]),
            "source": item.get_source_display(),
        }
        return {
            field: values[field] if field in values else getattr(item, field)
            for field in self.list_export
        }
