"""What happens around the end of a grant's access period: remind the member before it, and
record it once it has passed.

Access itself ends exactly at ``Grant.expires_at`` without any of this: the access decision
compares the expiry with the time of every request (:mod:`wagtail_member_access.access`).
This module does the bookkeeping that needs a clock to tick, run by ``manage.py
member_access_expire`` from cron or by the ``record_expiries`` django-tasks task:

1. **Reminders** (``WAGTAIL_MEMBER_ACCESS_EXPIRY_REMINDER_DAYS`` days ahead, off by
   default): every active grant that ends within that many days and has no reminder yet gets
   one email. Each grant is first *claimed* with a conditional ``UPDATE … WHERE
   reminder_sent_at IS NULL`` that must touch one row, so two runs that overlap never both
   send it. The email itself goes out through an ``EmailSend`` record keyed by the grant and
   its expiry (``sends.attempt``): if the mail server fails, it is retried with back-off
   (``manage.py member_access_retry``, the ``retry_sends`` task) and never sent twice after
   a success (docs/security.md#mail-retries).
2. **Expiries**: every grant whose ``expires_at`` has passed (and that was not revoked before)
   is recorded once: ``expiry_recorded_at`` set by the same kind of conditional update, a
   ``wagtail_member_access.expire`` audit-log entry, and the ``access_expired`` signal.

A new expiry date (``grants.grant``, ``grants.extend``, an import) clears both marks, so the
new period is reminded and recorded in its turn. Grants are read list by list, in chunks, each
with a range on the ``(access_list, expires_at)`` index. See docs/expiry.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from wagtail.log_actions import log

from . import emails, log_actions, moments, sends, sites
from .conf import app_settings
from .members import mask_email
from .models import AccessList, EmailSend, Grant
from .signals import access_expired

__all__ = ["Report", "run", "send_recorded"]

logger = logging.getLogger("wagtail_member_access")

#: Grants read per query.
CHUNK_SIZE = 500


@dataclass
class Report:
    """What a run did (or, with ``dry_run``, would do)."""

    dry_run: bool
    now: datetime
    #: ``EXPIRY_REMINDER_DAYS`` for this run (None: reminders off).
    reminder_days: int | None
    #: (grant id, masked email, list name) of each reminder sent / expiry recorded.
    reminded: list[tuple[int, str, str]] = field(default_factory=list)
    expired: list[tuple[int, str, str]] = field(default_factory=list)
    #: (grant id, masked email, list name, error) of each reminder that could not be sent; it
    #: is retried with back-off (its ``EmailSend``).
    failed: list[tuple[int, str, str, str]] = field(default_factory=list)
    #: (EmailSend id, ``sends.Attempt``) of each failed reminder: for the task to retry.
    failed_sends: list[tuple[int, sends.Attempt]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "reminded": len(self.reminded),
            "reminders_failed": len(self.failed),
            "expired": len(self.expired),
        }


def run(*, dry_run: bool = False, now: datetime | None = None) -> Report:
    """Send the due expiry reminders, then record the expiries that have passed.

    With ``dry_run`` nothing is claimed, sent, logged or signalled; the report lists what
    would be. A failed reminder does not stop the run: it is in ``report.failed`` and logged,
    and stays due.
    """
    now = now or timezone.now()
    days = app_settings.EXPIRY_REMINDER_DAYS
    report = Report(dry_run=dry_run, now=now, reminder_days=days)
    for access_list in AccessList.objects.order_by("pk"):
        if days is not None:
            _remind(access_list, now, now + timedelta(days=days), report)
        _record_expiries(access_list, now, report)
    counts = report.counts()
    if any(counts.values()):
        logger.info(
            "Expiry run%s: %s reminders sent, %s failed, %s expiries recorded.",
            " (dry run)" if dry_run else "",
            counts["reminded"],
            counts["reminders_failed"],
            counts["expired"],
        )
    return report


def _chunks(queryset):
    """The grants of ``queryset`` in primary-key order, ``CHUNK_SIZE`` per query (keyset
    pagination: no offset, no server-side cursor held open while emails are sent)."""
    last = 0
    while True:
        chunk = list(queryset.filter(pk__gt=last).order_by("pk")[:CHUNK_SIZE])
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].pk


def _entry(grant: Grant) -> tuple[int, str, str]:
    return (grant.pk, mask_email(grant.email), grant.access_list.name)


# --- reminders -------------------------------------------------------------------------------


def _claim(grant: Grant, field: str, now: datetime) -> bool:
    """Stamp ``field`` (still empty) on ``grant`` with ``now`` unless the grant changed
    meanwhile (new expiry, revoked). The claim: of two overlapping runs, exactly one updates
    the row and gets True."""
    unchanged = Grant.objects.filter(
        pk=grant.pk,
        expires_at=grant.expires_at,
        revoked_at__isnull=True,
        **{f"{field}__isnull": True},
    )
    return unchanged.update(**{field: now}) == 1


def _remind(access_list: AccessList, now: datetime, until: datetime, report: Report) -> None:
    due = (
        Grant.objects.active(now)
        .filter(
            access_list=access_list,
            expires_at__gt=now,
            expires_at__lte=until,
            reminder_sent_at__isnull=True,
        )
        .exclude(email__startswith="@")
    )  # a domain grant has no address to remind
    context = None  # the list's part of the email, built once per list
    for grant in _chunks(due.select_related("access_list")):
        if report.dry_run:
            report.reminded.append(_entry(grant))
            continue
        if not _claim(grant, "reminder_sent_at", now):
            continue
        if context is None:
            context = _list_context(access_list)
        send = sends.record(
            EmailSend.Kind.EXPIRY_REMINDER, _reminder_key(grant), grant.email, grant=grant
        )
        attempt = sends.attempt(send.pk, partial(_reminder_of, grant, context))
        if attempt is None:  # sent or on its way already (a run before this one)
            continue
        if attempt.failed:
            report.failed.append((*_entry(grant), attempt.error[:500]))
            report.failed_sends.append((send.pk, attempt))
            logger.error(
                "Could not send the expiry reminder to %s (%s); it is tried again with back-off.",
                mask_email(grant.email),
                attempt.error.partition(":")[0],
            )
            continue
        grant.reminder_sent_at = now
        report.reminded.append(_entry(grant))


def _reminder_key(grant: Grant) -> str:
    """One reminder per grant and expiry date (a new date is reminded in its turn)."""
    return f"expiry_reminder:{grant.pk}:{grant.expires_at.isoformat()}"


def _reminder_of(grant: Grant, context: dict, send: EmailSend) -> str:
    return _send_reminder(grant, context)


def _send_reminder(grant: Grant, context: dict) -> str:
    """Send ``grant``'s reminder with its list's ``context``: ``""`` when sent (and written to
    the grant's history), else the mail server's error (for ``sends.attempt``)."""
    delivery = emails.deliver(
        "expiry_reminder",
        grant.email,
        context | _grant_context(grant),
        # A grant has no language of its own: the site's.
        language=settings.LANGUAGE_CODE,
        about=grant,
    )
    if not delivery:
        return delivery.error
    log(instance=grant, action=log_actions.REMIND, data=_log_data(grant, grant.access_list))
    return ""


def send_recorded(send: EmailSend) -> str:
    """Send the reminder of ``send`` again (a retry, for ``sends.attempt``), unless the grant
    changed meanwhile: revoked, a new expiry, or the expiry passed (``sends.NotSending``)."""
    grant = send.grant
    now = timezone.now()
    if grant is None or grant.revoked_at is not None or grant.expires_at is None:
        raise sends.NotSending("the grant was revoked or has no expiry any more")
    if send.key != _reminder_key(grant) or grant.expires_at <= now:
        raise sends.NotSending("the grant's expiry changed or has passed")
    return _send_reminder(grant, _list_context(grant.access_list))


def _list_context(access_list: AccessList) -> dict:
    """The pages the list opens (title and address) and the site's name: plain strings."""
    pages = []
    site = None
    for restriction in access_list.restrictions.select_related("page").order_by("pk"):
        page = restriction.page.specific
        if not page.live:
            continue
        site = site or page.get_site()
        pages.append({"title": page.title, "url": page.get_full_url() or ""})
    return {
        "list_name": access_list.name,
        "pages": pages,
        "site_name": sites.site_name(site or sites.default_site()),
    }


def _log_data(grant: Grant, access_list: AccessList) -> dict:
    """What the reminder's and the expiry's audit-log entries record about the grant."""
    return {
        "email": grant.email,
        "list": access_list.name,
        "list_id": access_list.pk,
        "expires_at": grant.expires_at.isoformat(),
    }


def _grant_context(grant: Grant) -> dict:
    return {
        "name": grant.name,
        "email": grant.email,
        # Formatted in the email's language, in the site's time zone (docs/expiry.md#shown).
        "expires": moments.until_lazy(grant.expires_at, timezone.get_default_timezone()),
    }


# --- expiries --------------------------------------------------------------------------------


def _record_expiries(access_list: AccessList, now: datetime, report: Report) -> None:
    passed = Grant.objects.filter(
        access_list=access_list,
        expires_at__lte=now,
        expiry_recorded_at__isnull=True,
        # A grant revoked before its expiry ended then; its expiry is no event.
        revoked_at__isnull=True,
    )
    for grant in _chunks(passed.select_related("access_list")):
        if report.dry_run:
            report.expired.append(_entry(grant))
            continue
        with transaction.atomic():
            if not _claim(grant, "expiry_recorded_at", now):
                continue  # another run recorded it, or the grant changed meanwhile
            grant.expiry_recorded_at = now
            log(instance=grant, action=log_actions.EXPIRE, data=_log_data(grant, access_list))
            transaction.on_commit(
                lambda grant=grant: access_expired.send(sender=Grant, grant=grant)
            )
        report.expired.append(_entry(grant))
