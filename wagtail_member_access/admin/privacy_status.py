"""Member access where Wagtail shows privacy: the page editor's status side panel and the
padlock of the page explorer (docs/editor-guide.md#privacy-status).

Both already say "private" for a member-protected page, because of its mirror row
(docs/protected-channels.md). This module makes them say *how*:

* the status side panel's "Private" item lists every restriction on the page's path, in the
  words an editor chose them ("Members with an email code — Course A"), each either "Set on
  this page" or "Protected by <ancestor>" with a link to that page's Member access view;
  Wagtail's own privacy on the same path is listed beside ours;
* the explorer's padlock gets a tooltip naming the mode and the lists.

Wagtail 7.4 and 8.0 offer no hook for either, so :func:`install` makes two small overrides
(from ``AppConfig.ready()``): ``PageStatusSidePanel.get_context_data`` swaps Wagtail's privacy
template for ours, which extends it; ``PageTitleColumn.render_cell_html`` swaps the
padlock Wagtail rendered for ours. Both fall back to Wagtail's own output when Wagtail's code
changes, and :func:`problems` (system check ``wagtail_member_access.W030``) says so. The page
listing's member access filters (:mod:`.page_filters`) are installed and checked here too.
"""

from __future__ import annotations

import functools

from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.side_panels import PageStatusSidePanel
from wagtail.admin.ui.tables.pages import PageTitleColumn
from wagtail.models import BaseViewRestriction, PageViewRestriction

from .. import access, mirror
from ..compat import OVERRIDE_MARK, code_names, wrap
from ..models import PageAccessRestriction
from . import page_filters
from .page_access import may_set_member_access, page_access_url

__all__ = [
    "AUDIENCE",
    "WAGTAIL_PRIVACY",
    "WAGTAIL_PRIVACY_TEMPLATE",
    "install",
    "padlock_tooltip",
    "page_status",
    "problems",
    "restriction_text",
    "status_html",
]

Mode = PageAccessRestriction.Mode

#: Who may view a page, per mode: the first half of each line of the status panel.
AUDIENCE = {
    Mode.MEMBERS: _("Signed-in members"),
    Mode.CODE: _("Members with an email code"),
    Mode.LINK: _("Members with a magic link"),
    Mode.CODE_OR_LINK: _("Members with an email code or magic link"),
}

#: Wagtail's own privacy, in the same words (shown beside ours).
WAGTAIL_PRIVACY = {
    BaseViewRestriction.LOGIN: _("Signed-in users (Wagtail's privacy)"),
    BaseViewRestriction.PASSWORD: _("A shared password (Wagtail's privacy)"),
    BaseViewRestriction.GROUPS: _("Users in chosen groups (Wagtail's privacy)"),
}

WAGTAIL_PRIVACY_TEMPLATE = "wagtailadmin/shared/side_panels/includes/status/privacy.html"
PRIVACY_TEMPLATE = "wagtail_member_access/admin/status_privacy.html"
STATUS_TEMPLATE = "wagtail_member_access/admin/_status_member_access.html"
WAGTAIL_PADLOCK_TEMPLATE = "wagtailadmin/pages/listing/_privacy_indicator.html"
PADLOCK_TEMPLATE = "wagtail_member_access/admin/privacy_indicator.html"


def restriction_text(mode: str, lists=(), groups=()) -> str:
    """One restriction in words: "Members with an email code — Course A, Course B"; a
    members-only restriction naming no list and no group: "Any signed-in member"."""
    names = [str(name) for name in lists]
    names += [gettext("group %(name)s") % {"name": name} for name in groups]
    if not names:
        return gettext("Any signed-in member") if mode == Mode.MEMBERS else str(AUDIENCE[mode])
    return _audience_of(AUDIENCE[mode], names)


def _audience_of(audience, names) -> str:
    """Who, with the lists or groups: "Members with an email code — Course A, Course B"."""
    return gettext("%(audience)s — %(names)s") % {"audience": audience, "names": ", ".join(names)}


