"""What the package's management commands share (a module whose name starts with "_" is not
a command)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.management.base import BaseCommand


def add_switch(parser, option: str, help_text: str) -> None:
    """An on/off option such as ``--dry-run`` or ``--check``."""
    parser.add_argument(option, action="store_true", help=help_text)


def write_counts(stream, counts: Iterable[tuple[str, object]]) -> None:
    """The summary: one ``label: number`` line each."""
    for label, value in counts:
        stream.write(f"{label}: {value}")


class DryRunCommand(BaseCommand):
    """A command that can show what it would do: ``--dry-run`` (its help in ``dry_run_help``)."""

    dry_run_help = ""

    def add_arguments(self, parser):
        add_switch(parser, "--dry-run", self.dry_run_help)
