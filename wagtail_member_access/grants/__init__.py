"""The one grant path: every way of giving or taking access (API, admin, import, webhook,
tests) goes through these functions, so validation, idempotency, the audit log and the
signals happen once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from wagtail.log_actions import log

from .. import log_actions, tasks
from ..domains import normalize_grantee
from ..members import mask_email
from ..models import AccessList, Grant, GrantReference
from ..seats import free as free_seat
from ..signals import access_granted, access_revoked
from .accounts import EMAIL_TAKEN, forget_email, forgotten_reference, move_email
from .bulk_import import IMPORT_FIELDS, import_grants
from .domains import check_seats, set_seats
from .periods import UNSET, Unset, default_expiry, expires_before

__all__ = [
    "EMAIL_TAKEN",
    "IMPORT_FIELDS",
    "UNSET",
    "Unset",
    "by_reference",
    "default_expiry",
    "delete",
    "extend",
    "forget_email",
    "forgotten_reference",
    "free_seat",
    "grant",
    "import_grants",
    "move_email",
    "refund",
    "restore",
    "revoke",
    "revoke_many",
    "revoke_reference",
    "set_unlimited",
]

logger = logging.getLogger("wagtail_member_access")


def _log_data(grant: Grant) -> dict:
    data = {
        "email": grant.email,
        "list": grant.access_list.name,
        "list_id": grant.access_list_id,
        "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
        "source": grant.source,
        "reference": grant.reference,
    }
    if grant.is_domain:
        data["seats"] = grant.seats
    return data


def grant(
    email: str,
    access_list: AccessList,
    *,
    name: str | None = None,
    starts_at: datetime | None | Unset = UNSET,
    expires_at: datetime | None | Unset = UNSET,
    duration: timedelta | None = None,
    source: str = Grant.Source.API,
    reference: str | None = None,
    note: str | None = None,
    added_by=None,
    notify: bool = False,
    extend_only: bool = False,
    seats: int | None | Unset = UNSET,
    restore: bool = True,
) -> tuple[Grant, bool]:
    """Give ``email`` access to ``access_list``; return ``(grant, created)``.

    ``email`` may be a domain (``"@school.example"``, stored as ``domains.normalize_domain``
    gives it): every member who proves an address at exactly that domain gets access, each
    taking one of its ``seats`` (None: no limit). ``notify`` (email the member that their
    access is ready) does nothing for a domain grant.

    One grant per (email, list): granting again updates it and restores it if it was revoked
    (``restore=False``, the admin's edit form without "Restore access": it is changed but
    stays revoked, logged as an edit without ``access_granted``). A non-empty ``reference``
    (an order id) is an idempotency key: if it already granted access on the list, even if a
    later order updated the grant since, that grant is returned unchanged.

    Left out (:data:`UNSET`), ``name``, ``note`` (also when ``None``), ``starts_at``,
    ``expires_at`` and ``seats`` keep an existing grant's values; a *new* grant then has no
    start, the list's default period (:func:`default_expiry`) and no seat limit.
    ``starts_at=None``: no start; ``expires_at=None``: unlimited; ``duration``: the start (or
    now) + duration. A changed expiry clears ``reminder_sent_at`` and ``expiry_recorded_at``.

    ``extend_only`` (a purchase): a *running* grant keeps its expiry when the new one would
    end earlier, and stays unlimited (decided under the grant's row lock); an ended or
    revoked grant it restores starts again now, so pages that drip count from the purchase.
    With a ``reference``, the end asked for is recorded with it (:class:`GrantReference`) so
    that :func:`refund` takes back exactly that period.

    Raises ``ValidationError`` and changes nothing for a malformed email or domain, an expiry
    before the start (also the grant's existing start), both ``expires_at`` and
    ``duration``, an unknown ``source``, ``seats`` for an address, below 1 or below the seats
    already taken (code ``"seats_taken"``), and an order of a deleted account (``"forgotten"``).
    """
    email, expires_at = _checked(email, starts_at, expires_at, duration, source)
    check_seats(email, seats)
    if forgotten_reference(access_list, reference):
        raise ValidationError(
            "This order belonged to an account that was deleted: it grants nothing again.",
            code="forgotten",
        )
    with transaction.atomic():
        existing = by_reference(access_list, reference) if reference else None
        if existing is None:
            obj, created = _lock(email, access_list, source, added_by)
            # Again under the grant's row lock: a concurrent call with the same reference may
            # have committed while this one waited for the lock.
            existing = by_reference(access_list, reference) if reference and not created else None
        if existing is not None:
            return existing, False
        changes = {"name": name, "note": note, "starts_at": starts_at, "expires_at": expires_at}
        sold = _change(obj, access_list, created, extend_only=extend_only, **changes)
        if seats is not UNSET:
            set_seats(obj, created, seats)
        obj.reference = reference or obj.reference
        obj.source = source
        if not restore and obj.revoked_at is not None:
            obj.save()
            log(instance=obj, action="wagtail.edit", user=added_by, data=_log_data(obj))
            return obj, False
        obj.revoked_at = None
        obj.save()
        _record_grant(obj, access_list, created, reference, sold, added_by)
    logger.info("Access granted to %s on list %s.", mask_email(email), access_list.pk)
    if notify and not obj.is_domain:
        transaction.on_commit(lambda: tasks.enqueue_access_ready(obj.pk))
    return obj, created


def _checked(email: str, starts_at, expires_at, duration, source) -> tuple[str, object]:
    """:func:`grant`'s checks that need no database: the normalised email and the expiry
    (``duration`` turned into a date). Raises ``ValidationError`` as :func:`grant` says."""
    email = normalize_grantee(email)
    start = starts_at if isinstance(starts_at, datetime) else None
    if duration is not None:
        if isinstance(expires_at, datetime):
            raise ValidationError("Give either expires_at or duration, not both.", code="both")
        expires_at = (start or timezone.now()) + duration
    if isinstance(expires_at, datetime) and start and expires_at <= start:
        raise expires_before()
    if source not in Grant.Source.values:
        raise ValidationError(f"Unknown source {source!r}.", code="source")
    return email, expires_at


def _lock(email: str, access_list: AccessList, source: str, added_by) -> tuple[Grant, bool]:
    """The grant of ``email`` on ``access_list``, created if there is none, locked for the
    rest of the transaction; ``(grant, created)``."""
    try:
        with transaction.atomic():
            return Grant.objects.select_for_update().get_or_create(
                email=email,
                access_list=access_list,
                defaults={"source": source, "added_by": added_by},
            )
    except IntegrityError:  # a concurrent grant for the same email and list
        return Grant.objects.select_for_update().get(email=email, access_list=access_list), False


def _change(obj: Grant, access_list: AccessList, created: bool, **values):
    """Set :func:`grant`'s ``name``, ``note``, ``starts_at`` and ``expires_at`` on the locked
    grant ``obj`` (not saved) and return the end the call asked for (recorded with its
    reference). Raises ``ValidationError`` when the grant would end before it starts."""
    starts_at, expires_at = values["starts_at"], values["expires_at"]
    if created and expires_at is UNSET:
        # The list's default access period, shared by the admin, the API and the webhook.
        expires_at = default_expiry(access_list, starts_at)
    if values["name"] is not None:
        obj.name = values["name"]
    if values["note"] is not None:
        obj.note = values["note"]
    if starts_at is not UNSET:
        obj.starts_at = starts_at
    elif values["extend_only"] and not created and not _running(obj):
        # A purchase that restores an ended or revoked grant starts its access again now:
        # pages that drip count from the purchase (docs/courses-and-teams.md#drip).
        obj.starts_at = timezone.now()
    sold = expires_at if expires_at is not UNSET else obj.expires_at
    keeps_longer = obj.expires_at is None or (
        expires_at is not None and expires_at is not UNSET and expires_at <= obj.expires_at
    )
    if values["extend_only"] and not created and _running(obj) and keeps_longer:
        expires_at = UNSET  # a later, shorter order keeps the longer period
    if expires_at is not UNSET and expires_at != obj.expires_at:
        obj.expires_at = expires_at
        _new_period(obj)
    if obj.starts_at and obj.expires_at and obj.expires_at <= obj.starts_at:
        raise expires_before()  # rolls back a grant created by _lock(), too
    return sold


def _record_grant(
    obj: Grant, access_list: AccessList, created: bool, reference, sold, added_by
) -> None:
    """The order row of ``reference`` (for :func:`refund`), the audit-log entry, and
    ``access_granted`` after the commit."""
    if reference:
        GrantReference.objects.create(
            access_list=access_list, reference=reference, grant=obj, expires_at=sold
        )
    log(
        instance=obj,
        action=log_actions.GRANT,
        user=added_by,
        data=_log_data(obj) | {"created": created},
    )
    transaction.on_commit(lambda: access_granted.send(sender=Grant, grant=obj, created=created))


def _running(obj: Grant) -> bool:
    """Not revoked and not ended (started or not)."""
    return obj.revoked_at is None and (obj.expires_at is None or obj.expires_at > timezone.now())


def refund(access_list: AccessList, reference: str, *, by=None) -> tuple[str, Grant] | None:
    """Take back what the order ``reference`` sold on ``access_list`` (a refund or a
    cancellation); None when no order with this reference granted access on the list.

    Returns ``(status, grant)``. The grant runs on until the latest end among its orders
    that still count (an unlimited one keeps it unlimited): ``"shortened"`` when that is
    earlier than its expiry, ``"unchanged"`` when the other orders cover it. With no order
    left that counts, or only ended ones, the grant is revoked: ``"revoked"``. A second refund
    of the same order, or one of a grant revoked meanwhile, changes nothing:
    ``"already_revoked"``. Logged and signalled as :func:`revoke` and the admin's extend are.
    """
    if not reference:
        return None
    with transaction.atomic():
        order = (
            GrantReference.objects.select_for_update()
            .filter(access_list=access_list, reference=reference)
            .first()
        )
        if order is None:
            # A grant that carries the reference without its order row (written outside
            # grant(), e.g. by a data migration of your own): the order is the whole grant.
            obj = Grant.objects.filter(access_list=access_list, reference=reference).first()
            if obj is None:
                return None
            revoked = revoke_reference(access_list, reference, by=by)
            return ("revoked", revoked) if revoked else ("already_revoked", obj)
        obj = Grant.objects.select_for_update().select_related("access_list").get(pk=order.grant_id)
        if order.revoked_at is not None or obj.revoked_at is not None:
            return "already_revoked", obj
        now = timezone.now()
        order.revoked_at = now
        order.save(update_fields=["revoked_at"])
        ends = list(
            obj.references.filter(revoked_at__isnull=True).values_list("expires_at", flat=True)
        )
        end = None if None in ends else max(ends, default=now)
        if end is not None and end <= now:
            _end_access(obj, now, by)
            status = "revoked"
        elif end is not None and (obj.expires_at is None or end < obj.expires_at):
            _set_expiry([(obj, end)], by, log_data={"refund": reference})
            status = "shortened"
        else:
            status = "unchanged"
    logger.info(
        "Order refunded on list %s for %s: %s.", access_list.pk, mask_email(obj.email), status
    )
    return status, obj


def by_reference(access_list: AccessList, reference: str) -> Grant | None:
    """The grant on ``access_list`` that the order ``reference`` granted, also after a later
    order replaced the grant's own ``reference``; None for an unknown or empty reference."""
    if not reference:
        return None
    return (
        Grant.objects.filter(access_list=access_list)
        .filter(Q(reference=reference) | Q(references__reference=reference))
        .distinct()
        .first()
    )


def _new_period(obj: Grant) -> None:
    """A new expiry is a new period: its reminder and its expiry record are still to come."""
    obj.reminder_sent_at = None
    obj.expiry_recorded_at = None


def _end_access(obj: Grant, at: datetime, by) -> None:
    """Revoke the locked grant ``obj`` at ``at``: saved, logged (``REVOKE``), and
    ``access_revoked`` sent after the commit. Every way of revoking ends here."""
    obj.revoked_at = at
    obj.save(update_fields=["revoked_at", "updated_at"])
    log(instance=obj, action=log_actions.REVOKE, user=by, data=_log_data(obj))
    transaction.on_commit(lambda: access_revoked.send(sender=Grant, grant=obj))


def revoke(email: str, access_list: AccessList, *, by=None) -> bool:
    """End ``email``'s access to ``access_list`` from the next request on.

    Returns False (and changes nothing) when there is no active grant to revoke. ``email``
    may be a domain (``"@school.example"``): its grant is revoked, its seats stay taken
    (and count again if the grant is restored).
    """
    email = normalize_grantee(email)
    if _end_first(access_list, by, email=email) is None:
        return False
    logger.info("Access revoked for %s on list %s.", mask_email(email), access_list.pk)
    return True


def _end_first(access_list: AccessList, by, **lookup) -> Grant | None:
    """End the access of the running (not revoked) grant on ``access_list`` that ``lookup``
    finds, under its row lock; None (nothing changed) when there is none."""
    with transaction.atomic():
        obj = (
            Grant.objects.select_for_update()
            .filter(access_list=access_list, revoked_at__isnull=True, **lookup)
            .first()
        )
        if obj is None:
            return None
        obj.access_list = access_list  # the same row; spares a query for the log entry
        _end_access(obj, timezone.now(), by)
    return obj


def delete(obj: Grant, *, by=None) -> None:
    """Delete the grant ``obj`` (the admin's *Delete*): its access ends at once and the record
    goes, with a ``wagtail.delete`` audit-log entry (as Wagtail's own delete view writes) and,
    if it was active, ``access_revoked`` with ``deleted=True``. Prefer :func:`revoke`, which
    keeps the record."""
    with transaction.atomic():
        was_active = obj.is_active()
        log(instance=obj, action="wagtail.delete", user=by, deleted=True)
        pk = obj.pk
        obj.delete()
        obj.pk = pk  # for the signal's receivers, which get the grant as it was
        if was_active:
            transaction.on_commit(
                lambda: access_revoked.send(sender=Grant, grant=obj, deleted=True)
            )
    logger.info("Grant of %s on list %s deleted.", mask_email(obj.email), obj.access_list_id)


def revoke_reference(access_list: AccessList, reference: str, *, by=None) -> Grant | None:
    """End the access granted on ``access_list`` by the order ``reference`` (a refund or a
    cancellation), from the next request on, and return that grant.

    Returns None (and changes nothing) when no active grant on the list carries the reference:
    there is none, or it was revoked already, or a later purchase by the same email replaced
    its reference. An empty reference matches nothing.
    """
    if not reference:
        return None
    obj = _end_first(access_list, by, reference=reference)
    if obj is None:
        return None
    logger.info(
        "Access revoked for %s on list %s (reference).", mask_email(obj.email), access_list.pk
    )
    return obj


# --- changes to a selection of grants (the admin's bulk actions) --------------------------------


def _locked(grants_qs) -> list[Grant]:
    """The grants of ``grants_qs``, locked for the rest of the transaction, in a stable order
    (two bulk changes of overlapping selections never lock in opposite orders)."""
    return list(
        grants_qs.select_for_update(of=("self",)).select_related("access_list").order_by("pk")
    )


def _set_expiry(objs: list[tuple[Grant, datetime | None]], by, *, log_data=None) -> int:
    """Give each locked grant its new end: saved, logged (``EXTEND``, with ``log_data``
    added), and ``access_granted`` sent after the commit."""
    for obj, expires_at in objs:
        obj.expires_at = expires_at
        _new_period(obj)
        obj.save(
            update_fields=["expires_at", "reminder_sent_at", "expiry_recorded_at", "updated_at"]
        )
        log(
            instance=obj,
            action=log_actions.EXTEND,
            user=by,
            data=_log_data(obj) | (log_data or {}),
        )
        transaction.on_commit(
            lambda obj=obj: access_granted.send(sender=Grant, grant=obj, created=False)
        )
    return len(objs)


def extend(grants_qs, *, days: int | None = None, until: datetime | None = None, by=None) -> int:
    """Lengthen the access of the grants in ``grants_qs``; return how many changed.

    Give exactly one of ``days`` (added to each grant's end, or to now for a grant whose
    access already ended; unlimited grants stay unlimited) or ``until`` (the new end for
    every grant). Revoked grants get the new date but stay revoked (:func:`restore` restores
    them). Each change is written to the audit log (``EXTEND``), sends ``access_granted``
    (``created=False``) and clears the grant's reminder and expiry records. Raises
    ``ValidationError`` and changes nothing when ``days`` is not 1 or more, or when ``until``
    is not after the start of one of the grants (the message names them).
    """
    if (days is None) == (until is None):
        raise ValueError("Give either days or until.")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days < 1):
        raise ValidationError("Extend by a whole number of days, 1 or more.", code="days")
    now = timezone.now()
    with transaction.atomic():
        changes, too_early = [], []
        for obj in _locked(grants_qs):
            if days is not None:
                if obj.expires_at is None:
                    continue
                new = max(obj.expires_at, now) + timedelta(days=days)
            else:
                if obj.starts_at and until <= obj.starts_at:
                    too_early.append(obj.email)
                    continue
                if until == obj.expires_at:
                    continue
                new = until
            changes.append((obj, new))
        if too_early:
            raise ValidationError(
                "The new end is not after the start of the access of %(emails)s.",
                code="expires_before",
                params={"emails": ", ".join(too_early)},
            )
        changed = _set_expiry(changes, by)
    logger.info("Access period changed for %s grants.", changed)
    return changed


def set_unlimited(grants_qs, *, by=None) -> int:
    """Remove the end of the access of the grants in ``grants_qs``; return how many changed
    (unlimited grants are left as they are). Logged and signalled as :func:`extend` is."""
    with transaction.atomic():
        changed = _set_expiry(
            [(obj, None) for obj in _locked(grants_qs) if obj.expires_at is not None], by
        )
    logger.info("Access made unlimited for %s grants.", changed)
    return changed


def restore(grants_qs, *, by=None) -> int:
    """Undo the revocation of the revoked grants in ``grants_qs``; return how many were
    restored (grants that are not revoked are left as they are). Each restored grant is
    logged as a grant and sends ``access_granted`` (``created=False``); a grant whose period
    has ended meanwhile is restored but stays expired."""
    with transaction.atomic():
        objs = [obj for obj in _locked(grants_qs) if obj.revoked_at is not None]
        for obj in objs:
            obj.revoked_at = None
            obj.save(update_fields=["revoked_at", "updated_at"])
            log(
                instance=obj,
                action=log_actions.GRANT,
                user=by,
                data=_log_data(obj) | {"created": False, "restored": True},
            )
            transaction.on_commit(
                lambda obj=obj: access_granted.send(sender=Grant, grant=obj, created=False)
            )
    logger.info("Access restored for %s grants.", len(objs))
    return len(objs)


def revoke_many(grants_qs, *, by=None) -> int:
    """Revoke the grants in ``grants_qs`` that are not revoked yet, from the next request on;
    return how many. Each is logged (``REVOKE``) and sends ``access_revoked``, as
    :func:`revoke` does."""
    now = timezone.now()
    with transaction.atomic():
        objs = [obj for obj in _locked(grants_qs) if obj.revoked_at is None]
        for obj in objs:
            _end_access(obj, now, by)
    logger.info("Access revoked for %s grants.", len(objs))
    return len(objs)
