"""A domain grant's seats: "12 of 30 seats used", who holds them since when, and "Free
seat" (docs/courses-and-teams.md#domain-grants-and-seats). Freeing goes through
:func:`wagtail_member_access.grants.free_seat`."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import View
from wagtail.admin import messages
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from ... import grants
from ...models import Grant, Seat
from .common import grant_permission_policy, grants_url

__all__ = ["SeatsView", "seats_label"]


def seats_label(grant: Grant, used: int) -> str:
    """ "12 of 30 seats used", or "12 seats used (no limit)"."""
    if grant.seats is None:
        return _("%(used)s seats used (no limit)") % {"used": used}
    return _("%(used)s of %(seats)s seats used") % {"used": used, "seats": grant.seats}


class SeatsView(WagtailAdminTemplateMixin, View):
    """The seats of one domain grant; a POST with ``seat`` frees that seat. Viewing needs
    the grant "view" permission, freeing "change"."""

    template_name = "wagtail_member_access/admin/seats.html"
    header_icon = "group"

    def dispatch(self, request, pk):
        if not grant_permission_policy.user_has_any_permission(request.user, ["view", "change"]):
            raise PermissionDenied
        self.grant = get_object_or_404(Grant.objects.select_related("access_list"), pk=pk)
        if not self.grant.is_domain:
            raise Http404("Not a domain grant.")
        self.can_change = grant_permission_policy.user_has_permission(request.user, "change")
        return super().dispatch(request, pk)

    def get_page_title(self):
        return _("Seats")

    def get_page_subtitle(self):
        return f"{self.grant.email} · {self.grant.access_list.name}"

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": grants_url(self.grant.access_list), "label": self.grant.access_list.name},
            {"url": "", "label": _("Seats of %(domain)s") % {"domain": self.grant.email}},
        ]

    def get(self, request, pk):
        seats = list(Seat.objects.filter(grant=self.grant).order_by("taken_at", "pk"))
        context = self.get_context_data(
            grant=self.grant,
            seats=seats,
            label=seats_label(self.grant, len(seats)),
            full=self.grant.seats is not None and len(seats) >= self.grant.seats,
            can_change=self.can_change,
            grants_url=grants_url(self.grant.access_list),
        )
        return TemplateResponse(request, self.template_name, context)

    def post(self, request, pk):
        if not self.can_change:
            raise PermissionDenied
        seat_id = request.POST.get("seat", "")
        seat = (
            Seat.objects.filter(grant=self.grant, pk=seat_id).first() if seat_id.isdigit() else None
        )
        url = reverse("wagtail_member_access_grants:seats", args=(self.grant.pk,))
        if seat is None:
            messages.error(request, _("This seat is free already."))
            return HttpResponseRedirect(url)
        grants.free_seat(seat, by=request.user)
        messages.success(request, _("The seat of %(email)s is free again.") % {"email": seat.email})
        return HttpResponseRedirect(url)
