"""The grant path's bulk writer: a validated CSV import applied to one access list in one
transaction (:mod:`wagtail_member_access.imports` reads and validates the file)."""

from __future__ import annotations

import logging
from datetime import datetime
from itertools import islice

from django.db import router, transaction
from django.utils import timezone
from wagtail.log_actions import log

from .. import log_actions
from ..models import AccessList, Grant
from .periods import UNSET, default_expiry, expires_before

__all__ = ["IMPORT_FIELDS", "import_grants"]

logger = logging.getLogger("wagtail_member_access")

#: Fields an import may set; the others (source, reference, added_by …) are the import's own.
IMPORT_FIELDS = ("name", "starts_at", "expires_at", "note", "seats")

#: Up to this many rows, existing grants are looked up by email; above it, the list is read
#: once (a file of a few rows into a list of a million grants must not read the million).
_IN_LOOKUP_LIMIT = 500


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
    outcomes: dict | None = None,
) -> tuple[int, int, int]:
    """Apply validated import rows to ``access_list`` in bulk; return ``(new, updated,
    unchanged)``.

    ``rows`` maps normalised emails to tuples whose first ``len(fields)`` items are the new
    values of ``fields`` (a subset of :data:`IMPORT_FIELDS`; further items are ignored, the
    importer keeps the line number there). A field not in ``fields`` is left as it is on
    existing grants, and so is a value :data:`~.periods.UNSET` (a new grant gets the field's
    default; for ``expires_at`` the list's ``default_days`` from the row's start or now, else
    unlimited, also when ``expires_at`` is not in ``fields``). The rows must already be
    validated (:mod:`wagtail_member_access.imports` does that); ``rows`` is consumed
    (emptied), so that a large import never holds two copies.

    An existing grant whose fields all match and that is not revoked is unchanged and not
    written. Any other existing grant is updated, a revoked one restored, and its source
    becomes ``import`` (as :func:`~wagtail_member_access.grants.grant` does); a changed expiry
    clears ``reminder_sent_at`` and ``expiry_recorded_at``, so the new period is reminded and
    recorded. New grants get ``source="import"`` and ``added_by``. Existing grants are read in
    one query; everything is written in one transaction, ``batch_size`` rows per
    ``executemany``, with one audit-log entry on the list when anything changed. No per-grant
    log entries, model signals or ``access_granted`` signals: 100,000 of them would cost more
    than the import itself. ``dry_run=True`` only counts. If another request creates a grant
    for one of the new emails meanwhile, the ``IntegrityError`` propagates and nothing is
    written. Raises ``ValueError`` for a field not in :data:`IMPORT_FIELDS`.

    A row that would leave an existing grant ending before it starts (a new start after the
    grant's kept expiry, or a new expiry before its kept start) is not counted; it is added to
    ``conflicts`` as ``(line, email, starts_at, expires_at)`` (``line``: the row's item after
    its field values, or None), and then nothing is written. Without a ``conflicts`` list such
    a row raises ``ValidationError``, as ``grant`` does.

    ``outcomes`` (the import's dry run, for the rows it shows): a dict whose keys are emails
    of ``rows``; each value is set to ``(kind, before, after)``, ``kind`` one of ``"new"``,
    ``"updated"``, ``"restored"`` (a revoked grant), ``"unchanged"`` or ``"conflict"``,
    ``before`` the existing grant's ``starts_at``, ``expires_at`` and ``fields`` (a dict;
    None for a new grant) and ``after`` the row's values with the kept ones filled in.
    """
    fields = tuple(fields)
    if not set(fields) <= set(IMPORT_FIELDS):
        raise ValueError(f"Unknown import fields: {sorted(set(fields) - set(IMPORT_FIELDS))}.")
    with transaction.atomic(using=router.db_for_write(Grant)):
        if not dry_run:
            # Serialises two imports into one list (a row lock on PostgreSQL; SQLite has
            # one writer at a time anyway).
            list(AccessList.objects.select_for_update().filter(pk=access_list.pk).values("pk"))
        to_update, unchanged, conflicted = _compare(
            access_list, rows, fields, batch_size, conflicts, outcomes
        )
        for email in outcomes or ():
            if email in rows:
                outcomes[email] = ("new", None, dict(zip(fields, rows[email], strict=False)))
        new, updated = len(rows), len(to_update)
        if dry_run or conflicted or not (new or updated):
            rows.clear()
            return new, updated, unchanged
        _Writer(access_list, fields, added_by).write(rows, to_update, batch_size)
        data = {"list": access_list.name, "list_id": access_list.pk, "file": file_name}
        data |= {"created": new, "updated": updated, "unchanged": unchanged}
        log(instance=access_list, action=log_actions.IMPORT, user=added_by, data=data)
    message = "Imported %s new and %s updated grants into list %s (%s unchanged)."
    logger.info(message, new, updated, access_list.pk, unchanged)
    return new, updated, unchanged


