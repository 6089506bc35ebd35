"""Bulk actions on a selection of grants, in Wagtail's bulk-action framework (the one the
users and images listings use; the same in Wagtail 7.4 and 8): extend, set unlimited,
revoke, restore, and resend the "your access is ready" email. Each calls one function of
:mod:`wagtail_member_access.grants` (or ``tasks.enqueue_access_ready``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from wagtail.admin.views.bulk_action import BulkAction
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin

from .. import grants, tasks
from ..models import Grant
from .forms import ExtendForm
from .views import grant_permission_policy, listing_queryset

__all__ = [
    "ACTIONS",
    "ExtendAction",
    "GrantBulkAction",
    "ResendAction",
    "RestoreAction",
    "RevokeAction",
    "SetUnlimitedAction",
]


class GrantBulkAction(PermissionCheckedMixin, BulkAction):
    """Needs the "change grant" permission. "Select all in listing" acts on every grant the
    listing's filters and search select, not only the page shown."""

    models = [Grant]
    # Explicit: Wagtail 7.4's PermissionCheckedMixin checks nothing without one.
    permission_policy = grant_permission_policy
    permission_required = "change"
    template_name = "wagtail_member_access/admin/bulk_action.html"
    confirm_text = ""
    button_text = _("Yes, continue")

    @classmethod
    def get_queryset(cls, model, object_ids):
        return list(Grant.objects.filter(pk__in=list(object_ids)).select_related("access_list"))

    def get_all_objects_in_listing_query(self, parent_id):
        return listing_queryset(self.request.GET, self.request).values_list("pk", flat=True)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            action=self,
            shown_items=context["items"][:100],
            more=max(0, len(context["items"]) - 100),
        )
        return context

    def get_execution_context(self):
        return {"user": self.request.user}

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except ValidationError as error:
            form.add_error(None, error.messages[0] % (error.params or {}))
            return self.form_invalid(form)

    @classmethod
    def execute_action(cls, objects, user=None, **kwargs):
        selected = Grant.objects.filter(pk__in=[obj.pk for obj in objects])
        changed = cls.change(selected, user=user, **kwargs)
        return changed, len(objects) - changed

    #: The function of :mod:`~wagtail_member_access.grants` that changes the selected grants:
    #: called with them, ``by=`` the user and the form's arguments; returns how many changed.
    grants_change = None

    @classmethod
    def change(cls, grants_qs, *, user, **kwargs) -> int:
        return cls.grants_change(grants_qs, by=user, **kwargs)

    def get_success_message(self, num_parent_objects, num_child_objects):
        selected = num_parent_objects + num_child_objects
        # ngettext_lazy(..., "selected"): the plural follows the "selected" value.
        return self.success_message % {
            "changed": num_parent_objects,
            "selected": selected,
        }


class ExtendAction(GrantBulkAction):
    display_name = _("Extend")
    action_type = "extend"
    aria_label = _("Extend the access of the selected grants")
    action_priority = 10
    form_class = ExtendForm
    confirm_text = _(
        "Extend the access of these grants. Unlimited grants stay unlimited; revoked grants "
        "get the new date but stay revoked."
    )
    button_text = _("Extend access")

    def get_execution_context(self):
        return {**super().get_execution_context(), **self.cleaned_form.extend_arguments()}

    grants_change = staticmethod(grants.extend)

    success_message = ngettext_lazy(
        "Access extended for %(changed)s of %(selected)s selected grant.",
        "Access extended for %(changed)s of %(selected)s selected grants.",
        "selected",
    )


class SetUnlimitedAction(GrantBulkAction):
    display_name = _("Set unlimited")
    action_type = "set_unlimited"
    aria_label = _("Remove the end of the access of the selected grants")
    action_priority = 20
    confirm_text = _("Give these grants access without an end?")
    button_text = _("Set unlimited")

    grants_change = staticmethod(grants.set_unlimited)

    success_message = ngettext_lazy(
        "Access made unlimited for %(changed)s of %(selected)s selected grant.",
        "Access made unlimited for %(changed)s of %(selected)s selected grants.",
        "selected",
    )


class RevokeAction(GrantBulkAction):
    display_name = _("Revoke")
    action_type = "revoke"
    aria_label = _("Revoke the selected grants")
    action_priority = 30
    classes = {"serious"}
    confirm_text = _(
        "Revoke these grants? Their access ends with the next page they open. The grants are "
        "kept and can be restored."
    )
    button_text = _("Revoke access")

    grants_change = staticmethod(grants.revoke_many)

    success_message = ngettext_lazy(
        "Access revoked for %(changed)s of %(selected)s selected grant.",
        "Access revoked for %(changed)s of %(selected)s selected grants.",
        "selected",
    )


class RestoreAction(GrantBulkAction):
    display_name = _("Restore")
    action_type = "restore"
    aria_label = _("Restore the selected revoked grants")
    action_priority = 40
    confirm_text = _(
        "Restore these grants? Revoked ones get their access back until their expiry date."
    )
    button_text = _("Restore access")

    grants_change = staticmethod(grants.restore)

    success_message = ngettext_lazy(
        "Access restored for %(changed)s of %(selected)s selected grant.",
        "Access restored for %(changed)s of %(selected)s selected grants.",
        "selected",
    )


class ResendAction(GrantBulkAction):
    display_name = _("Resend access email")
    action_type = "resend"
    aria_label = _("Send the selected members the “your access is ready” email again")
    action_priority = 50
    confirm_text = _(
        "Send the “your access is ready” email with fresh sign-in links again? Only grants "
        "that are active now get it."
    )
    button_text = _("Send emails")

    @classmethod
    def change(cls, grants_qs, *, user, **kwargs):
        active = list(grants_qs.active())
        for grant in active:
            # Enqueued after the commit, as every email of ours (grants.grant(notify=True)).
            transaction.on_commit(lambda grant=grant: tasks.enqueue_access_ready(grant.pk))
        return len(active)

    success_message = ngettext_lazy(
        "Access email queued for %(changed)s of %(selected)s selected grant.",
        "Access email queued for %(changed)s of %(selected)s selected grants.",
        "selected",
    )


ACTIONS = [ExtendAction, SetUnlimitedAction, RevokeAction, RestoreAction, ResendAction]
