"""Adding, editing, revoking and deleting one grant: the views save, revoke and delete
through :mod:`wagtail_member_access.grants` (the one grant path)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin import messages
from wagtail.admin.ui.side_panels import StatusSidePanel
from wagtail.admin.views.generic import CreateView, DeleteView, EditView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.widgets import Button

from ... import grants, moments
from ...models import AccessList, Grant
from ..filters import STATUS_CHOICES, status_of
from .common import ExpiryColumn, grant_permission_policy, grants_url

__all__ = ["GrantCreateView", "GrantDeleteView", "GrantEditView", "GrantRevokeView"]

_STATUS_LABELS = dict(STATUS_CHOICES)


def revoke_url(grant: Grant) -> str:
    return reverse("wagtail_member_access_grants:revoke", args=(grant.pk,))


class GrantStatusSidePanel(StatusSidePanel):
    """Wagtail's status panel, saying the grant's status (Active, Revoked, …) and when its
    access ends where Wagtail says "Live", which a revoked grant is not."""

    def get_status_templates(self, context):
        templates = super().get_status_templates(context)
        return ["wagtail_member_access/admin/grant_status.html", *templates[1:]]

    def get_context_data(self, parent_context):
        context = super().get_context_data(parent_context)
        context["grant_status"] = _STATUS_LABELS[status_of(self.object)]
        context["grant_ends"] = ExpiryColumn("expires_at", empty=_("Unlimited")).get_value(
            self.object
        )
        return context


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
            elif error.code == "seats_taken":
                form.add_error(
                    "seats",
                    _(
                        "%(taken)s seats are taken: free seats before lowering the number "
                        "to %(seats)s."
                    )
                    % error.params,
                )
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

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.object.revoked_at:
            context["revoked_at"] = moments.moment(self.object.revoked_at)
        return context

    def get_side_panels(self):
        panels = super().get_side_panels()
        for panel in panels:
            if type(panel) is StatusSidePanel:
                panel.__class__ = GrantStatusSidePanel  # the same panel, our status line
        return panels

    @cached_property
    def header_more_buttons(self):
        buttons = super().header_more_buttons
        if self.object.revoked_at is None and self.user_has_permission("change"):
            buttons.append(
                Button(_("Revoke"), url=revoke_url(self.object), icon_name="cross", priority=15)
            )
        return buttons

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


class GrantRevokeView(PermissionCheckedMixin, WagtailAdminTemplateMixin, TemplateView):
    """Revoke one grant (the listing row's and the edit page's "Revoke"): a confirmation
    page, then :func:`grants.revoke_many` as the bulk action "Revoke" does (audit log,
    ``access_revoked``). Needs the "change grant" permission."""

    permission_policy = grant_permission_policy
    permission_required = "change"
    template_name = "wagtail_member_access/admin/grant_revoke.html"
    header_icon = "group"
    page_title = _("Revoke access")

    def dispatch(self, request, *args, **kwargs):
        self.object = get_object_or_404(
            Grant.objects.select_related("access_list"), pk=kwargs["pk"]
        )
        return super().dispatch(request, *args, **kwargs)

    def get_page_subtitle(self):
        return self.object.email

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(grant=self.object, cancel_url=grants_url(self.object.access_list))
        return context

    def post(self, request, *args, **kwargs):
        grant = self.object
        values = {"email": grant.email, "list": grant.access_list.name}
        if grants.revoke_many(Grant.objects.filter(pk=grant.pk), by=request.user):
            messages.success(request, _("Access of %(email)s on “%(list)s” revoked.") % values)
        else:
            messages.warning(
                request, _("The grant of %(email)s on “%(list)s” was already revoked.") % values
            )
        return redirect(grants_url(grant.access_list))
