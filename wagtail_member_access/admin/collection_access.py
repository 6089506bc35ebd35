"""The collection-level "Member access" view: protect the documents of a collection.

Reached from the "⋯" menu of the collection's edit view, next to Wagtail's own "Privacy"
switch (docs/editor-guide.md#documents), and from a page's Member access view when the page
links to documents anyone can download. Saving goes through
:func:`wagtail_member_access.api.protect_collection` /
:func:`~wagtail_member_access.api.unprotect_collection`, which validate, keep Wagtail's
mirror rows in step and write the collection's history.

Who may use it: whoever Wagtail lets change the collection's privacy (the "change"
permission on the collection, as ``collection_privacy.set_privacy`` asks).
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import View
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.viewsets.base import ViewSet
from wagtail.admin.widgets import Button
from wagtail.documents import get_document_model
from wagtail.models import Collection

from .. import access, api
from ..models import AccessList, CollectionAccessRestriction
from ..permission_policies import collection_policy
from .access_form import NONE, AccessFormPostMixin, initial_values
from .page_access import MODE_HELP, PageAccessForm

__all__ = [
    "CollectionAccessForm",
    "CollectionAccessView",
    "CollectionAccessViewSet",
    "collection_access_url",
    "header_buttons",
    "may_set_collection_access",
]

Mode = CollectionAccessRestriction.Mode


def may_set_collection_access(user, collection) -> bool:
    """Wagtail's rule for changing a collection's privacy ("change" permission on it); never
    on the root collection."""
    if collection.is_root():
        return False
    policy = collection_policy()
    return policy.user_has_permission_for_instance(user, "change", collection)


def collection_access_url(collection) -> str:
    return reverse("wagtail_member_access_collections:edit", args=[collection.pk])


class CollectionAccessForm(PageAccessForm):
    """Mode, access lists and groups of one collection; every list is offered (collections
    belong to no site)."""

    def __init__(self, *args, collection, inherited: bool, **kwargs):
        super().__init__(*args, page=collection, inherited=inherited, **kwargs)
        del self.fields["opens_after"]  # documents do not drip (docs/courses-and-teams.md#drip)
        self.fields["mode"].label = _("Who may open the documents")
        self.fields["access_lists"].help_text = _(
            "Addresses with an active grant on any of these lists may open the documents."
        )
        self.fields["groups"].help_text = _(
            "Members-only documents: signed-in members of these groups may open them."
        )

    def offered_lists(self):
        return AccessList.objects.order_by("name")


def _describe(rule: access.Rule, lists, groups) -> dict:
    return {
        "mode": Mode(rule.mode).label,
        "members": rule.mode == Mode.MEMBERS,
        "lists": [{"name": al.name, "url": ""} for al in lists if al.pk in rule.named_list_ids],
        "groups": [group.name for group in groups if group.pk in rule.group_ids],
    }


class CollectionAccessView(AccessFormPostMixin, WagtailAdminTemplateMixin, View):
    """GET: the collection's member access and the form. POST: validate, then protect or
    unprotect through the API and come back here (or show the errors, changing nothing)."""

    template_name = "wagtail_member_access/admin/collection_access.html"
    header_icon = "lock"
    page_title = _("Member access")

    def dispatch(self, request, collection_id):
        self.collection = get_object_or_404(Collection, pk=collection_id)
        if not may_set_collection_access(request.user, self.collection):
            raise PermissionDenied
        self.rules = access.rules_for_collection(self.collection)
        self.own = next((r for r in self.rules if r.collection_id == self.collection.pk), None)
        return super().dispatch(request, collection_id)

    def get_page_subtitle(self):
        return self.collection.name

    def get_breadcrumbs_items(self):
        return [
            {"url": reverse("wagtailadmin_collections:index"), "label": _("Collections")},
            {
                "url": reverse("wagtailadmin_collections:edit", args=[self.collection.pk]),
                "label": self.collection.name,
            },
            {"url": "", "label": self.page_title, "sublabel": self.get_page_subtitle()},
        ]

    def get_form(self, data=None):
        initial = initial_values(self.own)
        inherited = any(rule is not self.own for rule in self.rules)
        return CollectionAccessForm(
            data, collection=self.collection, inherited=inherited, initial=initial
        )

    def render(self, form):
        list_ids = set().union(*(rule.named_list_ids for rule in self.rules))
        group_ids = set().union(*(rule.group_ids for rule in self.rules))
        lists = list(AccessList.objects.filter(pk__in=list_ids).order_by("name"))
        groups = list(Group.objects.filter(pk__in=group_ids).order_by("name"))
        names = dict(
            Collection.objects.filter(pk__in={r.collection_id for r in self.rules}).values_list(
                "pk", "name"
            )
        )
        inherited = [
            {
                **_describe(rule, lists, groups),
                "collection": names.get(rule.collection_id, ""),
                "url": reverse("wagtail_member_access_collections:edit", args=[rule.collection_id]),
            }
            for rule in self.rules
            if rule is not self.own
        ]
        context = self.get_context_data(
            collection=self.collection,
            form=form,
            own=_describe(self.own, lists, groups) if self.own else None,
            inherited=inherited,
            mode_options=[
                (radio, MODE_HELP_DOCUMENTS[radio.data["value"]]) for radio in form["mode"]
            ],
            documents=get_document_model().objects.filter(collection=self.collection).count(),
            edit_collection_url=reverse("wagtailadmin_collections:edit", args=[self.collection.pk]),
        )
        return TemplateResponse(self.request, self.template_name, context)

    def get(self, request, collection_id):
        return self.render(self.get_form())

    def success_url(self):
        return collection_access_url(self.collection)

    def protect(self, *, form, **values):
        api.protect_collection(self.collection, **values)

    def unprotect(self):
        return api.unprotect_collection(self.collection, user=self.request.user)

    def protected_message(self, mode):
        return _("Member access of the documents in “%(name)s” set to: %(mode)s.") % {
            "name": self.collection.name,
            "mode": Mode(mode).label,
        }

    def unprotected_message(self):
        return _("“%(name)s” has no member access of its own any more.") % {
            "name": self.collection.name
        }


#: What each mode means for someone opening a document.
MODE_HELP_DOCUMENTS = {
    NONE: _(
        "No member access: anyone with the address can download the documents (unless "
        "Wagtail's privacy says no)."
    ),
    **{mode: text for mode, text in MODE_HELP.items() if mode != NONE},
}


class CollectionAccessViewSet(ViewSet):
    """URLs only (no menu item): the view is reached from the collection's edit view."""

    name = "wagtail_member_access_collections"
    url_prefix = "member-access/collections"
    icon = "lock"

    def get_urlpatterns(self):
        return [path("<int:collection_id>/", CollectionAccessView.as_view(), name="edit")]


def header_buttons(collection, user) -> list[Button]:
    """The collection edit view's "⋯" menu item, saying whether the collection is protected
    (one query)."""
    if not may_set_collection_access(user, collection):
        return []
    rules = access.rules_for_collection(collection)
    own = next((rule.mode for rule in rules if rule.collection_id == collection.pk), None)
    if own:
        label = _("Member access: %(mode)s") % {"mode": Mode(own).label}
    elif rules:
        label = _("Member access: inherited")
    else:
        label = _("Member access")
    url = collection_access_url(collection)
    return [Button(label, url, icon_name="lock" if rules else "lock-open", priority=30)]
