"""How long something lasts, in the whole units emails and pages show: one rule each, so
that an email and the page that asked for it never disagree."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.utils import timezone

__all__ = ["days", "hours", "minutes", "seconds_left"]


def minutes(delta: timedelta) -> int:
    """Whole minutes in ``delta`` (rounded down: a code is never promised longer than it
    works)."""
    return int(delta.total_seconds() // 60)


def hours(delta: timedelta) -> int:
    """Whole hours in ``delta``, at least 1 (a link valid 30 minutes reads "1 hour")."""
    return max(1, int(delta.total_seconds() // 3600))


def days(delta: timedelta) -> int:
    """Whole days in ``delta``, at least 1."""
    return max(1, delta.days)


def seconds_left(until: datetime, now: datetime | None = None) -> int:
    """Seconds from ``now`` (default: the current time) until ``until``, rounded up so that a
    wait shown as over is over; 0 once ``until`` has passed."""
    left = until - (now or timezone.now())
    return max(0, math.ceil(left.total_seconds()))
