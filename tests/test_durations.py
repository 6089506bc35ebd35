"""Durations in emails and pages (``durations.py``): whole units, one rule each."""

from __future__ import annotations

from datetime import timedelta

from wagtail_member_access import durations


def test_minutes_hours_days_round_down_with_a_floor_of_one_hour_and_day():
    assert durations.minutes(timedelta(minutes=10, seconds=59)) == 10
    assert durations.hours(timedelta(hours=24)) == 24
    assert durations.hours(timedelta(minutes=30)) == 1
    assert durations.days(timedelta(days=7, hours=23)) == 7
    assert durations.days(timedelta(hours=5)) == 1


def test_seconds_left_rounds_up_and_stops_at_zero(clock):
    assert durations.seconds_left(clock.now + timedelta(seconds=59, microseconds=1)) == 60
    assert durations.seconds_left(clock.now + timedelta(seconds=59)) == 59
    assert durations.seconds_left(clock.now - timedelta(seconds=5)) == 0
