"""The CSV import screen: upload → dry run (counts, every invalid row, and what happens to
each row, a page at a time) → import all or nothing, through
:func:`wagtail_member_access.imports.import_csv`. Reached from one list (the list is fixed)
or from the grants listing (the editor chooses the list)."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.generic import View
from wagtail.admin import messages
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from ...conf import app_settings
from ...imports import InvalidFile, import_csv
from ...imports.dates import FORMATS_HELP
from ...models import AccessList
from ..forms import ImportForm
from .common import can_import, grants_url

__all__ = ["ImportView"]

logger = logging.getLogger("wagtail_member_access")

_SESSION_KEY = "wagtail_member_access.import"
#: Uploaded files not imported or cancelled are removed after this many seconds.
_UPLOAD_LIFETIME = 24 * 3600
#: Rows per page of the dry run's row-by-row table.
PREVIEW_PAGE_SIZE = 50


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
    """Upload a CSV → dry run (counts, every invalid row, each row of a page) → import all
    or nothing.

    The upload is kept in a private temporary file between the two steps (and for paging
    through the dry run); the session holds its random name, bound to the list, so one
    editor's file is never another's. Without ``pk`` (the grants listing's "Import CSV") the
    form asks for the list; everything after the upload happens on the list's own URL.
    """

    template_name = "wagtail_member_access/admin/import.html"
    header_icon = "upload"

    def dispatch(self, request, pk=None):
        if not can_import(request.user):
            raise PermissionDenied
        self.access_list = get_object_or_404(AccessList, pk=pk) if pk is not None else None
        return super().dispatch(request, pk)

    def get_page_title(self):
        return _("Import grants")

    def get_page_subtitle(self):
        return self.access_list.name if self.access_list else ""

    def get_breadcrumbs_items(self):
        trail = [{"url": reverse("wagtail_member_access_grants:index"), "label": _("Grants")}]
        if self.access_list:
            trail = [
                {"url": reverse("wagtail_member_access_lists:index"), "label": _("Access lists")},
                {"url": grants_url(self.access_list), "label": self.access_list.name},
            ]
        return [*self.breadcrumbs_items, *trail, {"url": "", "label": _("Import grants")}]

    def _list_url(self) -> str:
        """This list's import URL, or the one that asks for the list."""
        if self.access_list is None:
            return reverse("wagtail_member_access_grants:import")
        return reverse("wagtail_member_access_lists:import", args=(self.access_list.pk,))

    def _form(self, *args) -> ImportForm:
        initial = {}
        if self.access_list is None:
            list_id = self.request.GET.get("access_list", "")
            if list_id.isdigit():
                initial["access_list"] = AccessList.objects.filter(pk=list_id).first()
        return ImportForm(*args, choose_list=self.access_list is None, initial=initial)

    def render(self, **context):
        return TemplateResponse(
            self.request,
            self.template_name,
            self.get_context_data(
                access_list=self.access_list,
                import_url=self._list_url(),
                max_size_mb=f"{app_settings.IMPORT_MAX_SIZE / 1_000_000:g}",
                date_formats=FORMATS_HELP,
                time_zone=timezone.get_current_timezone_name(),
                grants_url=grants_url(self.access_list),
                **context,
            ),
        )

    def get(self, request, pk=None):
        page = request.GET.get("p", "")
        if self.access_list is not None and page:
            pending = self._pending()
            if pending is None:
                return self._gone()
            return self._run(*pending, dry_run=True, page=int(page) if page.isdigit() else 1)
        return self.render(form=self._form())

    def post(self, request, pk=None):
        if "cancel" in request.POST:
            self._discard()
            return HttpResponseRedirect(grants_url(self.access_list))
        if "import" in request.POST:
            return self._import()
        form = self._form(request.POST, request.FILES)
        if not form.is_valid():
            return self.render(form=form)
        if self.access_list is None:
            self.access_list = form.cleaned_data["access_list"]
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
        if not state or self.access_list is None or state.get("list") != self.access_list.pk:
            return None
        path = _upload_dir() / f"{state['token']}.csv"
        return (path, state["name"]) if path.exists() else None

    def _discard(self) -> None:
        pending = self._pending()
        self.request.session.pop(_SESSION_KEY, None)
        if pending:
            pending[0].unlink(missing_ok=True)

    def _gone(self):
        messages.error(
            self.request, _("The uploaded file is no longer available. Upload it again.")
        )
        return HttpResponseRedirect(self._list_url())

    def _import_csv(self, path: Path, name: str, *, dry_run: bool, page: int):
        first = (page - 1) * PREVIEW_PAGE_SIZE + 1
        with open(path, "rb") as raw:
            return import_csv(
                File(raw, name=name),
                self.access_list,
                dry_run=dry_run,
                added_by=self.request.user,
                tz=timezone.get_current_timezone(),
                preview=range(first, first + PREVIEW_PAGE_SIZE) if dry_run else None,
            )

    def _run(self, path: Path, name: str, *, dry_run: bool, page: int = 1):
        try:
            result = self._import_csv(path, name, dry_run=dry_run, page=page)
            pages = Paginator(range(result.rows), PREVIEW_PAGE_SIZE).get_page(page)
            if dry_run and pages.number != page:  # past the last page: show the last one
                result = self._import_csv(path, name, dry_run=True, page=pages.number)
        except InvalidFile as error:
            self._discard()
            return self.render(form=self._form(), file_error=error.message, file_name=name)
        if dry_run or not result.ok:
            importable = result.ok and (result.new or result.updated)
            # Kept to import it, or to page through its rows; else removed at once.
            if not importable and not (dry_run and pages.paginator.num_pages > 1):
                self._discard()
            return self.render(
                form=ImportForm(),
                result=result,
                file_name=name,
                pages=pages if self._pending() else None,
                elided_page_range=pages.paginator.get_elided_page_range(pages.number),
            )
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
            return self._gone()
        return self._run(*pending, dry_run=False)
