"""The number of seats of a domain grant (docs/courses-and-teams.md#domain-grants-and-seats):
checked before :func:`~wagtail_member_access.grants.grant` writes, set under the grant's
row lock."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from ..domains import is_domain
from ..models import Grant
from .periods import UNSET

__all__ = ["check_seats", "set_seats"]


def check_seats(email: str, seats) -> None:
    """``seats`` is left out, None, or a whole number of at least 1 for a domain grant."""
    if seats is UNSET or seats is None:
        return
    if not is_domain(email):
        raise ValidationError(
            "Seats are for a domain (@school.example), not for one address.", code="seats"
        )
    if not isinstance(seats, int) or isinstance(seats, bool) or seats < 1:
        raise ValidationError(
            "The number of seats is a whole number, 1 or more (or empty for no limit).",
            code="seats",
        )


def set_seats(obj: Grant, created: bool, seats: int | None) -> None:
    """Give the locked grant ``obj`` its number of seats; a number below the seats already
    taken is refused (the editor frees seats first), rolling back the whole call."""
    taken = 0 if created else obj.seat_set.count()
    if seats is not None and seats < taken:
        raise ValidationError(
            "%(taken)s seats are taken: free seats before lowering the number to %(seats)s.",
            code="seats_taken",
            params={"taken": taken, "seats": seats},
        )
    obj.seats = seats
