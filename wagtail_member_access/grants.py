"""The one grant path: every way of giving or taking access (API, admin, import, webhook,
tests) goes through these functions, so validation, idempotency, the audit log and the
signals happen once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from itertools import islice

from django.core.exceptions import ValidationError
from django.db import IntegrityError, router, transaction
from django.db.models import Q
from django.utils import timezone
from wagtail.log_actions import log

from . import log_actions, tasks
from .members import mask_email, normalize_email
from .models import AccessList, Grant, GrantReference
from .signals import access_granted, access_revoked

__all__ = [
    "DEFAULT",
    "KEEP",
    "UNSET",
    "by_reference",
    "delete",
    "extend",
    "grant",
    "refund",
    "import_grants",
    "restore",
    "revoke",
    "revoke_many",
    "revoke_reference",
    "set_unlimited",
]

logger = logging.getLogger("wagtail_member_access")


class _Unset:
    def __repr__(self):
        return "UNSET"


#: "Not given" for :func:`grant`'s ``starts_at`` and ``expires_at`` (``None`` means "none":
#: no start, unlimited).
UNSET = _Unset()


class _Default:
    def __repr__(self):
        return "DEFAULT"


#: ``expires_at=DEFAULT``: the list's default access period (``default_days`` from the start
#: or now), for a new and an existing grant alike; unlimited when the list has none. What
#: ``api.grant_access`` does when neither ``expires_at`` nor ``duration`` is given.
DEFAULT = _Default()


def _log_data(grant: Grant) -> dict:
    return {
        "email": grant.email,
        "list": grant.access_list.name,
        "list_id": grant.access_list_id,
        "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
        "source": grant.source,
        "reference": grant.reference,
    }


def grant(
    email: str,
    access_list: AccessList,
    *,
    name: str | None = None,
    starts_at: datetime | None | _Unset = UNSET,
    expires_at: datetime | None | _Unset | _Default = UNSET,
    duration: timedelta | None = None,
    source: str = Grant.Source.API,
    reference: str | None = None,
    note: str | None = None,
    added_by=None,
    notify: bool = False,
    extend_only: bool = False,
) -> tuple[Grant, bool]:
    """Give ``email`` access to ``access_list``; return ``(grant, created)``.

    One grant per (email, list): granting again updates the grant and restores it if it was
    revoked. A non-empty ``reference`` (an order id) is an idempotency key: if it already
    granted access on the list (also if a later order has updated the grant since), that
    grant is returned unchanged.

    ``starts_at``: a datetime, ``None`` (no start: from now on), or :data:`UNSET` (the default:
    an existing grant keeps its start). ``expires_at``: a datetime, ``None`` (unlimited), or
    :data:`UNSET` (the default: an existing grant keeps its expiry; a *new* grant gets the
    list's ``default_days`` from its start or now, or is unlimited when the list has none),
    or :data:`DEFAULT` (the list's default period for any grant).
    ``duration`` sets ``expires_at`` to the start (or now) + duration. A changed expiry clears
    ``reminder_sent_at`` and ``expiry_recorded_at``, so the expiry reminder and the expiry
    record follow the new date. Raises ``ValidationError`` for a malformed email, an expiry
    before the start (also the grant's existing start), or both ``expires_at`` and
    ``duration``, and changes nothing then.

    ``extend_only`` (a purchase): a *running* grant (not revoked, not ended) keeps its expiry
    when the new one would end earlier, and stays unlimited; decided under the grant's row
    lock. With a ``reference``, the end this call asked for is recorded with the reference
    (:class:`GrantReference`), so that :func:`refund` can take back exactly that period.
    """
    email = normalize_email(email)
    start = starts_at if isinstance(starts_at, datetime) else None
    if duration is not None:
        if isinstance(expires_at, datetime):
            raise ValidationError("Give either expires_at or duration, not both.", code="both")
        expires_at = (start or timezone.now()) + duration
    if isinstance(expires_at, datetime) and start and expires_at <= start:
        raise _expires_before()
    if source not in Grant.Source.values:
        raise ValidationError(f"Unknown source {source!r}.", code="source")

    with transaction.atomic():
        if reference:
            existing = by_reference(access_list, reference)
            if existing is not None:
                return existing, False
        try:
            with transaction.atomic():
                obj, created = Grant.objects.select_for_update().get_or_create(
                    email=email,
                    access_list=access_list,
                    defaults={"source": source, "added_by": added_by},
                )
        except IntegrityError:  # a concurrent grant for the same email and list
            obj, created = (
                Grant.objects.select_for_update().get(email=email, access_list=access_list),
                False,
            )
        if reference and not created:
            # Again under the grant's row lock: a concurrent call with the same reference may
            # have committed while this one waited for the lock.
            existing = by_reference(access_list, reference)
            if existing is not None:
                return existing, False
        if expires_at is DEFAULT or (created and expires_at is UNSET):
            # The list's default access period, shared by the admin, the API and the webhook.
            days = access_list.default_days
            expires_at = (start or timezone.now()) + timedelta(days=days) if days else None
        if name is not None:
            obj.name = name
        if note is not None:
            obj.note = note
        if starts_at is not UNSET:
            obj.starts_at = starts_at
        sold = expires_at if expires_at is not UNSET else obj.expires_at
        keeps_longer = obj.expires_at is None or (
            expires_at is not None and expires_at is not UNSET and expires_at <= obj.expires_at
        )
        if extend_only and not created and _running(obj) and keeps_longer:
            expires_at = UNSET  # a later, shorter order keeps the longer period
        if expires_at is not UNSET and expires_at != obj.expires_at:
            obj.expires_at = expires_at
            _new_period(obj)
        if obj.starts_at and obj.expires_at and obj.expires_at <= obj.starts_at:
            raise _expires_before()  # rolls back a grant created above, too
        if reference:
            obj.reference = reference
        if not created:
            obj.source = source
        obj.revoked_at = None
        obj.save()
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
    logger.info("Access granted to %s on list %s.", mask_email(email), access_list.pk)
    if notify:
        transaction.on_commit(lambda: tasks.enqueue(tasks.send_access_ready, obj.pk))
    return obj, created


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


def _expires_before() -> ValidationError:
    return ValidationError("The access must expire after it starts.", code="expires_before")


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

    Returns False (and changes nothing) when there is no active grant to revoke.
    """
    email = normalize_email(email)
    with transaction.atomic():
        obj = (
            Grant.objects.select_for_update()
            .filter(email=email, access_list=access_list, revoked_at__isnull=True)
            .first()
        )
        if obj is None:
            return False
        _end_access(obj, timezone.now(), by)
    logger.info("Access revoked for %s on list %s.", mask_email(email), access_list.pk)
    return True


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
    with transaction.atomic():
        obj = (
            Grant.objects.select_for_update()
            .filter(access_list=access_list, reference=reference, revoked_at__isnull=True)
            .first()
        )
        if obj is None:
            return None
        obj.access_list = access_list  # the same row; spares a query for the log entry
        _end_access(obj, timezone.now(), by)
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


#: Fields an import may set; the others (source, reference, added_by …) are the import's own.
IMPORT_FIELDS = ("name", "starts_at", "expires_at", "note")


class _Keep:
    def __repr__(self):
        return "KEEP"


#: An import value meaning "as it is": an existing grant keeps its value, a new grant gets
#: the default (for ``expires_at``: the list's ``default_days`` from the start, else
#: unlimited). What an empty expiry cell means (docs/import.md).
KEEP = _Keep()

#: Up to this many rows, existing grants are looked up by email; above it, the list is read
#: once (a file of a few rows into a list of a million grants must not read the million).
_IMPORT_IN_LOOKUP_LIMIT = 500


def import_grants(
    access_list: AccessList,
    rows: dict[str, tuple],
    *,
    fields: tuple[str, ...] | list[str] = IMPORT_FIELDS,
    added_by=None,
    dry_run: bool = False,
    file_name: str = "",
    batch_size: int = 2000,
    conflicts: list | None = None,
) -> tuple[int, int, int]:
    """Apply validated import rows to ``access_list`` in bulk; return ``(new, updated,
    unchanged)``.

    ``rows`` maps normalised emails to tuples whose first ``len(fields)`` items are the new
    values of ``fields`` (a subset of :data:`IMPORT_FIELDS`; further items are ignored, the
    importer keeps the line number there). A field not in ``fields`` is left as it is on
    existing grants, and so is a value :data:`KEEP` (a new grant gets the field's default; for
    ``expires_at`` the list's ``default_days`` from the row's start or now, else unlimited,
    also when ``expires_at`` is not in ``fields``). The rows must already be validated
    (:mod:`wagtail_member_access.imports` does that); ``rows`` is consumed (emptied), so that a
    large import never holds two copies.

    An existing grant whose fields all match and that is not revoked is unchanged and not
    written. Any other existing grant is updated, a revoked one restored, and its source
    becomes ``import`` (as :func:`grant` does); a changed expiry clears ``reminder_sent_at``
    and ``expiry_recorded_at``, so the new period is reminded and recorded. New grants get
    ``source="import"`` and ``added_by``. Existing grants are read in one query; everything
    is written in one transaction, ``batch_size`` rows per ``executemany``, with one audit-log
    entry on the list when anything changed. No per-grant log entries, model signals or
    ``access_granted`` signals: 100,000 of them would cost more than the import itself.
    ``dry_run=True`` only counts. If another request creates a grant for one of the new emails
    meanwhile, the ``IntegrityError`` propagates and nothing is written.

    A row that would leave an existing grant ending before it starts (a new start after the
    grant's kept expiry, or a new expiry before its kept start) is not counted; it is added to
    ``conflicts`` as ``(line, email, starts_at, expires_at)`` (``line``: the row's item after
    its field values, or None), and then nothing is written. Without a ``conflicts`` list such
    a row raises ``ValidationError``, as :func:`grant` does.
    """
    fields = tuple(fields)
    if not set(fields) <= set(IMPORT_FIELDS):
        raise ValueError(f"Unknown import fields: {sorted(set(fields) - set(IMPORT_FIELDS))}.")
    width = len(fields)
    with transaction.atomic(using=router.db_for_write(Grant)):
        if not dry_run:
            # Serialises two imports into one list (a row lock on PostgreSQL; SQLite has
            # one writer at a time anyway).
            list(AccessList.objects.select_for_update().filter(pk=access_list.pk).values("pk"))
        existing = Grant.objects.filter(access_list=access_list)
        if len(rows) <= _IMPORT_IN_LOOKUP_LIMIT:
            existing = existing.filter(email__in=list(rows))
        to_update: list[tuple[int, tuple, tuple]] = []
        unchanged = 0
        expires_index = fields.index("expires_at") if "expires_at" in fields else None
        starts_index = fields.index("starts_at") if "starts_at" in fields else None
        found_conflict = False
        for (
            pk,
            email,
            revoked_at,
            reminded,
            recorded,
            kept_start,
            kept_expiry,
            *current,
        ) in existing.values_list(
            "pk",
            "email",
            "revoked_at",
            "reminder_sent_at",
            "expiry_recorded_at",
            "starts_at",
            "expires_at",
            *fields,
        ).iterator(chunk_size=batch_size):
            row = rows.pop(email, None)
            if row is None:
                continue
            values = tuple(c if v is KEEP else v for v, c in zip(row[:width], current, strict=True))
            start = kept_start if starts_index is None else values[starts_index]
            expiry = kept_expiry if expires_index is None else values[expires_index]
            if start and expiry and expiry <= start:
                if conflicts is None:
                    raise _expires_before()
                conflicts.append((row[width] if len(row) > width else None, email, start, expiry))
                found_conflict = True
                continue
            if revoked_at is None and tuple(current) == values:
                unchanged += 1
                continue
            if expires_index is not None and values[expires_index] != current[expires_index]:
                # A new expiry is a new period: remind and record its end afresh (expiry.py).
                reminded = recorded = None
            to_update.append((pk, values, (reminded, recorded)))
        new, updated = len(rows), len(to_update)
        if dry_run or found_conflict or not (new or updated):
            rows.clear()
            return new, updated, unchanged

        # Written with one prepared statement per batch rather than bulk_create/bulk_update:
        # those spend ~150 µs (create) and over 1 ms (update) per row in Django's SQL
        # compiler, which puts 100,000 rows far past the import's 20 s budget. The values are
        # still prepared by the model fields, so every database gets what Django would send.
        connection = transaction.get_connection(router.db_for_write(Grant))
        qn = connection.ops.quote_name
        opts = Grant._meta
        now = timezone.now()
        prepared: dict = {}

        def prep(name: str, value):
            if value is None:
                return None
            key = (name, value)
            try:
                return prepared[key]
            except KeyError:
                if len(prepared) > 10_000:
                    prepared.clear()
                db_value = opts.get_field(name).get_db_prep_save(value, connection)
                if isinstance(value, datetime):  # dates repeat; names and notes rarely do
                    prepared[key] = db_value
                return db_value

        constants = {
            "access_list": access_list.pk,
            "source": Grant.Source.IMPORT.value,
            "added_by": getattr(added_by, "pk", None),
            "created_at": now,
            "updated_at": now,
        }
        columns = [f for f in opts.concrete_fields if not f.primary_key]
        template = [
            f.get_db_prep_save(
                constants[f.name] if f.name in constants else f.get_default(), connection
            )
            if f.name not in fields and f.name != "email"
            else None
            for f in columns
        ]
        slots = [(columns.index(opts.get_field(name)), name) for name in fields]
        email_slot = columns.index(opts.get_field("email"))
        expires_slot = columns.index(opts.get_field("expires_at"))
        starts_index = fields.index("starts_at") if "starts_at" in fields else None
        period = timedelta(days=access_list.default_days) if access_list.default_days else None

        def new_value(name: str, row: tuple):
            """A new grant's value for KEEP (or a column the file does not have)."""
            if name != "expires_at":
                return opts.get_field(name).get_default()
            if period is None:
                return None  # unlimited
            starts = row[starts_index] if starts_index is not None else None
            return (starts if isinstance(starts, datetime) else now) + period

        # SQL built from model metadata only (quoted names); every value is a parameter.
        insert_sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
            qn(opts.db_table),
            ", ".join(qn(f.column) for f in columns),
            ", ".join(["%s"] * len(columns)),
        )
        set_fields = [
            *fields,
            "revoked_at",
            "source",
            "updated_at",
            "reminder_sent_at",
            "expiry_recorded_at",
        ]
        update_sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608
            qn(opts.db_table),
            ", ".join(f"{qn(opts.get_field(name).column)} = %s" for name in set_fields),
            qn(opts.pk.column),
        )
        update_tail = [None, Grant.Source.IMPORT.value, prep("updated_at", now)]

        with connection.cursor() as cursor:
            items = iter(rows.items())
            while batch := list(islice(items, batch_size)):
                params = []
                for email, row in batch:
                    values = template.copy()
                    values[email_slot] = email
                    for i, (slot, name) in enumerate(slots):
                        value = row[i]
                        if value is KEEP:
                            value = new_value(name, row)
                        values[slot] = prep(name, value)
                    if expires_index is None and period is not None:
                        values[expires_slot] = prep("expires_at", new_value("expires_at", row))
                    params.append(values)
                cursor.executemany(insert_sql, params)
            rows.clear()
            for start in range(0, updated, batch_size):
                cursor.executemany(
                    update_sql,
                    [
                        [
                            *(
                                prep(name, value)
                                for name, value in zip(fields, values, strict=True)
                            ),
                            *update_tail,
                            prep("reminder_sent_at", flags[0]),
                            prep("expiry_recorded_at", flags[1]),
                            pk,
                        ]
                        for pk, values, flags in to_update[start : start + batch_size]
                    ],
                )
        log(
            instance=access_list,
            action=log_actions.IMPORT,
            user=added_by,
            data={
                "list": access_list.name,
                "list_id": access_list.pk,
                "created": new,
                "updated": updated,
                "unchanged": unchanged,
                "file": file_name,
            },
        )
    logger.info(
        "Imported %s new and %s updated grants into list %s (%s unchanged).",
        new,
        updated,
        access_list.pk,
        unchanged,
    )
    return new, updated, unchanged
