"""Views of the access-list admin. They parse input, call one function of
:mod:`wagtail_member_access.grants` or :mod:`wagtail_member_access.imports`, and render."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.generic import View
from wagtail.admin import messages
from wagtail.admin.ui.menus import MenuItem
from wagtail.admin.ui.tables import BulkActionsCheckboxColumn, Column, StatusTagColumn
from wagtail.admin.views.generic import CreateView, DeleteView, EditView, IndexView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.widgets import HeaderButton
from wagtail.permission_policies import ModelPermissionPolicy

from .. import grants
from ..conf import app_settings
from ..imports import InvalidFile, import_csv
from ..models import AccessList, Grant, PageAccessRestriction
from .exports import NeutralisingExportMixin
from .filters import STATUS_CHOICES, GrantFilterSet, status_of
from .forms import ImportForm

__all__ = [
    "AccessListIndexView",
    "GrantCreateView",
    "GrantEditView",
    "GrantIndexView",
    "ImportView",
    "grant_permission_policy",
    "grants_url",
    "listing_queryset",
]

logger = logging.getLogger("wagtail_member_access")

grant_permission_policy = ModelPermissionPolicy(Grant)

_STATUS_LABELS = dict(STATUS_CHOICES)


def _moment(value, empty=""):
    """A moment as the editor reads it: their time zone, the admin's date format."""
    if value is None:
        return empty
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")


def grants_url(access_list: AccessList | None = None, **params) -> str:
    """The grants listing, filtered by ``access_list`` (and ``params``) if given."""
    if access_list is not None:
        params = {"access_list": access_list.pk, **params}
    url = reverse("wagtail_member_access_grants:index")
    return f"{url}?{urlencode(params)}" if params else url


# --- access lists -------------------------------------------------------------------------------


class MomentColumn(Column):
    def __init__(self, name, *, empty="", **kwargs):
        super().__init__(name, **kwargs)
        self.empty = empty

    def get_value(self, instance):
        return _moment(getattr(instance, self.accessor), self.empty)


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
                label=_("Site"),
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
        if ImportView.allowed(self.request.user):
            buttons.append(
                MenuItem(
                    _("Import CSV"),
                    url=reverse("wagtail_member_access_lists:import", args=(instance.pk,)),
                    icon_name="upload",
                    priority=6,
                )
            )
        return buttons


