"""CSV import (imports/): every bad file or row is reported with its
line and exact reason and changes nothing; a good file is imported all or nothing and
importing it again changes nothing."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from wagtail.models import ModelLogEntry

from tests.factories import GrantFactory, UserFactory
from wagtail_member_access.imports import InvalidFile, RowError, import_csv
from wagtail_member_access.models import Grant

pytestmark = pytest.mark.django_db

HEADER = "email,name,starts,expires,note\n"


def run(data: str | bytes, access_list, **kwargs):
    if isinstance(data, str):
        data = data.encode()
    return import_csv(io.BytesIO(data), access_list, **kwargs)


def state() -> list[tuple]:
    """Everything an import may change, to compare before and after."""
    return list(
        Grant.objects.order_by("pk").values_list(
            "pk",
            "access_list_id",
            "email",
            "name",
            "starts_at",
            "expires_at",
            "revoked_at",
            "note",
            "source",
            "updated_at",
            "reminder_sent_at",
            "expiry_recorded_at",
        )
    ) + [ModelLogEntry.objects.count()]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def grant_of(email: str, access_list) -> Grant:
    return Grant.objects.get(email=email, access_list=access_list)


# --- a good file ---------------------------------------------------------------------------------


def test_a_file_is_imported_with_every_column(course):
    admin = UserFactory(username="editor")
    result = run(
        HEADER + "Ana@Example.com,Ana Lima,2026-01-01,2026-12-31,VIP\nben@example.com,Ben,,,\n",
        course,
        added_by=admin,
    )
    assert (result.new, result.updated, result.unchanged, result.invalid) == (2, 0, 0, 0)
    assert result.rows == 2 and result.written and result.ok
    assert result.summary() == "2 new, 0 updated, 0 unchanged, 0 invalid"
    ana = grant_of("ana@example.com", course)
    assert (ana.name, ana.note, ana.source, ana.added_by) == ("Ana Lima", "VIP", "import", admin)
    # A date is a whole day in TIME_ZONE: from its first moment, until the next day begins.
    assert ana.starts_at == utc(2026, 1, 1)
    assert ana.expires_at == utc(2027, 1, 1)
    ben = grant_of("ben@example.com", course)
    assert (ben.starts_at, ben.expires_at, ben.name, ben.note) == (None, None, "Ben", "")


def test_dates_are_days_in_the_site_time_zone(settings, course):
    settings.TIME_ZONE = "Europe/Berlin"
    run(HEADER + "ana@example.com,,2026-07-01,2026-07-31,\n", course)
    ana = grant_of("ana@example.com", course)
    assert ana.starts_at == utc(2026, 6, 30, 22)  # midnight in Berlin (summer time)
    assert ana.expires_at == utc(2026, 7, 31, 22)


def test_iso_date_times_are_exact(course):
    run(HEADER + "ana@example.com,,2026-01-01T08:30,2026-01-31T18:00:00+01:00,\n", course)
    ana = grant_of("ana@example.com", course)
    assert (ana.starts_at, ana.expires_at) == (utc(2026, 1, 1, 8, 30), utc(2026, 1, 31, 17))


def test_semicolons_german_headers_german_dates_and_a_bom(course):
    data = (
        "\ufeffE-Mail;Name;Gültig ab;Gültig bis;Bemerkung\r\n"
        "juergen@example.de;Jürgen Müller;01.02.2026;31.12.2026;Bestellung 17\r\n"
        "eva@example.de;Eva;;unbegrenzt;\r\n"
    ).encode()
    assert data.startswith(b"\xef\xbb\xbf")
    result = run(data, course)
    assert result.ok and result.new == 2
    assert result.columns == {
        "email": "E-Mail",
        "name": "Name",
        "starts_at": "Gültig ab",
        "expires_at": "Gültig bis",
        "note": "Bemerkung",
    }
    grant = grant_of("juergen@example.de", course)
    assert (grant.name, grant.note) == ("Jürgen Müller", "Bestellung 17")
    assert (grant.starts_at, grant.expires_at) == (utc(2026, 2, 1), utc(2027, 1, 1))
    assert grant_of("eva@example.de", course).expires_at is None


@pytest.mark.parametrize(
    "header",
    [
        "EMAIL,NAME",
        "e_mail,Full Name",
        "Email Address,name",
        "E-Mail-Adresse,Name",
        "mail,name",
    ],
)
def test_header_spellings(course, header):
    result = run(f"{header}\nana@example.com,Ana\n", course)
    assert result.ok and result.new == 1
    assert grant_of("ana@example.com", course).name == "Ana"


def test_unknown_columns_are_ignored_and_reported(course):
    result = run("Order,email,Total\n1001,ana@example.com,49.00\n", course)
    assert result.ok and result.new == 1
    assert result.ignored_columns == ["Order", "Total"]


def test_columns_in_any_order_and_only_email_required(course):
    result = run("note,email\nfrom the fair,ana@example.com\n", course)
    assert result.ok
    assert grant_of("ana@example.com", course).note == "from the fair"


def test_quoted_cells_with_delimiters_and_line_breaks(course):
    result = run(
        'email,name,note\nana@example.com,"Lima, Ana","first line\nsecond line"\n'
        "ben@example.com,Ben,\n",
        course,
    )
    assert result.ok and result.new == 2
    ana = grant_of("ana@example.com", course)
    assert (ana.name, ana.note) == ("Lima, Ana", "first line\nsecond line")


def test_blank_lines_are_skipped_and_lines_counted(course):
    result = run("\n\nemail\n\nana@example.com\n,\nnot-an-email\n", course)
    assert result.rows == 2
    assert result.errors == [RowError(7, "“not-an-email” is not a valid email address.")]


def test_a_header_only_file_imports_nothing(course):
    result = run(HEADER, course)
    assert (result.rows, result.new, result.written, result.ok) == (0, 0, False, True)


# --- invalid rows: every one reported, nothing written -------------------------------------------


@pytest.mark.parametrize(
    "rows, errors",
    [
        (
            "not-an-email,Ana,,,\n",
            ["Line 2: “not-an-email” is not a valid email address."],
        ),
        (
            "ana@example.com;ben@example.com,Ana,,,\n",
            ["Line 2: “ana@example.com;ben@example.com” is not a valid email address."],
        ),
        (",Ana,,,\n", ["Line 2: The email address is missing."]),
        (
            "ana@example.com,Ana,2026-02-30,,\n",
            [
                "Line 2: “2026-02-30” in column “starts” is not a valid date: use YYYY-MM-DD, "
                "DD.MM.YYYY or an ISO date and time such as 2026-12-31T18:00."
            ],
        ),
        (
            "ana@example.com,Ana,,12/31/2026,\n",
            [
                "Line 2: “12/31/2026” in column “expires” is not a valid date: use YYYY-MM-DD, "
                "DD.MM.YYYY or an ISO date and time such as 2026-12-31T18:00, “unlimited”, or "
                "leave it empty."
            ],
        ),
        (
            "ana@example.com,Ana,2026-12-31,2026-01-01,\n",
            [
                "Line 2: The access would end (2026-01-01) before it starts (2026-12-31): "
                "“expires” must be after “starts”."
            ],
        ),
        (
            "ana@example.com,Ana,2026-01-01T10:00,2026-01-01T10:00,\n",
            [
                "Line 2: The access would end (2026-01-01T10:00) before it starts "
                "(2026-01-01T10:00): “expires” must be after “starts”."
            ],
        ),
        (
            "ana@example.com,Ana,,,\nbob@example.com,Bob,,,\nana@example.com,Anna,,,\n",
            [
                "Line 4: ana@example.com is also on line 2, with different data; keep one of "
                "the two rows."
            ],
        ),
        (
            "ana@example.com,Ana,,,,surplus\n",
            ["Line 2: The row has 6 cells, but the first line names 5."],
        ),
        (
            'ana@example.com,"Ana\nLima",,,\n',
            ["Line 2: The name contains a line break or another control character."],
        ),
        (
            "ana@example.com," + "x" * 256 + ",,,\n",
            ["Line 2: The name is longer than 255 characters."],
        ),
        (
            # Every invalid row is reported, not only the first.
            "bad,,,,\nana@example.com,,,,\nalso bad,,,,\nben@example.com,,soon,,\n",
            [
                "Line 2: “bad” is not a valid email address.",
                "Line 4: “also bad” is not a valid email address.",
                "Line 5: “soon” in column “starts” is not a valid date: use YYYY-MM-DD, "
                "DD.MM.YYYY or an ISO date and time such as 2026-12-31T18:00.",
            ],
        ),
    ],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_invalid_rows_are_reported_and_nothing_is_written(course, rows, errors, dry_run):
    GrantFactory(access_list=course, email="ana@example.com", name="Before")
    before = state()
    result = run(HEADER + rows, course, dry_run=dry_run)
    assert [str(e) for e in result.errors] == errors
    assert result.invalid == len(errors)
    assert not result.ok and not result.written
    assert state() == before


@pytest.mark.parametrize(
    ("existing", "data", "starts", "expires"),
    [
        # A new start after the expiry the grant keeps (empty "expires" cell, or no column).
        (
            {"expires_at": utc(2026, 6, 1)},
            "email,starts,expires\nana@example.com,2027-01-01,\n",
            "2027-01-01",
            "2026-05-31",
        ),
        (
            {"expires_at": utc(2026, 6, 1)},
            "email,starts\nana@example.com,2027-01-01\n",
            "2027-01-01",
            "2026-05-31",
        ),
        # A new expiry before the start the grant keeps.
        (
            {"starts_at": utc(2027, 3, 1), "expires_at": None},
            "email,expires\nana@example.com,2027-01-31\n",
            "2027-03-01",
            "2027-01-31",
        ),
    ],
    ids=["empty expiry cell", "no expiry column", "no starts column"],
)
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry run", "import"])
def test_a_row_that_would_end_an_existing_grant_before_it_starts_is_invalid(
    course, clock, existing, data, starts, expires, dry_run
):
    GrantFactory(access_list=course, email="ana@example.com", **existing)
    GrantFactory(access_list=course, email="bo@example.com")
    before = state()
    result = run(data, course, dry_run=dry_run)
    assert [str(e) for e in result.errors] == [
        f"Line 2: ana@example.com already has a grant on this list, and with this row the "
        f"access would end ({expires}) before it starts ({starts}). Give the row both a start "
        f"and a later expiry, or change the grant in the admin."
    ]
    assert (result.new, result.updated, result.unchanged, result.invalid) == (0, 0, 0, 1)
    assert not result.written
    assert state() == before


def test_the_conflicting_row_stops_the_whole_import(course, clock):
    GrantFactory(access_list=course, email="ana@example.com", expires_at=utc(2026, 6, 1))
    before = state()
    result = run("email,starts\nnew@example.com,2027-01-01\nana@example.com,2027-01-01\n", course)
    assert [e.line for e in result.errors] == [3]
    assert (result.new, result.invalid, result.written) == (1, 1, False)
    assert state() == before
    # Both a start and a later expiry on the row: accepted.
    result = run(
        "email,starts,expires\nnew@example.com,2027-01-01,\nana@example.com,2027-01-01,2027-12-31\n",
        course,
    )
    assert result.ok and result.written
    grant = grant_of("ana@example.com", course)
    assert (grant.starts_at, grant.expires_at) == (
        utc(2027, 1, 1),
        utc(2028, 1, 1),
    )


def test_the_valid_rows_of_a_refused_file_are_still_counted(course):
    GrantFactory(access_list=course, email="ana@example.com", name="Ana")
    result = run(HEADER + "ana@example.com,Ana,,,\nben@example.com,Ben,,,\nbad,,,,\n", course)
    assert (result.new, result.unchanged, result.invalid, result.written) == (1, 1, 1, False)
    assert not Grant.objects.filter(email="ben@example.com").exists()


def test_a_nul_character_after_the_first_block_is_reported_by_row(course):
    # A NUL in the first 64 KiB refuses the file as not text (below); later ones by row.
    filler = "".join(f"m{i}@example.com,M,,,\n" for i in range(4000))
    result = run(HEADER + filler + "ana@example.com,Ana\x00,,,\n", course)
    assert [str(e) for e in result.errors] == [
        "Line 4002: The column “name” contains a NUL character."
    ]
    assert not Grant.objects.exists()


def test_stray_quotes_are_malformed_csv(course):
    with pytest.raises(InvalidFile) as excinfo:
        run('email,name\nana@example.com,"Ana" Lima\n', course)
    assert str(excinfo.value) == (
        "Line 2 cannot be read as CSV (',' expected after '\"'). Nothing was imported."
    )


def test_identical_repeated_rows_are_imported_once(course):
    result = run(HEADER + "ana@example.com,Ana,,,\nANA@example.com , Ana ,,,\n", course)
    assert result.ok
    assert (result.rows, result.new, result.duplicates) == (2, 1, 1)
    assert Grant.objects.filter(access_list=course).count() == 1


def test_messages_quote_long_or_multi_line_values_shortly(course):
    result = run('email\n"' + "x" * 200 + '\nnot an email"\n', course)
    (error,) = result.errors
    assert error.line == 2
    assert error.message == "“" + "x" * 79 + "…” is not a valid email address."


# --- invalid files: one clear message, nothing written --------------------------------------------


@pytest.mark.parametrize(
    "data, message, line",
    [
        (b"", "The file is empty.", None),
        (b"\n\r\n  \n", "The file is empty.", None),
        (
            "email,name\nana@example.com,Ana\nbjörn@example.com,Björn Müller\n".encode("latin-1"),
            "Line 3 is not UTF-8 text; the file was probably saved in another encoding. Save "
            "it as “CSV UTF-8” and import it again. Nothing was imported.",
            3,
        ),
        (
            "email,name\nana@example.com,Ana\n".encode("utf-16"),  # with a byte order mark
            "The file is UTF-16 text. Save it as “CSV UTF-8” and import it again.",
            1,
        ),
        (
            "email,name\nana@example.com,Ana\n".encode("utf-16-le"),  # without one
            "The file is not CSV text (it contains NUL bytes): it is UTF-16 text or a "
            "spreadsheet file. Save it as “CSV UTF-8” and import it again.",
            1,
        ),
        (
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00",  # an .xlsx (a zip file)
            "The file is not CSV text (it contains NUL bytes): it is UTF-16 text or a "
            "spreadsheet file. Save it as “CSV UTF-8” and import it again.",
            1,
        ),
        (
            b"name,note\nAna,x\n",
            "The file has no email column. Its first line must name the columns, for example: "
            "email,name,starts,expires,note (found: name, note).",
            1,
        ),
        (
            b"ana@example.com,Ana\n",
            "The file has no email column. Its first line must name the columns, for example: "
            "email,name,starts,expires,note (found: ana@example.com, Ana).",
            1,
        ),
        (
            b"email,E-Mail\na@example.com,a@example.com\n",
            "The columns “email” and “E-Mail” are the same column; keep one.",
            1,
        ),
        (
            b'email,name\nana@example.com,"Ana\n',
            "Line 2 cannot be read as CSV (unexpected end of data). Nothing was imported.",
            2,
        ),
    ],
)
def test_invalid_files_are_refused_whole(course, data, message, line):
    GrantFactory(access_list=course, email="ana@example.com", name="Before")
    before = state()
    with pytest.raises(InvalidFile) as excinfo:
        run(data, course)
    assert str(excinfo.value) == message
    assert excinfo.value.line == line
    assert state() == before


def test_a_file_over_the_row_limit_is_refused_before_the_rest_is_read(settings, course):
    settings.WAGTAIL_MEMBER_ACCESS_IMPORT_MAX_ROWS = 3
    before = state()
    run("email\n" + "".join(f"m{i}@example.com\n" for i in range(3)), course, dry_run=True)
    with pytest.raises(InvalidFile) as excinfo:
        run("email\n" + "".join(f"m{i}@example.com\n" for i in range(4)), course)
    assert str(excinfo.value) == (
        "The file has more than 3 rows, the most one import takes "
        "(WAGTAIL_MEMBER_ACCESS_IMPORT_MAX_ROWS). Split it into several files. Nothing was "
        "imported."
    )
    assert excinfo.value.line == 5
    assert state() == before


def test_the_row_limit_defaults_to_200000():
    from wagtail_member_access.conf import app_settings

    assert app_settings.IMPORT_MAX_ROWS == 200_000


def test_a_line_without_end_is_refused_without_reading_it_whole(course):
    class Endless(io.RawIOBase):
        """An endless line: the importer must stop at its limit, not run out of memory."""

        read_bytes = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[:] = b"x" * len(buffer)
            self.read_bytes += len(buffer)
            return len(buffer)

    stream = Endless()
    with pytest.raises(InvalidFile) as excinfo:
        import_csv(io.BufferedReader(stream), course)
    assert str(excinfo.value) == (
        "Line 1 is longer than 1 MB; this is not a CSV file of grants. Nothing was imported."
    )
    assert stream.read_bytes < 2 * 1024 * 1024


def test_a_long_line_later_in_the_file_is_named(course):
    data = b"email,note\na@example.com,x\n" + b"b@example.com," + b"y" * (1024 * 1024 + 1) + b"\n"
    with pytest.raises(InvalidFile) as excinfo:
        run(data, course)
    assert excinfo.value.line == 3


# --- formula injection ---------------------------------------------------------------------


def test_formula_like_names_and_notes_are_stored_as_plain_text(course):
    """Spreadsheet formulas are only dangerous when a spreadsheet opens them: they are kept
    verbatim (a name may really start with "-" or "@"), and the export neutralises them."""
    data = (
        "email,name,note\n"
        'ana@example.com,"=HYPERLINK(""http://evil.example"",""Click"")",+1+1\n'
        "ben@example.com,-2+3,@SUM(A1:A9)\n"
        "cy@example.com,\"=cmd|' /C calc'!A0\",\t=1\n"
    )
    result = run(data, course)
    assert result.ok and result.new == 3
    assert grant_of("ana@example.com", course).name == '=HYPERLINK("http://evil.example","Click")'
    assert grant_of("ana@example.com", course).note == "+1+1"
    assert (grant_of("ben@example.com", course).name, grant_of("ben@example.com", course).note) == (
        "-2+3",
        "@SUM(A1:A9)",
    )
    cy = grant_of("cy@example.com", course)
    assert (cy.name, cy.note) == ("=cmd|' /C calc'!A0", "=1")  # cells are trimmed


def test_imported_grants_open_the_list_at_once(course, protected_page):
    from wagtail_member_access import access

    run("email,expires\nana@example.com,\nold@example.com,2001-01-01\n", course)
    assert access.email_may_view("ana@example.com", protected_page) is not None
    assert access.email_may_view("old@example.com", protected_page) is None


# --- the dry run's rows ---------------------------------------------------------------------------


def test_the_dry_run_describes_each_row_and_how_each_date_was_read(settings, course, clock):
    settings.TIME_ZONE = "Europe/Berlin"
    course.default_days = None
    course.save()
    GrantFactory(access_list=course, email="ext@example.com", name="", expires_at=utc(2031, 1, 1))
    GrantFactory(access_list=course, email="short@example.com", name="", expires_at=None)
    GrantFactory(access_list=course, email="same@example.com", name="Sam", expires_at=None)
    GrantFactory(access_list=course, email="kept@example.com", name="Old", expires_at=None)
    GrantFactory(
        access_list=course,
        email="gone@example.com",
        name="",
        expires_at=utc(2031, 7, 1, 10, 0),
        revoked_at=utc(2026, 1, 5, 9, 30),
    )
    data = (
        "E-Mail;Name;Beginn;Ende\n"
        "new@example.com;Nia;01.02.2031;31.03.2031\n"  # line 2
        "ext@example.com;;;2031-12-31T18:00\n"
        "short@example.com;;;2031-03-31\n"
        "same@example.com;Sam;;unbegrenzt\n"
        "kept@example.com;New;;\n"
        "gone@example.com;;;\n"
        "new@example.com;Nia;01.02.2031;31.03.2031\n"
        "bad@example.com;;;31.02.2031\n"  # line 9
        "late@example.com;;;\n"  # line 10: beyond the page
    )
    before = state()
    result = run(data, course, dry_run=True, preview=range(1, 9))
    assert state() == before
    rows = [
        (p.line, p.email, p.outcome, p.label, p.details, [d[1:] for d in p.dates])
        for p in result.previews
    ]
    berlin = "(Europe/Berlin)"
    assert rows == [
        (2, "new@example.com", "new", "Added", "", [
            ("01.02.2031", f"1 February 2031, 00:00 {berlin}"),
            ("31.03.2031", f"end of 31 March 2031 {berlin}"),
        ]),
        (3, "ext@example.com", "extended", "Extended", "Changes: expiry.", [
            ("", "none: access from now on"),
            ("2031-12-31T18:00", f"31 December 2031, 18:00 {berlin}"),
        ]),
        (4, "short@example.com", "shortened", "Shortened", "Changes: expiry.", [
            ("", "none: access from now on"),
            ("2031-03-31", f"end of 31 March 2031 {berlin}"),
        ]),
        (5, "same@example.com", "unchanged", "Unchanged", "", [
            ("", "none: access from now on"),
            ("unbegrenzt", "unlimited"),
        ]),
        (6, "kept@example.com", "updated", "Updated", "Changes: name.", [
            ("", "none: access from now on"),
            ("", "empty: keeps unlimited"),
        ]),
        (7, "gone@example.com", "restored", "Restored (was revoked)", "", [
            ("", "none: access from now on"),
            ("", f"empty: keeps 1 July 2031, 12:00 {berlin}"),
        ]),
        (8, "new@example.com", "duplicate", "Counted once", "The same as line 2.", [
            ("01.02.2031", f"1 February 2031, 00:00 {berlin}"),
            ("31.03.2031", f"end of 31 March 2031 {berlin}"),
        ]),
        (9, "bad@example.com", "invalid", "Error", result.errors[0].message, [
            ("", "none: access from now on"),
            ("31.02.2031", "not a date"),
        ]),
    ]  # fmt: skip
    assert result.errors[0].line == 9
    assert [d[0] for d in result.previews[0].dates] == ["Beginn", "Ende"]


def test_an_empty_expiry_of_a_new_grant_reads_as_the_lists_default(course, clock):
    course.default_days = 30
    course.save()
    clock.now = utc(2031, 1, 10, 12, 0)
    result = run(
        "email,starts,expires\nana@example.com,2031-02-01,\n", course, preview=range(1, 51)
    )
    (preview,) = result.previews
    assert preview.dates[1][2] == "empty: the list's default, end of 2 March 2031 (UTC)"


def test_no_preview_unless_asked(course):
    assert run(HEADER + "ana@example.com,Ana,,,\n", course, dry_run=True).previews == []