def _words(restriction) -> str:
    """:func:`restriction_text` of a :class:`access.PathRestriction`."""
    return restriction_text(
        restriction.mode,
        [al.name for al in restriction.access_lists],
        [group.name for group in restriction.groups],
    )


# --- the status side panel --------------------------------------------------------------------


def _ancestor_link(ancestor, user, *, ours: bool) -> str:
    """Where "Protected by <ancestor>" links to: its Member access view (ours) or its editor
    (Wagtail's privacy is changed there); empty when ``user`` may not open either."""
    if ours:
        return page_access_url(ancestor) if may_set_member_access(user, ancestor) else ""
    if ancestor.permissions_for_user(user).can_edit():
        return reverse("wagtailadmin_pages:edit", args=[ancestor.pk])
    return ""


def _wagtail_rows(page):
    """Wagtail's own privacy rows on ``page``'s path (its own and its ancestors'), outermost
    first; one query."""
    return list(
        PageViewRestriction.objects.filter(page__in=page.get_ancestors(inclusive=True).values("pk"))
        .exclude(restriction_type=mirror.MEMBER_ACCESS)
        .select_related("page")
        .prefetch_related("groups")
        .order_by("page__depth")
    )


def page_status(page, user) -> dict | None:
    """What the status side panel says about ``page``'s member access, for ``user``; None
    when no member access applies (Wagtail's own panel is then left as it is).

    ``entries``: one per restriction on the path (ours, then Wagtail's own), each with its
    ``text``, ``own`` (set on the page itself) and, for an inherited one, the ``source`` page
    and its ``url`` ("" when ``user`` may not open it); ``details_url``: the page's Member
    access view when ``user`` may use it. A few queries: ``access.path_restrictions`` and one
    for Wagtail's rows."""
    ours = access.path_restrictions(page).on_path
    if not ours:
        return None
    entries = []
    for restriction in ours:
        own = restriction.page.pk == page.pk
        entries.append(
            {
                "text": _words(restriction),
                "own": own,
                "source": restriction.page,
                "url": "" if own else _ancestor_link(restriction.page, user, ours=True),
            }
        )
    for row in _wagtail_rows(page):
        text = WAGTAIL_PRIVACY.get(row.restriction_type)
        if text is None:  # Public: Wagtail writes no row for it
            continue
        if row.restriction_type == BaseViewRestriction.GROUPS:
            text = _audience_of(text, [group.name for group in row.groups.all()])
        own = row.page_id == page.pk
        entries.append(
            {
                "text": str(text),
                "own": own,
                "source": row.page,
                "url": "" if own else _ancestor_link(row.page, user, ours=False),
            }
        )
    return {
        "entries": entries,
        "details_url": page_access_url(page) if may_set_member_access(user, page) else "",
    }


def status_html(page, request) -> str:
    """The "Who may view" section of ``page``'s status side panel as it is now ("" when no
    member access applies): the privacy dialog sends it after saving, so the panel shows the
    saved state without reloading the editor."""
    return render_to_string(
        STATUS_TEMPLATE, {"member_access": page_status(page, request.user)}, request
    )


def _status_context(original):
    def get_context_data(self, parent_context):
        context = original(self, parent_context)
        templates = context.get("status_templates")
        if self.object.pk and templates and WAGTAIL_PRIVACY_TEMPLATE in templates:
            # Also for a page without member access: the slot our section goes into when
            # the privacy dialog sets some (status_html).
            context["member_access"] = page_status(self.object, self.request.user)
            context["status_templates"] = [
                PRIVACY_TEMPLATE if name == WAGTAIL_PRIVACY_TEMPLATE else name for name in templates
            ]
        return context

    return get_context_data


# --- the explorer's padlock --------------------------------------------------------------------


