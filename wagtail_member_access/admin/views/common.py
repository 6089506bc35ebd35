"""What the access-list admin's screens share: the grant permissions, the grants listing's
URL and how a moment is shown."""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from wagtail.admin.ui.tables import Column
from wagtail.permission_policies import ModelPermissionPolicy

from ... import moments
from ...models import AccessList, Grant

__all__ = ["ExpiryColumn", "MomentColumn", "can_import", "grant_permission_policy", "grants_url"]

grant_permission_policy = ModelPermissionPolicy(Grant)


def can_import(user) -> bool:
    """May ``user`` import a CSV file (add and change grants)?"""
    return grant_permission_policy.user_has_permission(
        user, "add"
    ) and grant_permission_policy.user_has_permission(user, "change")


def grants_url(access_list: AccessList | None = None, **params) -> str:
    """The grants listing, filtered by ``access_list`` (and ``params``) if given."""
    if access_list is not None:
        params = {"access_list": access_list.pk, **params}
    url = reverse("wagtail_member_access_grants:index")
    return f"{url}?{urlencode(params)}" if params else url


class MomentColumn(Column):
    """A moment as the editor reads it (``moments.moment``): their time zone, named, in the
    same words as the expiry beside it; ``empty`` for none."""

    def __init__(self, name, *, empty="", **kwargs):
        super().__init__(name, **kwargs)
        self.empty = empty

    def get_value(self, instance):
        value = getattr(instance, self.accessor)
        return self.empty if value is None else moments.moment(value)


class ExpiryColumn(MomentColumn):
    """When access ends, as the emails say it (``moments.expiry``): an expiry at midnight is
    the end of the day before, with the time zone named (docs/expiry.md#shown). A revoked
    grant's access ended with the revocation: it shows when, and the end it had ("revoked
    on …; was until the end of 31 December 2026 (UTC)"), never only "Unlimited"."""

    def get_value(self, instance):
        value = getattr(instance, self.accessor)
        if getattr(instance, "revoked_at", None) is None:
            return moments.expiry(value, empty=self.empty)
        values = {"revoked": moments.revoked(instance.revoked_at), "until": moments.until(value)}
        if value is None:
            return _("%(revoked)s; was unlimited") % values
        return _("%(revoked)s; was %(until)s") % values
