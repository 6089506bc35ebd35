"""``manage.py member_access_import FILE --list SLUG [--dry-run]``: import grants from a CSV
file into one access list, all or nothing (docs/import.md).

Prints the counts (new, updated, unchanged, invalid) and every invalid row with its line and
reason. Exits with status 1, having written nothing, when the file or any row is invalid, so
that a script or a cron job notices.
"""

from __future__ import annotations

import sys

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from ...imports import InvalidFile, import_csv
from ...models import AccessList
from ._common import DryRunCommand, write_counts


class Command(DryRunCommand):
    help = (
        "Import grants from a CSV file (columns email, name, starts, expires, note) into an "
        "access list. All or nothing; importing the same file again changes nothing."
    )
    dry_run_help = "Check the file and show what would change, without writing anything."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV file, UTF-8; '-' reads standard input.")
        parser.add_argument(
            "--list", dest="list_slug", required=True, help="The slug of the access list."
        )
        super().add_arguments(parser)

    def handle(self, *args, file: str, list_slug: str, dry_run: bool, **options):
        access_list = AccessList.objects.filter(slug=list_slug).first()
        if access_list is None:
            raise CommandError(_("There is no access list “%(slug)s”.") % {"slug": list_slug})
        try:
            stream = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
        except OSError as error:
            raise CommandError(
                _("Cannot open %(file)s: %(error)s") % {"file": file, "error": error.strerror}
            ) from None
        try:
            result = import_csv(stream, access_list, dry_run=dry_run)
        except InvalidFile as error:
            raise CommandError(error.message) from None
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()

        heading = (
            _("Dry run of %(file)s into “%(list)s”: nothing was written.")
            if dry_run
            else _("Import of %(file)s into “%(list)s”.")
        )
        self.stdout.write(heading % {"file": file, "list": access_list.name})
        write_counts(
            self.stdout,
            [
                (_("new"), result.new),
                (_("updated"), result.updated),
                (_("unchanged"), result.unchanged),
                (_("invalid"), result.invalid),
                (_("repeated rows"), result.duplicates),
            ],
        )
        if result.ignored_columns:
            self.stdout.write(
                _("Columns not read: %(columns)s") % {"columns": ", ".join(result.ignored_columns)}
            )
        for error in result.errors:
            self.stderr.write(str(error))
        if not result.ok:
            raise CommandError(
                _("%(count)s invalid rows: nothing was imported. Correct them and try again.")
                % {"count": result.invalid}
            )
        if not dry_run:
            self.stdout.write(
                self.style.SUCCESS(_("Done.") if result.written else _("Nothing to change."))
            )
