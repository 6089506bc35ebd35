"""``manage.py member_access_expire [--dry-run]``: send the due expiry reminders and record
the expiries that have passed, once each (docs/expiry.md). Run it from cron, e.g. hourly::

    17 * * * *  cd /srv/site && ./manage.py member_access_expire --verbosity 0

Exits with status 1 when a reminder could not be sent (it is tried again on the next run), so
that cron reports it.
"""

from __future__ import annotations

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from ... import expiry
from ._common import DryRunCommand, write_counts


class Command(DryRunCommand):
    help = (
        "Send expiry reminders (WAGTAIL_MEMBER_ACCESS_EXPIRY_REMINDER_DAYS) and record expired "
        "grants (audit log, access_expired signal), each once. Safe to run often and in "
        "parallel."
    )
    dry_run_help = "Show what would be sent and recorded, without doing it."

    def handle(self, *args, dry_run: bool, verbosity: int = 1, **options):
        report = expiry.run(dry_run=dry_run)
        if dry_run:
            self.stdout.write(_("Dry run: nothing was sent or recorded."))
        if report.reminder_days is None:
            self.stdout.write(
                _("Reminders are off (WAGTAIL_MEMBER_ACCESS_EXPIRY_REMINDER_DAYS is not set).")
            )
        counts = report.counts()
        if verbosity >= 1 or counts["reminders_failed"]:
            write_counts(
                self.stdout,
                [
                    (
                        _("reminders sent") if not dry_run else _("reminders to send"),
                        counts["reminded"],
                    ),
                    (_("reminders failed"), counts["reminders_failed"]),
                    (
                        _("expiries recorded") if not dry_run else _("expiries to record"),
                        counts["expired"],
                    ),
                ],
            )
        if verbosity >= 2:
            for pk, email, list_name in report.reminded:
                self.stdout.write(
                    _("reminder: %(email)s, “%(list)s” (grant %(pk)s)")
                    % {"email": email, "list": list_name, "pk": pk}
                )
            for pk, email, list_name in report.expired:
                self.stdout.write(
                    _("expired: %(email)s, “%(list)s” (grant %(pk)s)")
                    % {"email": email, "list": list_name, "pk": pk}
                )
        for pk, email, list_name, error in report.failed:
            self.stderr.write(
                _("Reminder not sent: %(email)s, “%(list)s” (grant %(pk)s): %(error)s")
                % {"email": email, "list": list_name, "pk": pk, "error": error}
            )
        if report.failed:
            raise CommandError(
                _("%(count)s reminders could not be sent yet; they are tried again with back-off.")
                % {"count": len(report.failed)}
            )