def _compare(access_list, rows, fields, batch_size, conflicts, outcomes=None):
    """Match the rows against the list's existing grants, popping each matched row from
    ``rows`` (what is left is new). Returns ``(to_update, unchanged, conflicted)``:
    ``(pk, values, (reminder_sent_at, expiry_recorded_at))`` per grant to write, the count of
    grants left as they are, and whether a row conflicted (see :func:`import_grants`)."""
    width = len(fields)
    expires_index = fields.index("expires_at") if "expires_at" in fields else None
    starts_index = fields.index("starts_at") if "starts_at" in fields else None
    existing = Grant.objects.filter(access_list=access_list)
    if len(rows) <= _IN_LOOKUP_LIMIT:
        existing = existing.filter(email__in=list(rows))
    to_update: list[tuple[int, tuple, tuple]] = []
    unchanged = 0
    conflicted = False
    columns = ("revoked_at", "reminder_sent_at", "expiry_recorded_at", "starts_at", "expires_at")
    for (
        pk,
        email,
        revoked_at,
        reminded,
        recorded,
        kept_start,
        kept_expiry,
        *current,
    ) in existing.values_list("pk", "email", *columns, *fields).iterator(chunk_size=batch_size):
        row = rows.pop(email, None)
        if row is None:
            continue
        values = tuple(c if v is UNSET else v for v, c in zip(row[:width], current, strict=True))
        start = kept_start if starts_index is None else values[starts_index]
        expiry = kept_expiry if expires_index is None else values[expires_index]
        if start and expiry and expiry <= start:
            if conflicts is None:
                raise expires_before()
            conflicts.append((row[width] if len(row) > width else None, email, start, expiry))
            conflicted = True
            kind = "conflict"
        elif revoked_at is None and tuple(current) == values:
            unchanged += 1
            kind = "unchanged"
        else:
            kind = "restored" if revoked_at is not None else "updated"
        if outcomes is not None and email in outcomes:
            before = {"starts_at": kept_start, "expires_at": kept_expiry}
            after = {**before, **dict(zip(fields, values, strict=True))}
            outcomes[email] = (kind, {**before, **dict(zip(fields, current, strict=True))}, after)
        if kind in ("conflict", "unchanged"):
            continue
        if expires_index is not None and values[expires_index] != current[expires_index]:
            # A new expiry is a new period: remind and record its end afresh (expiry.py).
            reminded = recorded = None
        to_update.append((pk, values, (reminded, recorded)))
    return to_update, unchanged, conflicted


