"""Drip: pages that open some days after a member's access started
(docs/courses-and-teams.md#drip).

A restriction with ``opens_after`` lets a member through when one of their active grants on
its lists started at least that long ago. A grant starts at its ``starts_at``, or when it was
added if it has none (:func:`grant_start`). The start comes back with the grant rows the
access decision loads anyway (:mod:`.rules`), so drip costs no query.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..models import Grant

__all__ = ["grant_start", "opens_at", "to_duration", "to_moment"]


def to_moment(value) -> datetime | None:
    """A date and time read by raw SQL as a model field would give it: SQLite hands back a
    string without a time zone for a computed column, PostgreSQL an aware datetime."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = parse_datetime(str(value))
    if settings.USE_TZ and timezone.is_naive(value):
        value = timezone.make_aware(value, connection.timezone)
    return value


def to_duration(value) -> timedelta | None:
    """A ``DurationField`` read by raw SQL: microseconds on SQLite, an interval on
    PostgreSQL."""
    if value is None or isinstance(value, timedelta):
        return value
    return timedelta(microseconds=int(value))


def grant_start(grant: Grant) -> datetime:
    """When ``grant``'s access started, for drip: its start, or when it was added."""
    return grant.starts_at or grant.created_at


def opens_at(rule, starts: dict[int, datetime]) -> datetime | None:
    """When ``rule`` opens for a member whose active grants started at ``starts`` (list id →
    the earliest start of the member's active grants on that list): the earliest start on one
    of the rule's lists plus its delay. None when the rule has no delay or the member holds
    no grant on its lists."""
    if rule.opens_after is None:
        return None
    held = [starts[list_id] for list_id in rule.list_ids if list_id in starts]
    if not held:
        return None
    return min(held) + rule.opens_after
