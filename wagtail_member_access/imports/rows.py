"""The rows of an import file: the header names our columns, then every row is validated
into ``{email: (*values, line)}`` for :func:`wagtail_member_access.grants.import_grants`."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from datetime import datetime, tzinfo
from itertools import chain
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ..conf import app_settings
from ..domains import is_domain, normalize_grantee
from ..grants import IMPORT_FIELDS, UNSET
from ..models import Grant
from .dates import date_parser
from .lines import lines
from .results import ImportResult, InvalidFile, RowError

__all__ = ["COLUMNS", "UNLIMITED", "read"]

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
    # A domain grant's seats (docs/import.md#domains-and-seats).
    "seats": ("seats", "plätze", "plaetze", "lizenzen", "licenses", "licences"),
}

_ALIASES = {alias: column for column, aliases in COLUMNS.items() for alias in aliases}
_HEADER_JUNK = re.compile(r"[\s\-_.]+")
_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")
_NAME_MAX_LENGTH = Grant._meta.get_field("name").max_length
#: What an expiry cell says for "unlimited" (compared case-insensitively); an empty cell
#: keeps an existing grant's expiry instead (see docs/import.md).
UNLIMITED = ("unlimited", "unbegrenzt", "unbefristet")
_DELIMITERS = (",", ";", "\t")
_SHOWN_VALUE_LENGTH = 80


def read(
    file: BinaryIO, result: ImportResult, tz: tzinfo, seen: list | None = None
) -> tuple[dict, tuple[str, ...]]:
    """Parse and validate the whole file into ``{email: (*values, line)}`` and the fields the
    values are for, recording counts and row errors in ``result``. Raises
    :class:`InvalidFile` for a file that cannot be read as a whole.

    The rows of ``result.preview_rows`` are added to ``seen`` as ``(line, cells, values)``:
    their cells by our column name (``email`` and the date columns, as written) and the
    validated values (``[email, *values]``, None for an invalid row)."""
    reader, skipped = _reader(lines(file))
    try:
        headers = next(reader)
    except csv.Error as exc:
        raise _not_csv(skipped + 1, exc) from None
    indexes = _column_indexes(headers, result, line=skipped + 1)
    fields = tuple(f for f in IMPORT_FIELDS if f in indexes)
    validate = _validator(fields, indexes, result.columns, date_parser(tz))
    shown = {f: i for f, i in indexes.items() if f in ("email", "starts_at", "expires_at")}
    window = result.preview_rows if seen is not None else None
    rows: dict[str, tuple] = {}
    for line, cells, error in _cells(reader, skipped, len(headers), result):
        values = None
        if error is None:
            error, values = validate(cells)
        if error:
            result.errors.append(RowError(line, error))
        else:
            _add(rows, values, line, result)
        if window is not None and result.rows in window:
            padded = cells + [""] * (len(headers) - len(cells))
            seen.append((line, {f: padded[i] for f, i in shown.items()}, values))
    return rows, fields


def _reader(file_lines: Iterator[str]):
    """A ``csv.reader`` from the first non-blank line on, with the delimiter that line uses
    most; and the number of blank lines skipped. Raises :class:`InvalidFile` for an empty
    file."""
    skipped = 0  # blank lines before the header
    for header_line in file_lines:
        if header_line.strip():
            break
        skipped += 1
    else:
        raise InvalidFile(_("The file is empty."))
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    delimiter = max(_DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","
    return csv.reader(chain([header_line], file_lines), delimiter=delimiter, strict=True), skipped


def _header_key(header: str) -> str:
    return _HEADER_JUNK.sub("", header.strip().casefold())


def _column_indexes(headers: list[str], result: ImportResult, *, line: int) -> dict[str, int]:
    """Our column -> its index in the row, recording the headers in ``result``. Raises
    :class:`InvalidFile` for a column named twice or a missing email column."""
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
                line=line,
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
            line=line,
        )
    return indexes


def _cells(
    reader, skipped: int, width: int, result: ImportResult
) -> Iterator[tuple[int, list, str | None]]:
    """``(line, cells, error)`` for each non-blank data row, stripped and padded to
    ``width``; counted in ``result.rows``. ``error`` is the reason for a row with more cells
    than headers, else None. Raises :class:`InvalidFile` for broken CSV or too many rows."""
    max_rows = app_settings.IMPORT_MAX_ROWS
    while True:
        line = reader.line_num + skipped + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _not_csv(line, exc) from None
        if not any(cells) or not any(cell.strip() for cell in cells):
            continue
        if cells[0].startswith("# ") and not any(cell.strip() for cell in cells[1:]):
            continue  # an export's last line ("# End of export: …"; docs/import.md#the-file)
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
            message = _("The row has %(cells)s cells, but the first line names %(columns)s.")
            yield line, cells, message % {"cells": len(cells), "columns": width}
            continue
        yield line, cells + [""] * (width - len(cells)), None


def _add(rows: dict, values: list, line: int, result: ImportResult) -> None:
    """Keep a valid row; a repeat of an email is a duplicate when its data is the same, and an
    error when it differs."""
    email = values[0]
    row = (*values[1:], line)
    seen = rows.get(email)
    if seen is None:
        rows[email] = row
    elif seen[:-1] == row[:-1]:
        result.duplicates += 1
    else:
        result.errors.append(
            RowError(
                line,
                _(
                    "%(email)s is also on line %(first)s, with different data; keep one "
                    "of the two rows."
                )
                % {"email": email, "first": seen[-1]},
            )
        )


def _not_csv(line: int, exc: csv.Error) -> InvalidFile:
    return InvalidFile(
        _("Line %(line)s cannot be read as CSV (%(error)s). Nothing was imported.")
        % {"line": line, "error": exc},
        line=line,
    )


def _shown(value: str) -> str:
    """A cell as quoted in a message: shortened, never more than one line."""
    value = value.replace("\r", " ").replace("\n", " ")
    if len(value) > _SHOWN_VALUE_LENGTH:
        value = value[: _SHOWN_VALUE_LENGTH - 1] + "…"
    return value


# --- one row ------------------------------------------------------------------------------


def _validator(
    fields: tuple[str, ...], indexes: dict[str, int], columns: dict[str, str], parse_date
) -> Callable[[list], tuple]:
    """``validate(cells)``: ``(message, None)`` for an invalid row, ``(None, [email,
    *values])`` for a valid one."""
    email_index = indexes["email"]
    field_indexes = [indexes[f] for f in fields]

    def validate(cells: list) -> tuple:
        raw_email = cells[email_index]
        if not raw_email:
            return _("The email address is missing."), None
        if raw_email.startswith("'@"):
            raw_email = raw_email[1:]  # a domain as our export writes it (never a formula)
        try:
            values = [normalize_grantee(raw_email)]
        except ValidationError:
            if is_domain(raw_email):
                message = _("“%(value)s” is not a valid domain such as @school.example.")
            else:
                message = _("“%(value)s” is not a valid email address.")
            return message % {"value": _shown(raw_email)}, None
        for name, index in zip(fields, field_indexes, strict=True):
            error, value = _cell(name, cells[index], columns[name], parse_date)
            if error:
                return error, None
            if name == "seats" and value is not UNSET and not is_domain(values[0]):
                return _(
                    "Seats are for a domain such as @school.example, not for an address."
                ), None
            values.append(value)
        if "starts_at" in fields and "expires_at" in fields:
            error = _order_error(cells, values, fields, field_indexes, columns)
            if error:
                return error, None
        return None, values

    return validate


def _cell(name: str, value: str, column: str, parse_date) -> tuple[str | None, object]:
    """``(message, None)`` for an invalid cell of the field ``name``, ``(None, value)``
    for a valid one."""
    if "\x00" in value:
        return _("The column “%(column)s” contains a NUL character.") % {"column": column}, None
    if name == "name":
        if len(value) > _NAME_MAX_LENGTH:
            return _("The name is longer than %(max)s characters.") % {
                "max": _NAME_MAX_LENGTH
            }, None
        if _NAME_FORBIDDEN.search(value):
            return _("The name contains a line break or another control character."), None
    elif name in ("starts_at", "expires_at"):
        return _date_cell(name, value, column, parse_date)
    elif name == "seats":
        return _seats_cell(value, column)
    return None, value


def _seats_cell(value: str, column: str) -> tuple[str | None, object]:
    """Empty: an existing grant keeps its seats (a new one has no limit); "unlimited": no
    limit; else a whole number of at least 1."""
    if not value:
        return None, UNSET
    if value.casefold() in UNLIMITED:
        return None, None
    if value.isascii() and value.isdigit() and int(value) >= 1:
        return None, int(value)
    message = _(
        "“%(value)s” in column “%(column)s” is not a number of seats: give a whole number, "
        "1 or more, “unlimited”, or leave it empty."
    )
    return message % {"value": _shown(value), "column": column}, None


def _date_cell(name: str, value: str, column: str, parse_date) -> tuple[str | None, object]:
    if not value:
        # An empty start: from the start. An empty expiry keeps an existing grant's
        # expiry and gives a new one the list's default period (re-importing a file
        # must not shorten or lift periods set since).
        return None, (UNSET if name == "expires_at" else None)
    if name == "expires_at" and value.casefold() in UNLIMITED:
        return None, None
    try:
        return None, parse_date(value, name == "expires_at")
    except (ValueError, OverflowError):
        pass
    if name == "expires_at":
        message = _(
            "“%(value)s” in column “%(column)s” is not a valid date: use "
            "YYYY-MM-DD, DD.MM.YYYY or an ISO date and time such as "
            "2026-12-31T18:00, “unlimited”, or leave it empty."
        )
    else:
        message = _(
            "“%(value)s” in column “%(column)s” is not a valid date: use "
            "YYYY-MM-DD, DD.MM.YYYY or an ISO date and time such as "
            "2026-12-31T18:00."
        )
    return message % {"value": _shown(value), "column": column}, None


def _order_error(cells, values, fields, field_indexes, columns) -> str | None:
    """The message for a row whose expiry is not after its start; None when it is."""
    starts = values[1 + fields.index("starts_at")]
    expires = values[1 + fields.index("expires_at")]
    if not (isinstance(starts, datetime) and isinstance(expires, datetime) and expires <= starts):
        return None
    return _(
        "The access would end (%(expires)s) before it starts (%(starts)s): "
        "“%(expires_column)s” must be after “%(starts_column)s”."
    ) % {
        "expires": cells[field_indexes[fields.index("expires_at")]],
        "starts": cells[field_indexes[fields.index("starts_at")]],
        "expires_column": columns["expires_at"],
        "starts_column": columns["starts_at"],
    }