# --- grants --------------------------------------------------------------------------------------


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
            MomentColumn(
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
        if self.filtered_list and ImportView.allowed(self.request.user):
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


class _GrantFormMixin:
    """Save through :func:`grants.grant`; what it refuses becomes a form error."""

    def save_instance(self):
        obj, _created = grants.grant(
            **self.form.grant_arguments(),
            source=Grant.Source.MANUAL,
            added_by=self.request.user,
        )
        return obj

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except ValidationError as error:
            if error.code == "expires_before":
                form.add_error("expires_at", _("The access must end after it starts."))
            else:
                form.add_error(None, error)
            self.produced_error_message = self.get_error_message()
            return self.form_invalid(form)

    def get_success_url(self):
        return grants_url(self.object.access_list)


class GrantCreateView(_GrantFormMixin, CreateView):
    def get_initial(self):
        initial = super().get_initial()
        list_id = self.request.GET.get("access_list", "")
        if list_id.isdigit():
            initial["access_list"] = AccessList.objects.filter(pk=list_id).first()
        return initial

    def get_success_message(self, instance=None):
        instance = instance or self.object
        if self.form.cleaned_data.get("notify"):
            message = _("Access granted to %(email)s on “%(list)s”; the access email is sent.")
        else:
            message = _("Access granted to %(email)s on “%(list)s”.")
        return message % {"email": instance.email, "list": instance.access_list.name}


class GrantEditView(_GrantFormMixin, EditView):
    template_name = "wagtail_member_access/admin/grant_edit.html"

    def get_success_message(self, instance=None):
        instance = instance or self.object
        return _("The grant of %(email)s on “%(list)s” was saved.") % {
            "email": instance.email,
            "list": instance.access_list.name,
        }


class GrantDeleteView(DeleteView):
    """Wagtail's delete view, deleting through :func:`grants.delete` (the audit-log entry, and
    ``access_revoked`` for an active grant)."""

    def delete_action(self):
        grants.delete(self.object, by=self.request.user)

    def get_success_url(self):
        return grants_url(self.object.access_list)


# --- CSV import ----------------------------------------------------------------------------------

_SESSION_KEY = "wagtail_member_access.import"
#: Uploaded files not imported or cancelled are removed after this many seconds.
_UPLOAD_LIFETIME = 24 * 3600


def _upload_dir() -> Path:
    """Where uploads wait between the dry run and the import: a private directory of the
    system's temporary directory, not the media storage (which may be public)."""
    path = Path(tempfile.gettempdir()) / "wagtail_member_access_imports"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _remove_stale_uploads(directory: Path) -> None:
    cutoff = time.time() - _UPLOAD_LIFETIME
    for path in directory.glob("*.csv"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:  # removed by another process meanwhile
            pass


class ImportView(WagtailAdminTemplateMixin, View):
    """Upload a CSV → dry run (counts, every invalid row) → import all or nothing.

    The upload is kept in a private temporary file between the two steps; the session holds
    its random name, bound to the list, so one editor's file is never another's.
    """

    template_name = "wagtail_member_access/admin/import.html"
    header_icon = "upload"

    @staticmethod
    def allowed(user) -> bool:
        return grant_permission_policy.user_has_permission(
            user, "add"
        ) and grant_permission_policy.user_has_permission(user, "change")

    def dispatch(self, request, pk):
        if not self.allowed(request.user):
            raise PermissionDenied
        self.access_list = get_object_or_404(AccessList, pk=pk)
        return super().dispatch(request, pk)

    def get_page_title(self):
        return _("Import grants")

    def get_page_subtitle(self):
        return self.access_list.name

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse("wagtail_member_access_lists:index"), "label": _("Access lists")},
            {"url": grants_url(self.access_list), "label": self.access_list.name},
            {"url": "", "label": _("Import grants")},
        ]

    def render(self, **context):
        return TemplateResponse(
            self.request,
            self.template_name,
            self.get_context_data(
                access_list=self.access_list,
                max_size_mb=f"{app_settings.IMPORT_MAX_SIZE / 1_000_000:g}",
                grants_url=grants_url(self.access_list),
                **context,
            ),
        )

    def get(self, request, pk):
        return self.render(form=ImportForm())

    def post(self, request, pk):
        if "cancel" in request.POST:
            self._discard()
            return HttpResponseRedirect(grants_url(self.access_list))
        if "import" in request.POST:
            return self._import()
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render(form=form)
        self._discard()
        upload = form.cleaned_data["file"]
        directory = _upload_dir()
        _remove_stale_uploads(directory)
        token = secrets.token_urlsafe(24)
        path = directory / f"{token}.csv"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        request.session[_SESSION_KEY] = {
            "token": token,
            "list": self.access_list.pk,
            "name": os.path.basename(upload.name or "")[:200],
        }
        return self._run(path, upload.name, dry_run=True)

    def _pending(self) -> tuple[Path, str] | None:
        state = self.request.session.get(_SESSION_KEY)
        if not state or state.get("list") != self.access_list.pk:
            return None
        path = _upload_dir() / f"{state['token']}.csv"
        return (path, state["name"]) if path.exists() else None

    def _discard(self) -> None:
        pending = self._pending()
        self.request.session.pop(_SESSION_KEY, None)
        if pending:
            pending[0].unlink(missing_ok=True)

    def _run(self, path: Path, name: str, *, dry_run: bool):
        with open(path, "rb") as raw:
            try:
                result = import_csv(
                    File(raw, name=name),
                    self.access_list,
                    dry_run=dry_run,
                    added_by=self.request.user,
                    tz=timezone.get_current_timezone(),
                )
            except InvalidFile as error:
                self._discard()
                return self.render(form=ImportForm(), file_error=error.message, file_name=name)
        if dry_run or not result.ok:
            if not result.ok or not (result.new or result.updated):
                self._discard()
            return self.render(form=ImportForm(), result=result, file_name=name)
        self._discard()
        logger.info(
            "Import into list %s by user %s: %s.",
            self.access_list.pk,
            self.request.user.pk,
            result.summary(),
        )
        messages.success(
            self.request,
            _(
                "Imported %(new)s new and %(updated)s updated grants into “%(list)s” "
                "(%(unchanged)s unchanged)."
            )
            % {
                "new": result.new,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "list": self.access_list.name,
            },
        )
        return HttpResponseRedirect(grants_url(self.access_list))

    def _import(self):
        pending = self._pending()
        if pending is None:
            messages.error(
                self.request,
                _("The uploaded file is no longer available. Upload it again."),
            )
            return HttpResponseRedirect(
                reverse("wagtail_member_access_lists:import", args=(self.access_list.pk,))
            )
        return self._run(*pending, dry_run=False)
