"""The dates of an import file (``2026-12-31``, ``31.12.2026`` or an ISO date and time), read
in the import's time zone; an expiry date means until the end of that day."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["FORMATS_HELP", "date_parser", "day_end"]

#: Every date format an import reads, for the editor (the upload form's help): keep it in
#: step with the patterns below and with ``rows.UNLIMITED``.
FORMATS_HELP = _(
    "Dates are read in these formats: 2026-12-31 (YYYY-MM-DD); 31.12.2026 or 1.2.2026 (day, "
    "month, year with dots: DD.MM.YYYY); a date and time 2026-12-31 18:00 or 2026-12-31T18:00, "
    "optionally with seconds (18:00:30, 18:00:30.5) and a time zone (Z, +01:00, +0100 or +01). "
    "A start date without a time is the beginning of that day, an expiry date the end of it. "
    "An expiry may also be “unlimited”, “unbegrenzt” or “unbefristet”, or empty."
)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: German Excel writes dates as 31.12.2026; day first is unambiguous with dots.
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)


def day_end(value: str, tz: tzinfo) -> datetime | None:
    """If ``value`` is a date without a time (``2026-12-31`` or ``31.12.2026``), the end of
    that day in ``tz``, as an *expires* cell is read; otherwise None. The admin's grant form
    reads a typed expiry the same way."""
    value = value.strip()
    if _DATE.fullmatch(value) or _GERMAN_DATE.fullmatch(value):
        return date_parser(tz)(value, True)
    return None


def date_parser(tz: tzinfo):
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
