"""The page-level "Member access" view: see and set a page's restriction in the admin.

Reached from the page's header "⋯" menu (and the "⋯" menu of its row in the page explorer),
like Wagtail's own "Change privacy". It shows the restriction set on the page itself, the
restrictions it inherits from the pages above (each linking to that page's member-access
view), and a form to set, change or remove the page's own. Saving goes through
:func:`wagtail_member_access.api.protect` / :func:`~wagtail_member_access.api.unprotect`, the
one place that writes restrictions and logs them to the page's history.

Who may use it: whoever Wagtail lets change the page's privacy settings
(``page.permissions_for_user(user).can_set_view_restrictions()``: superusers, and users with
the "publish" permission on the page or one of its ancestors). Member access decides who can
view a live page, exactly as privacy does, so the same editors decide both.
"""

from __future__ import annotations

from datetime import timedelta

import swapper
from django import forms
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views.generic import View
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.pages.utils import get_breadcrumbs_items_for_page
from wagtail.admin.viewsets.base import ViewSet
from wagtail.admin.widgets import Button
from wagtail.permission_policies import ModelPermissionPolicy

from .. import access, api
from ..conf import app_settings
from ..models import MAX_OPENS_AFTER, AccessList, PageAccessRestriction, check_opens_after
from .access_form import NONE, AccessFormPostMixin, initial_values
from .linked_documents import unprotected_documents

__all__ = [
    "PageAccessForm",
    "PageAccessView",
    "PageAccessViewSet",
    "header_button",
    "listing_button",
    "may_change_member_access",
    "may_set_member_access",
    "page_access_url",
]

Mode = PageAccessRestriction.Mode


#: What each mode means for a visitor, shown beside the form.
MODE_HELP = {
    NONE: _("No member access: anyone can view the page (unless Wagtail's privacy says no)."),
    Mode.MEMBERS: _(
        "Visitors must sign in (password, emailed code or link). With no lists and no groups "
        "chosen, every signed-in member may view the page; otherwise only members with an "
        "active grant on a chosen list or in a chosen group."
    ),
    Mode.CODE: _(
        "Visitors enter their email address and type in a one-time code we email them. Only "
        "addresses with an active grant on a chosen list get a code."
    ),
    Mode.LINK: _(
        "Visitors enter their email address and open a single-use sign-in link we email "
        "them. Only addresses with an active grant on a chosen list get a link."
    ),
    Mode.CODE_OR_LINK: _(
        "One email carries both a code and a link; visitors use whichever suits them. Only "
        "addresses with an active grant on a chosen list get it."
    ),
}

list_permission_policy = ModelPermissionPolicy(AccessList)


def may_set_member_access(user, page) -> bool:
    """Wagtail's rule for changing a page's privacy ("publish" permission, or superuser; never
    on the root page)."""
    return page.permissions_for_user(user).can_set_view_restrictions()


#: The Django permission to change member access (``PageAccessRestriction.Meta.permissions``),
#: given to groups in Wagtail's group editor
#: (docs/editor-guide.md#who-may-change-member-access).
CHANGE_PERMISSION = "wagtail_member_access.change_member_access"


def may_change_member_access(user, page) -> bool:
    """May ``user`` set, change or remove the member access of ``page``? Wagtail's rule for the
    page's privacy and the permission :data:`CHANGE_PERMISSION` (superusers have every
    permission). Without it the dialog and the "Member access" view are read-only."""
    return may_set_member_access(user, page) and user.has_perm(CHANGE_PERMISSION)


def page_access_url(page) -> str:
    return reverse("wagtail_member_access_pages:edit", args=[page.pk])


def _page_model():
    return swapper.load_model("wagtailcore", "Page")


def _site_lists(page):
    """The access lists that may protect ``page``: lists for every site, and lists of the
    page's own site (api.protect refuses the others)."""
    site = page.get_site()
    condition = Q(site__isnull=True)
    if site is not None:
        condition |= Q(site=site)
    return AccessList.objects.filter(condition).order_by("name")


# --- the form ----------------------------------------------------------------------------------


