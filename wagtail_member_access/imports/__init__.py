"""CSV import of grants into one access list: read, validate, report, then write all or nothing.

The file is streamed: it is read in 64 KiB chunks, decoded line by line (so that a line that
is not UTF-8 can be named) and parsed by ``csv.reader`` one row at a time. What is kept per
row is one small tuple in a dict keyed by the normalised email, which is also how duplicate
rows are found. Nothing is written until every row is valid; the writing itself is
:func:`wagtail_member_access.grants.import_grants` (the one grant path), in bulk and in one
transaction. The admin view and ``manage.py member_access_import`` both call
:func:`import_csv`::

    with open("buyers.csv", "rb") as f:
        result = import_csv(f, course, dry_run=True)
    result.new, result.updated, result.unchanged, result.invalid, result.errors

See docs/import.md for the file format and the rules.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta, tzinfo
from typing import BinaryIO

from django.db import IntegrityError
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import grants
from ..models import AccessList, Grant
from .dates import day_end
from .preview import describe
from .results import ImportResult, InvalidFile, RowError, RowPreview
from .rows import COLUMNS, UNLIMITED, read

__all__ = [
    "COLUMNS",
    "UNLIMITED",
    "ImportResult",
    "InvalidFile",
    "RowError",
    "RowPreview",
    "day_end",
    "import_csv",
]


def import_csv(
    file: BinaryIO,
    access_list: AccessList,
    *,
    dry_run: bool = False,
    added_by=None,
    tz: tzinfo | None = None,
    batch_size: int = 2000,
    preview: range | None = None,
) -> ImportResult:
    """Import the grants in the CSV ``file`` (opened in binary mode) into ``access_list``.

    Every row is validated first. With ``dry_run``, or when any row is invalid, nothing is
    written and the result says what would have happened and lists every invalid row.
    Otherwise new grants are created, changed ones updated (revoked ones restored) and
    unchanged ones left alone, all in one transaction, with one audit-log entry by
    ``added_by``; importing the same file again changes nothing.

    Dates without a time are days in ``tz`` (default: the site's ``TIME_ZONE``): ``starts``
    from the start of that day, ``expires`` until the end of it. Raises :class:`InvalidFile`
    (and writes nothing) for a file that cannot be read as a whole: empty, not UTF-8, no email
    column, broken CSV, or a concurrent change to the list's grants during the write. The
    caller's ``file`` is left open.

    ``preview``: the data rows (numbered from 1) to describe one by one in
    ``result.previews`` (what happens to each, how each date was read), such as
    ``range(1, 51)`` for the dry run's first page.
    """
    tz = tz or timezone.get_default_timezone()
    file_name = os.path.basename(str(getattr(file, "name", "") or ""))
    result = ImportResult(
        access_list=access_list, dry_run=dry_run, file_name=file_name, preview_rows=preview
    )
    seen: list = []
    rows, fields = read(file, result, tz, seen)
    result.errors.extend(_seats_taken(access_list, rows, fields))
    result.errors.sort(key=lambda error: error.line)
    write = not dry_run and result.ok
    conflicts: list = []
    # The rows shown: the line each email was kept from, and what the grant path finds.
    firsts = {v[0]: rows[v[0]][-1] for _, _, v in seen if v is not None and v[0] in rows}
    outcomes = dict.fromkeys(firsts) if preview is not None else None
    try:
        new, updated, unchanged = grants.import_grants(
            access_list,
            rows,
            fields=fields,
            added_by=added_by,
            dry_run=not write,
            file_name=file_name,
            batch_size=batch_size,
            conflicts=conflicts,
            outcomes=outcomes,
        )
    except IntegrityError as exc:
        raise InvalidFile(
            _(
                "Another change added one of these addresses to the list during the import. "
                "Nothing was imported; import the file again."
            )
        ) from exc
    if conflicts:
        result.errors.extend(_conflict(line, *rest, tz) for line, *rest in conflicts)
        result.errors.sort(key=lambda error: error.line)
        write = False
    result.new, result.updated, result.unchanged = new, updated, unchanged
    result.written = write and bool(new or updated)
    if preview is not None:
        result.previews = describe(result, seen, firsts, outcomes, tz)
    return result


def _seats_taken(access_list: AccessList, rows: dict, fields: tuple) -> list[RowError]:
    """Rows that would lower a domain grant's seats below the seats already taken (refused,
    as ``grants.grant`` refuses it: an editor frees seats first). One query."""
    if "seats" not in fields:
        return []
    index = fields.index("seats")
    wanted = {
        email: row for email, row in rows.items() if email[:1] == "@" and type(row[index]) is int
    }
    if not wanted:
        return []
    taken = (
        Grant.objects.filter(access_list=access_list, email__in=list(wanted))
        .annotate(taken=Count("seat_set"))
        .values_list("email", "taken")
    )
    return [
        RowError(
            wanted[email][-1],
            _(
                "%(domain)s has %(taken)s seats taken: free seats before lowering the number "
                "to %(seats)s."
            )
            % {"domain": email, "taken": count, "seats": wanted[email][index]},
        )
        for email, count in taken
        if count > wanted[email][index]
    ]


def _conflict(line: int, email: str, starts: datetime, expires: datetime, tz) -> RowError:
    """A row that is valid alone but would make the grant already on the list end before it
    starts (a start after its kept expiry, or an expiry before its kept start)."""

    def shown(value: datetime, *, end: bool) -> str:
        # As the file writes them: a whole day as its date (an expiry at midnight is the
        # end of the day before), any other moment with its time.
        local = timezone.localtime(value, tz)
        if local.time() == time(0):
            return (local.date() - timedelta(days=1) if end else local.date()).isoformat()
        return local.strftime("%Y-%m-%dT%H:%M")

    return RowError(
        line,
        _(
            "%(email)s already has a grant on this list, and with this row the access would "
            "end (%(expires)s) before it starts (%(starts)s). Give the row both a start and "
            "a later expiry, or change the grant in the admin."
        )
        % {"email": email, "expires": shown(expires, end=True), "starts": shown(starts, end=False)},
    )
