"""``manage.py member_access_retry``: send again the code and link emails that are due (a
failed send whose back-off is over, a task that was lost, a worker killed mid-send), and
mark our task rows left RUNNING by a killed worker as failed (``tasks.requeue_due_sends``,
docs/security.md#mail-retries). Run it every minute, from cron or the worker's scheduler;
several hosts may run it at once::

    * * * * *  cd /srv/site && ./manage.py member_access_retry --verbosity 0
"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from ... import tasks
from ._common import write_counts


class Command(BaseCommand):
    help = (
        "Enqueue the code and link emails that are due to be sent again, and mark task rows "
        "left running by a stopped worker as failed."
    )

    def handle(self, *args, verbosity: int = 1, **options):
        counts = tasks.requeue_due_sends()
        if verbosity < 1:
            return
        write_counts(
            self.stdout,
            [
                (_("emails enqueued again"), counts["enqueued"]),
                (_("stale task rows marked failed"), counts["stale_tasks"]),
            ],
        )