class PageAccessForm(forms.Form):
    """Mode, access lists and groups of one page. Only validates: saving is the view's call
    of :func:`api.protect` / :func:`api.unprotect`."""

    mode = forms.ChoiceField(label=_("Who may view this page"), widget=forms.RadioSelect)
    access_lists = forms.ModelMultipleChoiceField(
        label=_("Access lists"),
        queryset=AccessList.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": _(
                "Access list %(value)s cannot protect this page: it belongs to another site "
                "or no longer exists."
            ),
        },
        help_text=_(
            "Addresses with an active grant on any of these lists may view the page. Only "
            "lists for this page's site or for all sites are offered."
        ),
    )
    groups = forms.ModelMultipleChoiceField(
        label=_("Groups"),
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Members-only pages: signed-in members of these groups may view the page."),
    )
    opens_after = forms.IntegerField(
        label=_("Opens after (days)"),
        required=False,
        min_value=1,
        max_value=MAX_OPENS_AFTER.days,
        help_text=_(
            "Drip: the page opens this many days after the member's access starts (their "
            "grant's start on a chosen list, or when it was added). Empty: at once."
        ),
    )

    def __init__(self, *args, page, inherited: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.page = page
        none_label = (
            _("No restriction of its own (the member access inherited from above still applies)")
            if inherited
            else _("None: public")
        )
        self.fields["mode"].choices = [(NONE, none_label), *Mode.choices]
        self.fields["access_lists"].queryset = self.offered_lists()

    def offered_lists(self):
        """The access lists the form offers (those of the page's site and of every site)."""
        return _site_lists(self.page)

    def names_lists(self, data) -> bool:
        """Does the form name at least one access list? (The privacy dialog's form may also
        name a list to create.)"""
        return bool(data["access_lists"])

    def clean(self):
        data = super().clean()
        mode = data.get("mode")
        if mode and mode not in (NONE, Mode.MEMBERS):
            if "access_lists" in data and not self.names_lists(data):
                self.add_error(
                    "access_lists",
                    _(
                        "Choose at least one access list: with an email code or link, only "
                        "addresses with a grant on a chosen list can unlock the page."
                    ),
                )
            if data.get("groups"):
                self.add_error(
                    "groups",
                    _(
                        "Groups only apply to members-only pages: untick them, or choose "
                        "“Signed-in members”."
                    ),
                )
        days = data.get("opens_after")
        if days is not None and mode and mode != NONE and "access_lists" in data:
            try:
                check_opens_after(timedelta(days=days), has_lists=self.names_lists(data))
            except forms.ValidationError as error:
                self.add_error("opens_after", error)
        return data

    def opens_after_value(self) -> timedelta | None:
        """The cleaned delay as the API takes it (None: no drip)."""
        days = self.cleaned_data.get("opens_after")
        return timedelta(days=days) if days else None

    def changes(self, own: access.PathRestriction | None) -> bool:
        """Would saving change the page's own restriction ``own`` (None: it has none)?"""
        mode = self.cleaned_data["mode"]
        if mode == NONE:
            return own is not None
        if own is None or own.mode != mode:
            return True
        lists = {al.pk for al in self.cleaned_data["access_lists"]}
        groups = {g.pk for g in self.cleaned_data["groups"]}
        return (
            lists != own.rule.named_list_ids
            or groups != own.rule.group_ids
            or self.opens_after_value() != own.rule.opens_after
        )


# --- the view ----------------------------------------------------------------------------------


class PageAccessView(AccessFormPostMixin, WagtailAdminTemplateMixin, View):
    """GET: the page's member access and the form. POST: validate, then protect or unprotect
    through the API and come back here (or show the errors, changing nothing)."""

    template_name = "wagtail_member_access/admin/page_access.html"
    header_icon = "lock"
    page_title = _("Member access")

    def dispatch(self, request, page_id):
        self.page = get_object_or_404(_page_model(), id=page_id).specific_deferred
        if not may_set_member_access(request.user, self.page):
            raise PermissionDenied
        self.state = access.path_restrictions(self.page)
        return super().dispatch(request, page_id)

    def get_page_subtitle(self):
        return self.page.get_admin_display_title()

    def get_breadcrumbs_items(self):
        return [
            *get_breadcrumbs_items_for_page(self.page, self.request.user),
            # The sublabel puts the page's title beside "Member access" in the header.
            {"url": "", "label": self.page_title, "sublabel": self.get_page_subtitle()},
        ]

    @cached_property
    def may_change_lists(self) -> bool:
        return list_permission_policy.user_has_permission(self.request.user, "change")

    def _list_entries(self, restriction: access.PathRestriction):
        site = self.page.get_site()
        entries = []
        for access_list in restriction.access_lists:
            entries.append(
                {
                    "name": access_list.name,
                    "url": reverse("wagtail_member_access_lists:edit", args=[access_list.pk])
                    if self.may_change_lists
                    else "",
                    "other_site": access_list.site_id is not None
                    and (site is None or access_list.site_id != site.pk),
                }
            )
        return entries

    def _describe(self, restriction: access.PathRestriction):
        return {
            "restriction": restriction,
            "page": restriction.page,
            "page_url": page_access_url(restriction.page),
            "mode": restriction.get_mode_display(),
            "lists": self._list_entries(restriction),
            "groups": [group.name for group in restriction.groups],
            "members": restriction.mode == Mode.MEMBERS,
            "opens_after_days": restriction.rule.opens_after.days
            if restriction.rule.opens_after
            else None,
        }

    def _mode_help(self, mode):
        if mode == NONE and self.state.inherited:
            return _("Only the member access set on the pages above applies.")
        return MODE_HELP[mode]

    @cached_property
    def read_only(self) -> bool:
        return not may_change_member_access(self.request.user, self.page)

    def get_form(self, data=None):
        own = self.state.own
        initial = initial_values(own.rule if own is not None else None)
        if own is not None and own.rule.opens_after:
            initial["opens_after"] = own.rule.opens_after.days
        form = PageAccessForm(
            data, page=self.page, inherited=bool(self.state.inherited), initial=initial
        )
        if self.read_only:
            for field in form.fields.values():
                field.disabled = True
        return form

    def render(self, form, status=200):
        context = self.get_context_data(
            page=self.page,
            form=form,
            own=self._describe(self.state.own) if self.state.own else None,
            inherited=[self._describe(r) for r in self.state.inherited],
            mode_options=[(radio, self._mode_help(radio.data["value"])) for radio in form["mode"]],
            no_lists=not form.fields["access_lists"].queryset.exists(),
            may_add_lists=list_permission_policy.user_has_permission(self.request.user, "add"),
            edit_page_url=reverse("wagtailadmin_pages:edit", args=[self.page.pk]),
            read_only=self.read_only,
            # Only worth saying when the page is protected (docs/editor-guide.md#documents).
            open_documents=unprotected_documents(self.page)
            if self.state.own or self.state.inherited
            else [],
            # docs/protected-channels.md#translations: say that translations follow.
            translations_follow=app_settings.PROTECT_TRANSLATIONS
            and app_settings.WAGTAIL_I18N_ENABLED,
        )
        return TemplateResponse(self.request, self.template_name, context, status=status)

    def get(self, request, page_id):
        return self.render(self.get_form())

    def post(self, request, *args, **kwargs):
        if self.read_only:
            raise PermissionDenied
        return super().post(request, *args, **kwargs)

    def success_url(self):
        return page_access_url(self.page)

    def form_changes(self, form):
        return form.changes(self.state.own)

    def protect(self, *, form, **values):
        api.protect(self.page, opens_after=form.opens_after_value(), **values)

    def unprotect(self):
        # form_changes() has made sure the page has a restriction of its own to remove.
        api.unprotect(self.page, user=self.request.user)
        return True

    def protected_message(self, mode):
        return _("Member access of “%(title)s” set to: %(mode)s.") % {
            "title": self.page.get_admin_display_title(),
            "mode": Mode(mode).label,
        }

    def unprotected_message(self):
        return _("“%(title)s” has no member access of its own any more.") % {
            "title": self.page.get_admin_display_title()
        }


class PageAccessViewSet(ViewSet):
    """URLs only (no menu item): the view is reached from each page's menus."""

    name = "wagtail_member_access_pages"
    url_prefix = "member-access/pages"
    icon = "lock"

    def get_urlpatterns(self):
        return [path("<int:page_id>/", PageAccessView.as_view(), name="edit")]


# --- buttons -----------------------------------------------------------------------------------


def _header_label(page) -> tuple[str, str]:
    """The header button's label and icon: the page's own mode, "inherited", or plain. One
    query (:func:`access.rules_for_page`)."""
    rules = access.rules_for_page(page)
    own = next((rule.mode for rule in rules if rule.page_id == page.pk), None)
    if own:
        return _("Member access: %(mode)s") % {"mode": Mode(own).label}, "lock"
    if rules:
        return _("Member access: inherited"), "lock"
    return _("Member access"), "lock-open"


def header_button(page, user, view_name=None, next_url=None):
    """For ``register_page_header_buttons``: "Member access" in the page's header "⋯" menu,
    saying whether the page is protected."""
    if not may_set_member_access(user, page):
        return []
    label, icon = _header_label(page)
    return [Button(label, page_access_url(page), icon_name=icon, priority=62)]


def listing_button(page, user, next_url=None):
    """For ``register_page_listing_more_buttons``: "Member access" in a page row's "⋯" menu.
    No state in the label here: that would cost a query per row."""
    if not may_set_member_access(user, page):
        return []
    return [Button(_("Member access"), page_access_url(page), icon_name="lock", priority=45)]
