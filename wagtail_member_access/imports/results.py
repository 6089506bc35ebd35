"""What an import reports: the whole file refused (:class:`InvalidFile`), one row refused
(:class:`RowError`), and the counts (:class:`ImportResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from ..models import AccessList

__all__ = ["ImportResult", "InvalidFile", "RowError", "RowPreview"]


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
class RowPreview:
    """What the import does with one row, for the dry run's table (docs/import.md#dry-run).

    ``outcome`` is one of ``"new"``, ``"extended"``, ``"shortened"``, ``"updated"``,
    ``"restored"``, ``"unchanged"``, ``"duplicate"`` or ``"invalid"``; ``label`` says it in
    words, ``details`` why (the reason of an invalid row, the fields an update changes).
    ``dates`` has one ``(column, cell, reading)`` per date column of the file: the header,
    the cell as written and how it was read ("end of 31 December 2031 (Europe/Berlin)").
    """

    line: int
    email: str
    outcome: str
    label: str
    details: str = ""
    dates: list[tuple[str, str, str]] = field(default_factory=list)


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
    #: The data rows (numbered from 1, as counted in ``rows``) to describe in ``previews``.
    preview_rows: range | None = None
    #: What happens to each row of ``preview_rows``, in file order.
    previews: list[RowPreview] = field(default_factory=list)

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