class _Writer:
    """Writes an import with one prepared statement per batch rather than with
    bulk_create/bulk_update: those spend ~150 µs (create) and over 1 ms (update) per row in
    Django's SQL compiler, which puts 100,000 rows far past the import's 20 s budget (see
    docs/performance.md). The values are still prepared by the model fields, so every
    database gets what Django would send."""

    def __init__(self, access_list: AccessList, fields: tuple[str, ...], added_by):
        self.access_list = access_list
        self.fields = fields
        self.connection = transaction.get_connection(router.db_for_write(Grant))
        self.opts = Grant._meta
        self.now = timezone.now()
        self.prepared: dict = {}
        self.columns = [f for f in self.opts.concrete_fields if not f.primary_key]
        constants = {
            "access_list": access_list.pk,
            "source": Grant.Source.IMPORT.value,
            "added_by": getattr(added_by, "pk", None),
            "created_at": self.now,
            "updated_at": self.now,
        }
        self.template = [
            f.get_db_prep_save(
                constants[f.name] if f.name in constants else f.get_default(), self.connection
            )
            if f.name not in fields and f.name != "email"
            else None
            for f in self.columns
        ]
        self.slots = [(self._slot(name), name) for name in fields]
        self.email_slot = self._slot("email")
        self.expires_slot = self._slot("expires_at")
        self.starts_index = fields.index("starts_at") if "starts_at" in fields else None

    def _slot(self, name: str) -> int:
        return self.columns.index(self.opts.get_field(name))

    def prep(self, name: str, value):
        """``value`` as the field ``name`` sends it to the database; datetimes cached, since
        a file's dates repeat (names and notes rarely do)."""
        if value is None:
            return None
        key = (name, value)
        try:
            return self.prepared[key]
        except KeyError:
            if len(self.prepared) > 10_000:
                self.prepared.clear()
            db_value = self.opts.get_field(name).get_db_prep_save(value, self.connection)
            if isinstance(value, datetime):
                self.prepared[key] = db_value
            return db_value

    def new_value(self, name: str, row: tuple):
        """A new grant's value for UNSET (or for a column the file does not have)."""
        if name != "expires_at":
            return self.opts.get_field(name).get_default()
        starts = row[self.starts_index] if self.starts_index is not None else None
        return default_expiry(self.access_list, starts, now=self.now)

    def insert_values(self, email: str, row: tuple) -> list:
        values = self.template.copy()
        values[self.email_slot] = email
        for i, (slot, name) in enumerate(self.slots):
            value = row[i]
            if value is UNSET:
                value = self.new_value(name, row)
            values[slot] = self.prep(name, value)
        if "expires_at" not in self.fields and self.access_list.default_days:
            values[self.expires_slot] = self.prep("expires_at", self.new_value("expires_at", row))
        return values

    def update_values(self, pk: int, values: tuple, flags: tuple) -> list:
        return [
            *(self.prep(name, value) for name, value in zip(self.fields, values, strict=True)),
            None,  # revoked_at: an updated grant is restored
            Grant.Source.IMPORT.value,
            self.prep("updated_at", self.now),
            self.prep("reminder_sent_at", flags[0]),
            self.prep("expiry_recorded_at", flags[1]),
            pk,
        ]

    def _sql(self) -> tuple[str, str]:
        """The INSERT and UPDATE statements, built from model metadata only (quoted names);
        every value is a parameter."""
        qn = self.connection.ops.quote_name
        table = qn(self.opts.db_table)
        insert_sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
            table,
            ", ".join(qn(f.column) for f in self.columns),
            ", ".join(["%s"] * len(self.columns)),
        )
        set_fields = [
            *self.fields,
            "revoked_at",
            "source",
            "updated_at",
            "reminder_sent_at",
            "expiry_recorded_at",
        ]
        update_sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608
            table,
            ", ".join(f"{qn(self.opts.get_field(name).column)} = %s" for name in set_fields),
            qn(self.opts.pk.column),
        )
        return insert_sql, update_sql

    def write(self, rows: dict[str, tuple], to_update: list, batch_size: int) -> None:
        """Insert ``rows`` (emptying it) and apply ``to_update``, ``batch_size`` at a time."""
        insert_sql, update_sql = self._sql()
        with self.connection.cursor() as cursor:
            items = iter(rows.items())
            while batch := list(islice(items, batch_size)):
                cursor.executemany(insert_sql, [self.insert_values(*item) for item in batch])
            rows.clear()
            for start in range(0, len(to_update), batch_size):
                cursor.executemany(
                    update_sql,
                    [self.update_values(*item) for item in to_update[start : start + batch_size]],
                )
