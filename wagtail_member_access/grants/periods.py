"""What the grant path's arguments mean when they are left out, and the list's default access
period: shared by :func:`grant` and the import writer, and by the callers that compute a
period themselves (``api.grant_access``, the webhook)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from ..models import AccessList

__all__ = ["UNSET", "Unset", "default_expiry", "expires_before"]


class Unset:
    """The type of :data:`UNSET`."""

    def __repr__(self):
        return "UNSET"


#: "Not given", for an argument (or an import cell) that may also be ``None``: an existing
#: grant keeps its value, a new grant gets the default (no start; for the expiry,
#: :func:`default_expiry`). ``None`` always means "none": no start, unlimited.
UNSET = Unset()


def default_expiry(
    access_list: AccessList, starts_at: datetime | None | Unset = None, *, now=None
) -> datetime | None:
    """The end of ``access_list``'s default access period (``default_days``) for access that
    starts at ``starts_at`` (a datetime), or at ``now`` (default: the current time) when it
    has none; ``None`` (unlimited) when the list has no default period."""
    days = access_list.default_days
    if not days:
        return None
    start = starts_at if isinstance(starts_at, datetime) else (now or timezone.now())
    return start + timedelta(days=days)


def expires_before() -> ValidationError:
    """The refusal of a period that would end before it starts (nothing is changed then)."""
    return ValidationError("The access must expire after it starts.", code="expires_before")
