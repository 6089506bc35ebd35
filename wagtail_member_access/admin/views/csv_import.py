"""The CSV import screen: upload → dry run (counts, every invalid row) → import all or
nothing, through :func:`wagtail_member_access.imports.import_csv`."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.files import File
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
from ...models import AccessList
from ..forms import ImportForm
from .common import can_import, grants_url

__all__ = ["ImportView"]

logger = logging.getLogger("wagtail_member_access")

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

    def dispatch(self, request, pk):
        if not can_import(request.user):
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
