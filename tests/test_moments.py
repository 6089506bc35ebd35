"""How moments are shown (``moments.py``): the end-of-day rule, the time zone named, the date
in the active language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone, translation

from wagtail_member_access import moments

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
#: Access "until 31 January 2031" in Berlin: stored as the moment 1 February begins there.
END_OF_JANUARY = datetime(2031, 2, 1, tzinfo=BERLIN)
AFTERNOON = datetime(2031, 1, 31, 14, 5, tzinfo=BERLIN)


def test_an_expiry_at_midnight_is_the_end_of_the_day_before():
    assert moments.last_day(END_OF_JANUARY, BERLIN).isoformat() == "2031-01-31"
    assert (
        moments.until(END_OF_JANUARY, BERLIN) == "until the end of 31 January 2031 (Europe/Berlin)"
    )
    assert moments.expiry(END_OF_JANUARY, BERLIN) == "end of 31 January 2031 (Europe/Berlin)"


def test_midnight_is_judged_in_the_zone_shown():
    # Midnight in Berlin is 23:00 the day before in UTC: not a whole day there.
    assert moments.last_day(END_OF_JANUARY, UTC) is None
    assert moments.until(END_OF_JANUARY, UTC) == "until 31 January 2031, 23:00 (UTC)"


def test_any_other_moment_keeps_its_time():
    assert moments.last_day(AFTERNOON, BERLIN) is None
    assert moments.moment(AFTERNOON, BERLIN) == "31 January 2031, 14:05 (Europe/Berlin)"
    assert moments.until(AFTERNOON, BERLIN) == "until 31 January 2031, 14:05 (Europe/Berlin)"
    assert moments.expiry(AFTERNOON, BERLIN) == "31 January 2031, 14:05 (Europe/Berlin)"


def test_no_expiry():
    assert moments.last_day(None) is None
    assert moments.until(None) == ""
    assert moments.expiry(None, empty="Unlimited") == "Unlimited"


def test_the_current_time_zone_is_the_default():
    with translation.override("en"), timezone.override(BERLIN):
        assert moments.until(END_OF_JANUARY) == ("until the end of 31 January 2031 (Europe/Berlin)")


def test_german():
    with translation.override("de"):
        assert moments.until(END_OF_JANUARY, BERLIN) == (
            "bis zum Ende des 31. Januar 2031 (Europe/Berlin)"
        )
        assert moments.until(AFTERNOON, BERLIN) == "bis 31. Januar 2031, 14:05 Uhr (Europe/Berlin)"
        assert moments.expiry(END_OF_JANUARY, BERLIN) == "Ende des 31. Januar 2031 (Europe/Berlin)"


def test_the_lazy_forms_format_in_the_language_active_when_shown():
    until = moments.until_lazy(END_OF_JANUARY, BERLIN)
    moment = moments.moment_lazy(AFTERNOON, BERLIN)
    with translation.override("de"):
        assert str(until) == "bis zum Ende des 31. Januar 2031 (Europe/Berlin)"
        assert str(moment) == "31. Januar 2031, 14:05 Uhr (Europe/Berlin)"
    with translation.override("en"):
        assert str(until) == "until the end of 31 January 2031 (Europe/Berlin)"


def test_ended_follows_the_end_of_day_rule():
    assert moments.ended(END_OF_JANUARY, BERLIN) == (
        "ended at the end of 31 January 2031 (Europe/Berlin)"
    )
    assert moments.ended(AFTERNOON, BERLIN) == "ended 31 January 2031, 14:05 (Europe/Berlin)"


def test_a_revocation_is_shown_with_its_time_even_at_midnight():
    assert moments.revoked(END_OF_JANUARY, BERLIN) == (
        "revoked on 1 February 2031, 00:00 (Europe/Berlin)"
    )


def test_ended_and_revoked_in_german():
    with translation.override("de"):
        assert moments.ended(END_OF_JANUARY, BERLIN) == (
            "endete mit Ablauf des 31. Januar 2031 (Europe/Berlin)"
        )
        assert moments.revoked(AFTERNOON, BERLIN) == (
            "widerrufen am 31. Januar 2031, 14:05 Uhr (Europe/Berlin)"
        )
