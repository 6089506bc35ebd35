"""The management commands: ``member_access_import`` (and ``member_access_expire`` in
tests/test_expiry.py) print what they did and fail loudly, writing nothing, on bad input."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.factories import GrantFactory
from wagtail_member_access.models import Grant

pytestmark = pytest.mark.django_db


def import_file(tmp_path, content: str | bytes, *args):
    path = tmp_path / "buyers.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    out, err = StringIO(), StringIO()
    call_command("member_access_import", str(path), *args, stdout=out, stderr=err)
    return str(path), out.getvalue(), err.getvalue()


def test_import_prints_the_counts(tmp_path, course):
    GrantFactory(access_list=course, email="old@example.com", name="Old")
    path, out, err = import_file(
        tmp_path,
        "email,name,Order\nold@example.com,Older\nnew@example.com,New\nnew@example.com,New\n",
        "--list",
        "course-a",
    )
    assert out.splitlines() == [
        f"Import of {path} into “Course A”.",
        "new: 1",
        "updated: 1",
        "unchanged: 0",
        "invalid: 0",
        "repeated rows: 1",
        "Columns not read: Order",
        "Done.",
    ]
    assert err == ""
    assert Grant.objects.get(email="old@example.com").name == "Older"


def test_importing_again_changes_nothing(tmp_path, course):
    import_file(tmp_path, "email\nana@example.com\n", "--list", "course-a")
    path, out, _ = import_file(tmp_path, "email\nana@example.com\n", "--list", "course-a")
    assert out.splitlines()[1:4] == ["new: 0", "updated: 0", "unchanged: 1"]
    assert out.splitlines()[-1] == "Nothing to change."


def test_dry_run_writes_nothing(tmp_path, course):
    path, out, _ = import_file(
        tmp_path, "email\nana@example.com\n", "--list", "course-a", "--dry-run"
    )
    assert out.splitlines() == [
        f"Dry run of {path} into “Course A”: nothing was written.",
        "new: 1",
        "updated: 0",
        "unchanged: 0",
        "invalid: 0",
        "repeated rows: 0",
    ]
    assert not Grant.objects.exists()


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_invalid_rows_are_printed_and_the_command_fails(tmp_path, course, dry_run):
    path = tmp_path / "buyers.csv"
    path.write_text("email,expires\nana@example.com,\nbad,\nben@example.com,someday\n")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "member_access_import",
            str(path),
            "--list",
            "course-a",
            *dry_run,
            stdout=out,
            stderr=err,
        )
    assert str(excinfo.value) == "2 invalid rows: nothing was imported. Correct them and try again."
    assert excinfo.value.returncode == 1
    assert "invalid: 2" in out.getvalue().splitlines()
    assert err.getvalue().splitlines() == [
        "Line 3: “bad” is not a valid email address.",
        "Line 4: “someday” in column “expires” is not a valid date: use YYYY-MM-DD, DD.MM.YYYY "
        "or an ISO date and time such as 2026-12-31T18:00, “unlimited”, or leave it empty.",
    ]
    assert not Grant.objects.exists()


def test_an_invalid_file_fails_with_its_message(tmp_path, course):
    with pytest.raises(CommandError, match=r"^The file is empty\.$"):
        import_file(tmp_path, b"", "--list", "course-a")
    with pytest.raises(CommandError, match=r"^Line 2 is not UTF-8 text"):
        import_file(tmp_path, "email\nmü@example.com\n".encode("latin-1"), "--list", "course-a")
    assert not Grant.objects.exists()


def test_an_unknown_list_or_a_missing_file(tmp_path, course):
    with pytest.raises(CommandError, match=r"^There is no access list “nope”\.$"):
        import_file(tmp_path, "email\nana@example.com\n", "--list", "nope")
    with pytest.raises(CommandError, match=r"^Cannot open /nonexistent\.csv: No such file"):
        call_command("member_access_import", "/nonexistent.csv", "--list", "course-a")


def test_the_list_is_required(course):
    with pytest.raises(CommandError, match="--list"):
        call_command("member_access_import", "x.csv")


def test_standard_input(monkeypatch, course):
    import io
    import sys

    stdin = io.TextIOWrapper(io.BytesIO(b"email\nana@example.com\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    call_command("member_access_import", "-", "--list", "course-a", stdout=StringIO())
    assert Grant.objects.filter(email="ana@example.com").exists()
