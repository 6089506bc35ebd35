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

import codecs
import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from itertools import chain
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _

from . import grants
from .conf import app_settings
from .members import normalize_email
from .models import AccessList, Grant

__all__ = ["COLUMNS", "ImportResult", "InvalidFile", "RowError", "import_csv"]

#: The columns an import understands, each with the header names it is known by. Headers are
#: compared case-insensitively and without spaces, hyphens, underscores and dots, so
#: "E-Mail", "e_mail" and "EMAIL" are all ``email``; "Gültig bis" is ``gültigbis``.
COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "emailadresse", "mail"),
    "name": ("name", "fullname"),
    "starts_at": (
        "starts",
        "start",
        "startsat",
        "startdate",
        "validfrom",
        "beginn",
        "startdatum",
        "gültigab",
        "gueltigab",
    ),
    "expires_at": (
        "expires",
        "expiresat",
        "expiry",
        "end",
        "enddate",
        "validuntil",
        "ende",
        "enddatum",
        "ablauf",
        "ablaufdatum",
        "gültigbis",
        "gueltigbis",
    ),
    "note": ("note", "notes", "comment", "notiz", "notizen", "bemerkung", "bemerkungen"),
}

_ALIASES = {alias: column for column, aliases in COLUMNS.items() for alias in aliases}
_HEADER_JUNK = re.compile(r"[\s\-_.]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: German Excel writes dates as 31.12.2026; day first is unambiguous with dots.
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)
_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")
_NAME_MAX_LENGTH = Grant._meta.get_field("name").max_length
_CHUNK_SIZE = 64 * 1024
#: Longest line read (bytes): a file without line breaks must not be read into memory whole.
MAX_LINE_BYTES = 1024 * 1024
#: What an expiry cell says for "unlimited" (compared case-insensitively); an empty cell
#: keeps an existing grant's expiry instead (see docs/import.md).
UNLIMITED = ("unlimited", "unbegrenzt", "unbefristet")
_DELIMITERS = (",", ";", "\t")
_SHOWN_VALUE_LENGTH = 80


