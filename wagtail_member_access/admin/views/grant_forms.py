"""Adding, editing and deleting one grant: the forms' views save and delete through
:mod:`wagtail_member_access.grants` (the one grant path)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail.admin.views.generic import CreateView, DeleteView, EditView

from ... import grants, moments
from ...models import AccessList, Grant
from .common import grants_url

__all__ = ["GrantCreateView", "GrantDeleteView", "GrantEditView"]


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
