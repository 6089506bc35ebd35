"""What the page and the collection "Member access" views share: the form's initial values
and the POST handling (validate, then protect or unprotect through the API, and come back to
the view, or show the errors changing nothing).

Each view says what protecting and unprotecting means for its object and what the success
messages say; the flow is written once here (docs/architecture.md).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from wagtail.admin import messages

from ..access import Rule

__all__ = ["NONE", "AccessFormPostMixin", "initial_values"]

#: The form's choice for "no restriction of its own" (Wagtail's privacy form says "none" too).
NONE = "none"


def initial_values(rule: Rule | None) -> dict:
    """The form's initial values for an object whose own rule is ``rule`` (None: it has no
    rule of its own)."""
    if rule is None:
        return {"mode": NONE}
    return {
        "mode": rule.mode,
        "access_lists": sorted(rule.named_list_ids),
        "groups": sorted(rule.group_ids),
    }


class AccessFormPostMixin:
    """POST for a view with ``get_form(data)``, ``render(form)`` and these hooks: ``success_url()``,
    ``form_changes(form)``, ``protect(form=form, **values)``, ``unprotect()`` (True if there was
    something to remove), ``protected_message(mode)`` and ``unprotected_message()``."""

    def form_changes(self, form) -> bool:
        """Would saving change anything? (Views that cannot tell cheaply say yes.)"""
        return True

    def post(self, request, *args, **kwargs):
        form = self.get_form(request.POST)
        if not form.is_valid():
            messages.error(request, _("Member access was not changed: correct the errors below."))
            return self.render(form)
        if not self.form_changes(form):
            messages.info(request, _("Nothing changed."))
            return HttpResponseRedirect(self.success_url())
        mode = form.cleaned_data["mode"]
        if mode == NONE:
            if self.unprotect():
                messages.success(request, self.unprotected_message())
            return HttpResponseRedirect(self.success_url())
        try:
            self.protect(
                form=form,
                mode=mode,
                access_lists=form.cleaned_data["access_lists"],
                groups=form.cleaned_data["groups"],
                user=request.user,
            )
        except ValidationError as error:
            # The form checks what the API checks; this is for a list moved to another site
            # between the two.
            for message in error.messages:
                form.add_error(None, message)
            return self.render(form)
        messages.success(request, self.protected_message(mode))
        return HttpResponseRedirect(self.success_url())
