"""``manage.py member_access_cleanup [--dry-run]``: delete old code and link requests and
lapsed failure counters (see ``wagtail_member_access.cleanup``). Run it from cron, e.g.
daily::

    42 3 * * *  cd /srv/site && ./manage.py member_access_cleanup --verbosity 0
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from ... import cleanup
from ._common import DryRunCommand, write_counts


class Command(DryRunCommand):
    help = (
        "Delete code and link requests older than WAGTAIL_MEMBER_ACCESS_CLEANUP_AFTER that "
        "can no longer be used, and per-address failure counters whose back-off has ended. "
        "Grants and the audit log are kept."
    )
    dry_run_help = "Count what would be deleted, delete nothing."

    def handle(self, *args, dry_run: bool, verbosity: int = 1, **options):
        report = cleanup.run(dry_run=dry_run)
        if verbosity < 1:
            return
        if dry_run:
            self.stdout.write(_("Dry run: nothing was deleted."))
        counts = [
            (
                _("code and link requests to delete")
                if dry_run
                else _("code and link requests deleted"),
                report.challenges,
            ),
            (
                _("email send records to delete") if dry_run else _("email send records deleted"),
                report.sends,
            ),
            (
                _("failure counters to delete") if dry_run else _("failure counters deleted"),
                report.throttles,
            ),
        ]
        if not dry_run:
            counts.append((_("finished task rows deleted"), report.task_rows))
        write_counts(self.stdout, counts)