class _Restrictions:
    """Every restriction of the site by path, in words, loaded once per request: four queries
    however many rows the listing shows."""

    def __init__(self):
        rows = list(PageViewRestriction.objects.values_list("page__path", "restriction_type"))
        self.member_paths = [path for path, kind in rows if kind == mirror.MEMBER_ACCESS]
        self.wagtail = [(path, kind) for path, kind in rows if kind in WAGTAIL_PRIVACY]
        self.ours = []
        if self.member_paths:
            restrictions = (
                PageAccessRestriction.objects.select_related("page")
                .prefetch_related("access_lists", "groups")
                .order_by("page__depth", "pk")
            )
            self.ours = [
                (
                    r.page.path,
                    restriction_text(
                        r.mode,
                        sorted(al.name for al in r.access_lists.all()),
                        sorted(group.name for group in r.groups.all()),
                    ),
                )
                for r in restrictions
            ]

    def tooltip(self, page) -> str:
        if not any(page.path.startswith(path) for path in self.member_paths):
            return ""
        lines = [text for path, text in self.ours if page.path.startswith(path)]
        if not lines:
            # Protected through a translation or an alias's source: ask the one reader.
            lines = [_words(r) for r in access.path_restrictions(page).on_path]
        lines += [
            str(WAGTAIL_PRIVACY[kind]) for path, kind in self.wagtail if page.path.startswith(path)
        ]
        return gettext("Private: %(who)s") % {"who": "; ".join(lines)}


def padlock_tooltip(request, page) -> str:
    """The tooltip of ``page``'s padlock in the explorer ("Private: Members with an email code
    — Course A"), or "" when no member access applies. The restrictions are read once per
    ``request``."""
    loaded = getattr(request, "_wma_padlock_restrictions", None)
    if loaded is None:
        loaded = request._wma_padlock_restrictions = _Restrictions()
    return loaded.tooltip(page)


def _title_cell(original):
    def render_cell_html(self, instance, parent_context):
        html = original(self, instance, parent_context)
        request = parent_context.get("request")
        tooltip = padlock_tooltip(request, instance) if request is not None else ""
        if not tooltip:
            return html
        context = {"page": instance, "request": request}
        theirs = get_template(WAGTAIL_PADLOCK_TEMPLATE).render(context, request)
        if not theirs.strip() or theirs not in html:
            return html  # Wagtail's cell changed: keep its own padlock (check W030 says so)
        ours = render_to_string(PADLOCK_TEMPLATE, {"tooltip": tooltip}, request)
        # Both are rendered templates, autoescaped: the result is as safe as Wagtail's cell.
        return mark_safe(html.replace(theirs, ours, 1))  # noqa: S308

    return render_cell_html


# --- installing and checking the overrides -----------------------------------------------------


def _targets():
    return [
        (PageStatusSidePanel, "get_context_data", _status_context),
        (PageTitleColumn, "render_cell_html", _title_cell),
    ]


def install() -> None:
    """Install the two overrides and the listing filters (idempotent); called from
    ``AppConfig.ready()``."""
    for owner, name, make in _targets():
        wrap(owner, name, make)
    page_filters.install()


@functools.cache
def _template_source(name: str) -> str:
    return get_template(name).template.source


def problems() -> list[str]:
    """What no longer matches in Wagtail's code for the overrides and the listing filters;
    empty when all match (system check ``wagtail_member_access.W030``)."""
    found = []
    for owner, name, _make in _targets():
        if not getattr(owner.__dict__.get(name), OVERRIDE_MARK, False):
            found.append(f"{owner.__name__}.{name} is not the package's override")
    if "get_status_templates" not in code_names(PageStatusSidePanel.get_context_data):
        found.append("the status side panel no longer lists its templates")
    cell = _template_source("wagtailadmin/pages/listing/_page_title_explore.html")
    if WAGTAIL_PADLOCK_TEMPLATE not in cell:
        found.append("the explorer's title cell no longer includes the privacy padlock")
    return found + page_filters.problems()
