"""``manage.py member_access_sync [--check]``: make Wagtail's privacy rows for member-protected
pages match the restrictions (see ``wagtail_member_access.mirror``). Every write path of the
package and of Wagtail keeps them in sync; run this after writing pages or restrictions with
raw SQL, fixtures or ``QuerySet.update()``, and ``--check`` in CI or cron to be told::

    17 * * * *  cd /srv/site && ./manage.py member_access_sync --check --verbosity 0
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from ... import mirror
from ._common import add_switch


class Command(BaseCommand):
    help = (
        "Make Wagtail's privacy rows for member-protected pages match the restrictions, so "
        "that the sitemap, .public() and the APIs leave those pages out."
    )

    def add_arguments(self, parser):
        add_switch(
            parser, "--check", "Change nothing; exit with status 1 if any row is missing or stray."
        )

    def handle(self, *args, check: bool, verbosity: int = 1, **options):
        if check:
            missing, stray = mirror.drift()
            if missing or stray:
                raise CommandError(
                    _(
                        "Member access is out of sync with Wagtail's privacy: %(missing)s "
                        "pages without their row (ids %(missing_ids)s), %(stray)s stray rows "
                        "(page ids %(stray_ids)s). Run manage.py member_access_sync."
                    )
                    % {
                        "missing": len(missing),
                        "missing_ids": ", ".join(map(str, sorted(missing))) or "-",
                        "stray": len(stray),
                        "stray_ids": ", ".join(map(str, sorted(stray))) or "-",
                    },
                    returncode=1,
                )
            if verbosity >= 1:
                self.stdout.write(_("Member access and Wagtail's privacy are in sync."))
            return
        created, deleted = mirror.sync()
        if verbosity >= 1:
            self.stdout.write(
                _("Rows created: %(created)s, rows deleted: %(deleted)s.")
                % {"created": created, "deleted": deleted}
            )
