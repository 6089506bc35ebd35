"""Seats on domain grants: taken when a member first unlocks a page through a domain grant,
freed by an editor (docs/courses-and-teams.md#domain-grants-and-seats).

A seat is a row per (grant, member address). Taking one locks the grant's row
(``select_for_update``) and counts the seats under that lock, so parallel first unlocks
never take more seats than the grant has (on SQLite, whose writes are serialised, the second
writer waits or fails; it never overfills). The unlock journey takes seats
(:func:`claim`); the editors' "free seat" goes through ``grants.free_seat``, which is
:func:`free`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Count
from wagtail.log_actions import log

from . import log_actions
from .domains import address_domain, canonical_address
from .members import mask_email
from .models import Grant, Seat
from .signals import seat_freed, seat_taken

__all__ = ["claim", "free", "take", "used"]

logger = logging.getLogger("wagtail_member_access")


def _log_data(grant: Grant, email: str) -> dict:
    return {
        "email": email,
        "domain": grant.email,
        "list": grant.access_list.name,
        "list_id": grant.access_list_id,
        "seats": grant.seats,
    }


def used(grant_ids: Iterable[int]) -> dict[int, int]:
    """How many seats are taken on each of ``grant_ids`` (those with none are left out).
    One query."""
    ids = list(grant_ids)
    if not ids:
        return {}
    rows = Seat.objects.filter(grant_id__in=ids).values("grant_id").annotate(n=Count("id"))
    return {row["grant_id"]: row["n"] for row in rows.order_by()}


def take(grant_id: int, email: str) -> Seat | None:
    """The seat of ``email`` on the domain grant ``grant_id``, taken now if the member holds
    none; None (nothing changed) when the grant is not active, is not a grant of the
    address's domain, or has no free seat. Logged (``SEAT_TAKEN``) and ``seat_taken`` sent
    after the commit when a seat is taken."""
    address = canonical_address(email)
    if not address:
        return None
    with transaction.atomic():
        grant = (
            Grant.objects.select_for_update(of=("self",))
            .select_related("access_list")
            .filter(pk=grant_id)
            .first()
        )
        if grant is None or not grant.is_active() or grant.email != address_domain(address):
            return None
        existing = Seat.objects.filter(grant=grant, email=address).first()
        if existing is not None:
            return existing
        if grant.seats is not None and Seat.objects.filter(grant=grant).count() >= grant.seats:
            logger.info(
                "No free seat for %s on %s (list %s).",
                mask_email(address),
                grant.email,
                grant.access_list_id,
            )
            return None
        try:
            with transaction.atomic():
                seat = Seat.objects.create(grant=grant, email=address)
        except IntegrityError:  # the same member in another request, a moment earlier
            return Seat.objects.filter(grant=grant, email=address).first()
        log(instance=grant, action=log_actions.SEAT_TAKEN, data=_log_data(grant, address))
        transaction.on_commit(lambda: seat_taken.send(sender=Seat, seat=seat, grant=grant))
    logger.info("%s took a seat on %s (list %s).", mask_email(address), grant.email, grant.pk)
    return seat


def claim(email: str, list_ids: Iterable[int]) -> list[Seat]:
    """Take a seat for ``email`` on every active domain grant of its domain among the
    ``list_ids`` (the lists that open the page being unlocked), except on lists where the
    address has a grant of its own; return the seats it holds on them (taken now or
    before). Lists whose domain grant is full are skipped."""
    address = canonical_address(email)
    ids = set(list_ids)
    if not address or not ids:
        return []
    own_lists = Grant.objects.active().filter(email=address).values("access_list_id")
    candidates = (
        Grant.objects.active()
        .filter(email=address_domain(address), access_list_id__in=ids)
        .exclude(access_list_id__in=own_lists)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return [seat for seat in (take(pk, address) for pk in candidates) if seat is not None]


def free(seat: Seat, *, by=None) -> None:
    """Free ``seat`` (an editor's action): the member loses what the domain grant opened from
    their next request on, and the seat is free for someone else. Logged (``SEAT_FREED``)
    and ``seat_freed`` sent after the commit. The member takes a seat again by unlocking a
    page, if one is free then."""
    with transaction.atomic():
        grant = Grant.objects.select_for_update(of=("self",)).select_related("access_list")
        grant = grant.get(pk=seat.grant_id)
        Seat.objects.filter(pk=seat.pk).delete()
        log(
            instance=grant,
            action=log_actions.SEAT_FREED,
            user=by,
            data=_log_data(grant, seat.email),
        )
        transaction.on_commit(lambda: seat_freed.send(sender=Seat, seat=seat, grant=grant))
    logger.info("Seat of %s freed on %s (list %s).", mask_email(seat.email), grant.email, grant.pk)
