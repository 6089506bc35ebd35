"""The grants listing: filters, search by the start of an email address, the status column,
sorting through an index in both directions, and the streamed CSV/XLSX export
(docs/performance.md#grants-listing-and-export)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.http import urlencode
from django.utils.text import get_text_list
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from wagtail.admin.ui.menus import MenuItem
from wagtail.admin.ui.tables import BulkActionsCheckboxColumn, Column, StatusTagColumn
from wagtail.admin.views.generic import IndexView
from wagtail.admin.widgets import HeaderButton

from ... import seats
from ...models import AccessList, Grant
from ...models.lists import EMPTY_IS_LATEST, listing_order
from ..exports import COLUMNS, XLSX_MAX_ROWS, csv_response, export_rows, xlsx_response
from ..filters import STATUS_CHOICES, GrantFilterSet, search_grants, status_of
from .common import ExpiryColumn, MomentColumn, can_import
from .grant_forms import revoke_url
from .seats import seats_label

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


class SeatsColumn(Column):
    """A domain grant's "12 of 30 seats used", linking to its seats; empty for an address."""

    cell_template_name = "wagtail_member_access/admin/seats_cell.html"

    def get_value(self, instance):
        if not instance.is_domain:
            return ""
        return seats_label(instance, getattr(instance, "seats_used", 0))

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        if instance.is_domain:
            context["url"] = reverse("wagtail_member_access_grants:seats", args=(instance.pk,))
        return context


#: Sort keys the listing orders through an index (models/lists.py ``listing_order``).
_INDEXED_SORT_KEYS = {"email", *EMPTY_IS_LATEST}


def listing_queryset(params, request=None):
    """The grants the listing shows for the query ``params`` (filters and search): the same
    set a bulk action on "all in listing" acts on. Invalid filters (an access list that no
    longer exists, an unknown status) select nothing, never every grant."""
    queryset = Grant.objects.all()
    filterset = GrantFilterSet(data=params, queryset=queryset, request=request)
    if not filterset.is_valid():
        return queryset.none()
    return search_grants(filterset.qs, params.get("q") or "")


def filter_errors(filterset) -> str:
    """The filter form's errors in one line ("Status: Select a valid choice. …")."""
    form = filterset.form
    return " ".join(
        f"{form.fields[name].label if name in form.fields else name}: {get_text_list(errors, '')}"
        for name, errors in form.errors.items()
    )


class GrantIndexView(IndexView):
    template_name = "wagtail_member_access/admin/grant_index.html"
    default_ordering = "email"
    search_fields = ["email", "name"]
    search_backend_name = None
    list_export = COLUMNS
    export_headings = {
        "access_list": _("Access list"),
        "status": _("Status"),
        "seats_used": _("Seats used"),
    }

    def get_base_queryset(self):
        return super().get_base_queryset().select_related("access_list")

    @cached_property
    def can_change(self):
        return self.user_has_permission("change")

    @cached_property
    def add_item_label(self):
        # Wagtail's "Add %(model_name)s" is long in German ("Zugangsberechtigung hinzufügen")
        # and squeezed the listing's title beside "Import CSV"; the button has its own words.
        return pgettext_lazy("grants listing header button", "Add grant")

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
            self._get_title_column(
                "email",
                get_title_id=lambda grant: f"grant_{grant.pk}_title",
                classname="wma-email",  # never broken inside (static/…/admin.css)
            ),
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
            SeatsColumn("seats", label=_("Seats")),
        ]
        return columns

    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        if self.can_change and instance.revoked_at is None:
            # Between "Edit" (10) and "Delete" (30); a confirmation page, then grants/.
            buttons.append(
                MenuItem(_("Revoke"), url=revoke_url(instance), icon_name="cross", priority=25)
            )
        return buttons

    def get_table(self, object_list):
        # The seats used of the page's domain grants: one query, none for a page without.
        rows = list(object_list)
        used = seats.used(grant.pk for grant in rows if grant.is_domain)
        for grant in rows:
            grant.seats_used = used.get(grant.pk, 0)
        return super().get_table(rows)

    def order_queryset(self, queryset):
        ordering = self.ordering or ""
        key = ordering.lstrip("-")
        if key in _INDEXED_SORT_KEYS:
            # The same order on SQLite and PostgreSQL, read from an index in either direction.
            return queryset.order_by(*listing_order(key, descending=ordering.startswith("-")))
        queryset = super().order_queryset(queryset)
        return queryset.order_by(*queryset.query.order_by, "pk")

    def filter_queryset(self, queryset):
        if self.filters and not self.filters.is_valid():
            # Wagtail would list every grant; an editor who asked for one list must not get
            # all of them (and a bulk action "on all in listing" acts on nothing).
            return queryset.none()
        return super().filter_queryset(queryset)

    def search_queryset(self, queryset):
        return search_grants(queryset, self.search_query)

    def get(self, request, *args, **kwargs):
        if self.is_export:
            return self.export(request.GET.get("export"))
        if self.filters and not self.filters.is_valid():
            messages.error(request, filter_errors(self.filters))
        return super().get(request, *args, **kwargs)

    def export(self, export_format: str):
        """The export of what the listing selects, or back to the listing with the reason
        when the filters are invalid or the XLSX file would be too long."""
        if self.filters and not self.filters.is_valid():
            return self._export_refused(
                _("The export was not started: %(errors)s")
                % {"errors": filter_errors(self.filters)}
            )
        queryset = self.get_queryset()
        headings = [self.get_heading(queryset, field) for field in self.list_export]
        if export_format == self.FORMAT_CSV:
            return csv_response(headings, export_rows(queryset), self.get_filename())
        count = queryset.count()
        if count > XLSX_MAX_ROWS:
            return self._export_refused(
                _(
                    "%(count)s grants are too many for an XLSX file (at most %(max)s). "
                    "Download CSV instead, or narrow the filters."
                )
                % {"count": f"{count:,}", "max": f"{XLSX_MAX_ROWS:,}"}
            )
        return xlsx_response(headings, export_rows(queryset), self.get_filename())

    def _export_refused(self, message):
        messages.error(self.request, message)
        params = self.request.GET.copy()
        params.pop("export", None)
        url = self.request.path
        return redirect(f"{url}?{params.urlencode()}" if params else url)

    def get_add_url(self):
        url = super().get_add_url()
        if url and self.filtered_list:
            url += ("&" if "?" in url else "?") + urlencode({"access_list": self.filtered_list.pk})
        return url

    @cached_property
    def header_buttons(self):
        buttons = super().header_buttons
        if can_import(self.request.user):
            # The import form asks for the list; the list filtered by is preselected.
            url = reverse("wagtail_member_access_grants:import")
            if self.filtered_list:
                url += "?" + urlencode({"access_list": self.filtered_list.pk})
            buttons.append(HeaderButton(_("Import CSV"), url=url, icon_name="upload"))
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
