"""The dry run's table: what the import does with each row of one page of the file, and how
each of its dates was read (docs/import.md#dry-run). Dates are shown by the rules of
:mod:`wagtail_member_access.moments`, in the import's time zone: an expiry date is the end of
that day ("end of 31 December 2031 (Europe/Berlin)")."""

from __future__ import annotations

from datetime import tzinfo

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .. import moments
from ..grants import UNSET, default_expiry
from ..models import AccessList
from .dates import date_parser
from .results import ImportResult, RowPreview
from .rows import _date_cell, _shown

__all__ = ["describe"]

_DATE_FIELDS = ("starts_at", "expires_at")


def _labels() -> dict[str, str]:
    # A context of their own: in the dry run these say what the import will do (German
    # "Wird hinzugefügt"), while the same English words elsewhere say what was done.
    return {
        "new": pgettext("import dry run", "Added"),
        "extended": pgettext("import dry run", "Extended"),
        "shortened": pgettext("import dry run", "Shortened"),
        "updated": pgettext("import dry run", "Updated"),
        "restored": pgettext("import dry run", "Restored (was revoked)"),
        "unchanged": pgettext("import dry run", "Unchanged"),
        "duplicate": pgettext("import dry run", "Counted once"),
        "invalid": pgettext("import dry run", "Error"),
    }


def _field_names() -> dict[str, str]:
    return {
        "name": _("name"),
        "starts_at": _("start"),
        "expires_at": _("expiry"),
        "note": _("note"),
    }


def describe(
    result: ImportResult,
    seen: list,
    firsts: dict[str, int],
    outcomes: dict,
    tz: tzinfo,
) -> list[RowPreview]:
    """One :class:`RowPreview` per row of ``seen`` (``(line, cells, values)`` from
    :func:`~.rows.read`). ``firsts`` maps each valid email to the line it was kept from,
    ``outcomes`` to what :func:`~wagtail_member_access.grants.import_grants` found for it."""
    errors = {error.line: error.message for error in result.errors}
    labels = _labels()
    parse = date_parser(tz)
    previews = []
    for line, cells, values in seen:
        outcome, details, before = "invalid", errors.get(line, ""), None
        email = _shown(cells.get("email", ""))
        if values is not None and line not in errors:
            email = values[0]
            if firsts.get(email) != line:
                outcome = "duplicate"
                details = _("The same as line %(line)s.") % {"line": firsts.get(email)}
            else:
                kind, before, after = outcomes[email]
                outcome, details = _change(kind, before, after)
        preview = RowPreview(line, email, outcome, labels[outcome], details)
        for name in _DATE_FIELDS:
            if name in cells:
                reading = _reading(name, cells, result.access_list, outcome, before, parse, tz)
                preview.dates.append((result.columns[name], cells[name], reading))
        previews.append(preview)
    return previews


def _change(kind: str, before: dict | None, after: dict) -> tuple[str, str]:
    """The outcome of a valid row and what it changes."""
    if kind != "updated":
        return kind, ""
    old, new = before["expires_at"], after["expires_at"]
    outcome = "updated"
    if new != old:
        later = new is None or (old is not None and new > old)
        outcome = "extended" if later else "shortened"
    names = _field_names()
    changed = [names[f] for f in names if f in after and after[f] != before.get(f)]
    details = _("Changes: %(fields)s.") % {"fields": ", ".join(changed)} if changed else ""
    return outcome, details


def _reading(name, cells, access_list: AccessList, outcome, before, parse, tz) -> str:
    """How the date cell ``name`` of a row was read."""
    error, value = _date_cell(name, cells[name], "", parse)
    if error:
        return _("not a date")
    if name == "starts_at":
        if value is None:
            return _("none: access from now on")
        return moments.moment(value, tz)
    if value is UNSET:  # an empty expiry
        if before is not None:
            return _("empty: keeps %(end)s") % {
                "end": moments.expiry(before["expires_at"], tz, empty=_("unlimited"))
            }
        starts = None
        if "starts_at" in cells:
            starts = _date_cell("starts_at", cells["starts_at"], "", parse)[1]
        end = default_expiry(access_list, starts)
        return _("empty: the list's default, %(end)s") % {
            "end": moments.expiry(end, tz, empty=_("unlimited"))
        }
    if value is None:
        return _("unlimited")
    return moments.expiry(value, tz)