class InvalidFile(Exception):
    """The file as a whole cannot be imported (empty, not UTF-8, no email column, not CSV).

    ``str(error)`` is the message for the editor; ``line`` the line it concerns, if any.
    Nothing was written.
    """

    def __init__(self, message: str, *, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class RowError:
    """One invalid row: its line in the file (the header is line 1) and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return _("Line %(line)s: %(message)s") % {"line": self.line, "message": self.message}


@dataclass
class ImportResult:
    """What an import did, or (``dry_run``, or any invalid row) would have done.

    ``rows`` counts the non-blank data rows read; each is exactly one of ``new``, ``updated``,
    ``unchanged``, ``invalid`` or ``duplicates`` (a repeat of an earlier row for the same
    email with the same data, counted once). ``new``, ``updated`` and ``unchanged`` are
    counted for the valid rows even when invalid rows stop the import. ``written`` is True
    only when the database was changed.
    """

    access_list: AccessList
    dry_run: bool
    file_name: str = ""
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    #: Our column (``email``, ``name``, ``starts_at``, ``expires_at``, ``note``) -> the
    #: header it was read from.
    columns: dict[str, str] = field(default_factory=dict)
    #: Headers that name none of our columns; their cells are not read.
    ignored_columns: list[str] = field(default_factory=list)
    written: bool = False

    @property
    def invalid(self) -> int:
        return len(self.errors)

    @property
    def ok(self) -> bool:
        """True when every row is valid (a real import then wrote, or had nothing to write)."""
        return not self.errors

    def summary(self) -> str:
        return _(
            "%(new)s new, %(updated)s updated, %(unchanged)s unchanged, %(invalid)s invalid"
        ) % {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "invalid": self.invalid,
        }


def import_csv(
    file: BinaryIO,
    access_list: AccessList,
    *,
    dry_run: bool = False,
    added_by=None,
    tz: tzinfo | None = None,
    batch_size: int = 2000,
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
    """
    tz = tz or timezone.get_default_timezone()
    file_name = os.path.basename(str(getattr(file, "name", "") or ""))
    result = ImportResult(access_list=access_list, dry_run=dry_run, file_name=file_name)
    rows, fields = _read(file, result, tz)
    write = not dry_run and result.ok
    conflicts: list = []
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
    return result


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


# --- reading -------------------------------------------------------------------------------


def _lines(file: BinaryIO) -> Iterator[str]:
    """The file's lines, decoded, with their line endings (``csv`` needs them inside quoted
    cells). Read in chunks so that memory does not grow with the file; decoded line by line
    so that an encoding error names its line."""
    number = 0
    rest = b""
    first = True
    decode = codecs.getdecoder("utf-8")
    while True:
        chunk = file.read(_CHUNK_SIZE)
        if first and chunk:
            first = False
            if chunk[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                raise InvalidFile(
                    _("The file is UTF-16 text. Save it as “CSV UTF-8” and import it again."),
                    line=1,
                )
            if chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]
            if b"\x00" in chunk:
                # UTF-16 without a byte order mark, or a binary file such as an .xlsx: NUL
                # bytes are valid UTF-8, so decoding alone would not notice.
                raise InvalidFile(
                    _(
                        "The file is not CSV text (it contains NUL bytes): it is UTF-16 text or "
                        "a spreadsheet file. Save it as “CSV UTF-8” and import it again."
                    ),
                    line=1,
                )
        if not chunk:
            break
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        if len(rest) > MAX_LINE_BYTES or any(len(part) > MAX_LINE_BYTES for part in parts):
            long_line = (
                number
                + 1
                + next(
                    (i for i, part in enumerate(parts) if len(part) > MAX_LINE_BYTES), len(parts)
                )
            )
            raise InvalidFile(
                _(
                    "Line %(line)s is longer than %(max)s MB; this is not a CSV file of "
                    "grants. Nothing was imported."
                )
                % {"line": long_line, "max": MAX_LINE_BYTES // (1024 * 1024)},
                line=long_line,
            )
        for part in parts:
            number += 1
            try:
                yield decode(part + b"\n")[0]
            except UnicodeDecodeError:
                raise _not_utf8(number) from None
    if rest:
        number += 1
        try:
            yield decode(rest)[0]
        except UnicodeDecodeError:
            raise _not_utf8(number) from None


def _not_utf8(line: int) -> InvalidFile:
    return InvalidFile(
        _(
            "Line %(line)s is not UTF-8 text; the file was probably saved in another encoding. "
            "Save it as “CSV UTF-8” and import it again. Nothing was imported."
        )
        % {"line": line},
        line=line,
    )


def _header_key(header: str) -> str:
    return _HEADER_JUNK.sub("", header.strip().casefold())


def _shown(value: str) -> str:
    """A cell as quoted in a message: shortened, never more than one line."""
    value = value.replace("\r", " ").replace("\n", " ")
    if len(value) > _SHOWN_VALUE_LENGTH:
        value = value[: _SHOWN_VALUE_LENGTH - 1] + "…"
    return value


def day_end(value: str, tz: tzinfo) -> datetime | None:
    """If ``value`` is a date without a time (``2026-12-31`` or ``31.12.2026``), the end of
    that day in ``tz``, as an *expires* cell is read; otherwise None. The admin's grant form
    reads a typed expiry the same way."""
    value = value.strip()
    if _DATE.fullmatch(value) or _GERMAN_DATE.fullmatch(value):
        return _date_parser(tz)(value, True)
    return None


def _date_parser(tz: tzinfo):
    """``parse(value, end_of_day)``: an aware datetime, or ValueError. Cached, because a file's
    dates repeat (a course's cohort shares its dates), and the shared datetimes save memory."""

    @lru_cache(maxsize=4096)
    def parse(value: str, end_of_day: bool) -> datetime:
        if _DATE.fullmatch(value):
            day = date.fromisoformat(value)
            if end_of_day:
                # Access "until 2026-12-31" ends when 2027-01-01 begins.
                day += timedelta(days=1)
            return timezone.make_aware(datetime.combine(day, time.min), tz)
        if match := _GERMAN_DATE.fullmatch(value):
            day_of_month, month, year = (int(part) for part in match.groups())
            return parse(f"{year:04d}-{month:02d}-{day_of_month:02d}", end_of_day)
        if _DATETIME.fullmatch(value):
            moment = datetime.fromisoformat(value)
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment, tz)
            return moment
        raise ValueError(value)

    return parse


def _read(file: BinaryIO, result: ImportResult, tz: tzinfo) -> tuple[dict, tuple[str, ...]]:
    """Parse and validate the whole file into ``{email: (*values, line)}`` and the fields the
    values are for, recording counts and row errors in ``result``."""
    lines = _lines(file)
    skipped = 0  # blank lines before the header
    for header_line in lines:
        if header_line.strip():
            break
        skipped += 1
    else:
        raise InvalidFile(_("The file is empty."))

    counts = {d: header_line.count(d) for d in _DELIMITERS}
    delimiter = max(_DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","
    reader = csv.reader(chain([header_line], lines), delimiter=delimiter, strict=True)
    try:
        headers = next(reader)
    except csv.Error as exc:
        raise _not_csv(skipped + 1, exc) from None

    indexes: dict[str, int] = {}
    for index, header in enumerate(headers):
        column = _ALIASES.get(_header_key(header))
        if column is None:
            if header.strip():
                result.ignored_columns.append(header.strip())
            continue
        if column in indexes:
            raise InvalidFile(
                _("The columns “%(first)s” and “%(second)s” are the same column; keep one.")
                % {"first": result.columns[column], "second": header.strip()},
                line=skipped + 1,
            )
        indexes[column] = index
        result.columns[column] = header.strip()
    if "email" not in indexes:
        raise InvalidFile(
            _(
                "The file has no email column. Its first line must name the columns, for "
                "example: email,name,starts,expires,note (found: %(found)s)."
            )
            % {"found": ", ".join(h.strip() for h in headers if h.strip()) or "-"},
            line=skipped + 1,
        )

    fields = tuple(f for f in grants.IMPORT_FIELDS if f in indexes)
    email_index = indexes["email"]
    field_indexes = [indexes[f] for f in fields]
    width = len(headers)
    parse_date = _date_parser(tz)
    max_rows = app_settings.IMPORT_MAX_ROWS
    rows: dict[str, tuple] = {}
    errors = result.errors

    while True:
        line = reader.line_num + skipped + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _not_csv(line, exc) from None
        if not any(cells) or not any(cell.strip() for cell in cells):
            continue
        result.rows += 1
        if result.rows > max_rows:
            raise InvalidFile(
                _(
                    "The file has more than %(max)s rows, the most one import takes "
                    "(WAGTAIL_MEMBER_ACCESS_IMPORT_MAX_ROWS). Split it into several files. "
                    "Nothing was imported."
                )
                % {"max": f"{max_rows:,}"},
                line=line,
            )
        cells = [cell.strip() for cell in cells]
        if len(cells) > width and any(cells[width:]):
            errors.append(
                RowError(
                    line,
                    _("The row has %(cells)s cells, but the first line names %(columns)s.")
                    % {"cells": len(cells), "columns": width},
                )
            )
            continue
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        error, values = _validate(cells, email_index, fields, field_indexes, result, parse_date)
        if error:
            errors.append(RowError(line, error))
            continue
        email = values[0]
        row = (*values[1:], line)
        seen = rows.get(email)
        if seen is None:
            rows[email] = row
        elif seen[:-1] == row[:-1]:
            result.duplicates += 1
        else:
            errors.append(
                RowError(
                    line,
                    _(
                        "%(email)s is also on line %(first)s, with different data; keep one "
                        "of the two rows."
                    )
                    % {"email": email, "first": seen[-1]},
                )
            )
    return rows, fields


def _not_csv(line: int, exc: csv.Error) -> InvalidFile:
    return InvalidFile(
        _("Line %(line)s cannot be read as CSV (%(error)s). Nothing was imported.")
        % {"line": line, "error": exc},
        line=line,
    )


def _validate(cells, email_index, fields, field_indexes, result, parse_date):
    """``(message, None)`` for an invalid row, ``(None, (email, *values))`` for a valid one."""
    raw_email = cells[email_index]
    if not raw_email:
        return _("The email address is missing."), None
    try:
        email = normalize_email(raw_email)
    except ValidationError:
        return _("“%(value)s” is not a valid email address.") % {"value": _shown(raw_email)}, None
    values = [email]
    for name, index in zip(fields, field_indexes, strict=True):
        value = cells[index]
        if "\x00" in value:
            return (
                _("The column “%(column)s” contains a NUL character.")
                % {"column": result.columns[name]},
                None,
            )
        if name == "name":
            if len(value) > _NAME_MAX_LENGTH:
                return (
                    _("The name is longer than %(max)s characters.") % {"max": _NAME_MAX_LENGTH},
                    None,
                )
            if _NAME_FORBIDDEN.search(value):
                return _("The name contains a line break or another control character."), None
        elif name in ("starts_at", "expires_at"):
            if not value:
                # An empty start: from the start. An empty expiry keeps an existing grant's
                # expiry and gives a new one the list's default period (re-importing a file
                # must not shorten or lift periods set since).
                value = grants.UNSET if name == "expires_at" else None
            elif name == "expires_at" and value.casefold() in UNLIMITED:
                value = None
            else:
                try:
                    value = parse_date(value, name == "expires_at")
                except (ValueError, OverflowError):
                    if name == "expires_at":
                        return (
                            _(
                                "“%(value)s” in column “%(column)s” is not a valid date: use "
                                "YYYY-MM-DD, DD.MM.YYYY or an ISO date and time such as "
                                "2026-12-31T18:00, “unlimited”, or leave it empty."
                            )
                            % {"value": _shown(value), "column": result.columns[name]},
                            None,
                        )
                    return (
                        _(
                            "“%(value)s” in column “%(column)s” is not a valid date: use "
                            "YYYY-MM-DD, DD.MM.YYYY or an ISO date and time such as "
                            "2026-12-31T18:00."
                        )
                        % {"value": _shown(value), "column": result.columns[name]},
                        None,
                    )
        values.append(value)
    if "starts_at" in fields and "expires_at" in fields:
        starts = values[1 + fields.index("starts_at")]
        expires = values[1 + fields.index("expires_at")]
        if isinstance(starts, datetime) and isinstance(expires, datetime) and expires <= starts:
            return (
                _(
                    "The access would end (%(expires)s) before it starts (%(starts)s): "
                    "“%(expires_column)s” must be after “%(starts_column)s”."
                )
                % {
                    "expires": cells[field_indexes[fields.index("expires_at")]],
                    "starts": cells[field_indexes[fields.index("starts_at")]],
                    "expires_column": result.columns["expires_at"],
                    "starts_column": result.columns["starts_at"],
                },
                None,
            )
    return None, values
