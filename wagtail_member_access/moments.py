"""How a moment is shown to people: in emails, in the grant form and in the grants listing,
one rule each, so that an email and the admin never disagree about when access ends.

The end-of-day rule (docs/expiry.md#shown): access "until 31 January 2031" is stored as
the moment 1 February 2031 begins, in the site's (or the editor's) time zone. Such an expiry is
shown as the day it includes ("until the end of 31 January 2031"), never as "2031-02-01
00:00". Every moment names its time zone. Dates are written in the active language (``31
January 2031``, ``31. Januar 2031``); the ``*_lazy`` variants are formatted when the email is
rendered, in the email's language.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import dateformat, timezone
from django.utils.functional import lazy
from django.utils.translation import gettext, pgettext

__all__ = [
    "ended",
    "expiry",
    "last_day",
    "moment",
    "moment_lazy",
    "revoked",
    "until",
    "until_lazy",
]


def _local(value: datetime, tz) -> datetime:
    return timezone.localtime(value, tz or timezone.get_current_timezone())


def _day(day: date) -> str:
    # Translators: a date as PHP/Django's date format, e.g. "31 January 2031" (German "j. F Y").
    return dateformat.format(day, pgettext("date format", "j F Y"))


def _zone(local: datetime) -> str:
    return str(getattr(local.tzinfo, "key", None) or local.tzname())


def last_day(value: datetime | None, tz=None) -> date | None:
    """The last day an expiry at midnight includes (1 February 00:00 → 31 January), in ``tz``
    (default: the current time zone); None for an expiry at any other time or no expiry."""
    if value is None:
        return None
    local = _local(value, tz)
    if local.time() != time(0):
        return None
    return local.date() - timedelta(days=1)


def moment(value: datetime, tz=None) -> str:
    """``"3 March 2026, 14:05 (Europe/Berlin)"``: a moment in ``tz`` (default: the current
    time zone), with the zone named."""
    local = _local(value, tz)
    return gettext("%(day)s, %(time)s (%(zone)s)") % {
        "day": _day(local.date()),
        "time": dateformat.format(local, pgettext("time format", "H:i")),
        "zone": _zone(local),
    }


def _ends(value: datetime, tz, day_text: str, moment_text: str) -> str:
    """``day_text`` (with ``day`` and ``zone``) for an expiry at midnight, the end-of-day
    rule; else ``moment_text`` (with ``moment``)."""
    day = last_day(value, tz)
    if day is None:
        return moment_text % {"moment": moment(value, tz)}
    return day_text % {"day": _day(day), "zone": _zone(_local(value, tz))}


def expiry(value: datetime | None, tz=None, *, empty: str = "") -> str:
    """When access ends, for a table cell or a form: ``"end of 31 January 2031 (UTC)"`` for
    an expiry at midnight (the end-of-day rule), else as :func:`moment`; ``empty`` for
    None (no end)."""
    if value is None:
        return empty
    return _ends(value, tz, gettext("end of %(day)s (%(zone)s)"), "%(moment)s")


def until(value: datetime | None, tz=None) -> str:
    """When access ends, to follow "Your access lasts": ``"until the end of 31 January 2031
    (Europe/Berlin)"`` for an expiry at midnight, else ``"until 31 January 2031, 14:05
    (Europe/Berlin)"``; ``""`` for None (no end)."""
    if value is None:
        return ""
    return _ends(
        value,
        tz,
        gettext("until the end of %(day)s (%(zone)s)"),
        gettext("until %(moment)s"),
    )


def ended(value: datetime, tz=None) -> str:
    """When access that has passed ended: ``"ended at the end of 31 January 2031 (UTC)"``
    for an expiry at midnight, else ``"ended 31 January 2031, 14:05 (UTC)"``."""
    return _ends(
        value,
        tz,
        gettext("ended at the end of %(day)s (%(zone)s)"),
        gettext("ended %(moment)s"),
    )


def revoked(value: datetime, tz=None) -> str:
    """``"revoked on 3 March 2026, 14:05 (UTC)"``: when a grant was revoked. A revocation
    ends access at once, so it is always shown with its time, never as a day."""
    return gettext("revoked on %(moment)s") % {"moment": moment(value, tz)}


#: :func:`moment` and :func:`until`, formatted when the email is rendered (in its language).
moment_lazy = lazy(moment, str)
until_lazy = lazy(until, str)
