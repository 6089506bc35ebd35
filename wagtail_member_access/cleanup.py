"""Delete what the package no longer needs: old code and link requests, and per-address
failure counters whose back-off has ended (``manage.py member_access_cleanup``, or the
``clean_up`` task). Like Django's ``clearsessions``, run it from cron, e.g. daily.

A code or link request (``EmailChallenge``: the address typed, the page, times, wrong tries,
a mail error) is deleted once it is older than ``CLEANUP_AFTER`` (30 days) *and* neither its
code nor its link can be used any more; a long-lived invitation link is kept until it has
expired. A failure counter (``EmailThrottle``) is deleted once its last failure is older than
``CLEANUP_AFTER`` *and* its back-off has ended, so the clean-up never lifts a lockout early.
The record of an email without a code (``EmailSend``: the access email, a bulk email's
recipient, a reminder) is deleted once it is older than ``CLEANUP_AFTER``: by then it was
sent or given up long ago (retries stop after ``sends.RETRY_WINDOW``, one day).
Grants and audit-log entries are never touched: they are the record of who was given access.
With django-tasks-db installed, our finished task rows older than ``TASK_RESULTS_KEEP`` are
deleted too (``worker_rows.prune``). Every deletion is safe to run on several hosts at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from . import worker_rows
from .conf import app_settings
from .models import EmailChallenge, EmailSend, EmailThrottle

__all__ = ["Report", "run"]

BATCH = 1000


@dataclass
class Report:
    challenges: int = 0
    sends: int = 0
    throttles: int = 0
    task_rows: int = 0
    dry_run: bool = False


def _old_challenges(now):
    cutoff = now - app_settings.CLEANUP_AFTER
    return EmailChallenge.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__lt=now),
        Q(link_expires_at__isnull=True) | Q(link_expires_at__lt=now),
        created_at__lt=cutoff,
    )


def _old_throttles(now):
    """Counters whose last failure is before the cut-off, or that have none."""
    cutoff = now - app_settings.CLEANUP_AFTER
    return EmailThrottle.objects.filter(
        Q(throttling_failure_timestamp__isnull=True) | Q(throttling_failure_timestamp__lt=cutoff)
    )


def _lapsed_throttles(now):
    """The counters to delete: old (``_old_throttles``) and no back-off left. django-otp's
    own check decides the back-off (``verify_is_allowed``)."""
    for throttle in _old_throttles(now).order_by("pk").iterator(chunk_size=BATCH):
        if throttle.verify_is_allowed()[0]:
            yield throttle.pk


def _delete(rows, dry_run: bool) -> int:
    """Delete ``rows`` (or, with ``dry_run``, count them); in batches: a first run on a big
    table must not hold one long lock."""
    if dry_run:
        return rows.count()
    deleted = 0
    while ids := list(rows.values_list("pk", flat=True)[:BATCH]):
        deleted += rows.filter(pk__in=ids).delete()[0]
    return deleted


def run(*, dry_run: bool = False) -> Report:
    """Delete (or, with ``dry_run``, count) the old requests and lapsed counters."""
    now = timezone.now()
    report = Report(dry_run=dry_run)
    report.challenges = _delete(_old_challenges(now), dry_run)
    cutoff = now - app_settings.CLEANUP_AFTER
    report.sends = _delete(EmailSend.objects.filter(created_at__lt=cutoff), dry_run)
    throttles = list(_lapsed_throttles(now))
    if dry_run:
        report.throttles = len(throttles)
    else:
        for start in range(0, len(throttles), BATCH):
            # The age is checked again as the rows are deleted: a failure recorded since
            # they were read (a back-off starting) keeps its counter.
            batch = throttles[start : start + BATCH]
            report.throttles += _old_throttles(now).filter(pk__in=batch).delete()[0]
    if not dry_run:
        report.task_rows = worker_rows.prune(now)
    return report
