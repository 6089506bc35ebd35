"""CSV and XLSX export of the grants listing (formula cells neutralised), and the CSV import
view: upload, dry run with counts and every invalid row, then an all-or-nothing import."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse, reverse_lazy
from openpyxl import load_workbook
from wagtail.models import ModelLogEntry
from wagtail.users.models import UserProfile

from tests.factories import GrantFactory
from wagtail_member_access.models import Grant

pytestmark = pytest.mark.django_db

GRANTS = reverse_lazy("wagtail_member_access_grants:index")


def import_url(access_list) -> str:
    return reverse("wagtail_member_access_lists:import", args=(access_list.pk,))


EVIL = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tTab", "\rCR"]


@pytest.fixture
def exported(course, clock):
    GrantFactory(
        access_list=course,
        email="ana@example.com",
        name="Ana",
        expires_at=clock.now.replace(microsecond=0) + timedelta(days=1),
        note="plain",
    )
    for n, value in enumerate(EVIL):
        GrantFactory(access_list=course, email=f"x{n}@example.com", name=value, note=value)
    return course


def test_csv_export_neutralises_formulas(editor_client, exported, clock):
    response = editor_client.get(GRANTS, {"access_list": exported.pk, "export": "csv"})
    assert response["Content-Type"] == "text/csv"
    day = f"{clock.now:%Y-%m-%d}"
    assert response["Content-Disposition"] == f'attachment; filename="grants-course-a-{day}.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "Email", "Name", "Access list", "Status", "Starts", "Expires", "Revoked",
        "Last access", "Source", "Reference", "Note", "Created at", "Seats", "Seats used",
    ]  # fmt: skip
    ana = rows[1]
    expires = clock.now.replace(microsecond=0) + timedelta(days=1)
    assert ana[:6] == [
        "ana@example.com",
        "Ana",
        "Course A",
        "Active",
        "",
        f"{expires:%Y-%m-%d %H:%M}",
    ]
    assert ana[8] == "Added by hand" and ana[10] == "plain"
    assert rows[-1] == ["# End of export: 7 grants."]
    names = {row[0]: (row[1], row[10]) for row in rows[2:-1]}
    for n, value in enumerate(EVIL):
        assert names[f"x{n}@example.com"] == ("'" + value, "'" + value)


def test_xlsx_export_is_readable_and_keeps_text_as_text(editor_client, exported):
    response = editor_client.get(GRANTS, {"access_list": exported.pk, "export": "xlsx"})
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Email", "Name", "Access list", "Status")
    assert rows[1][:4] == ("ana@example.com", "Ana", "Course A", "Active")
    cells = {row[0].value: row[1] for row in sheet.iter_rows(min_row=3)}
    assert cells["x0@example.com"].value == EVIL[0]
    assert cells["x0@example.com"].data_type == "s"  # text, never a formula


def test_export_follows_the_filters(editor_client, exported, clock):
    Grant.objects.filter(email="x1@example.com").update(revoked_at=clock.now)
    response = editor_client.get(GRANTS, {"status": "revoked", "export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1:] == [rows[1], ["# End of export: 1 grant."]]
    assert rows[1][0] == "x1@example.com"


def test_an_end_of_day_expiry_is_exported_as_its_last_day_and_imports_back_unchanged(
    editor_client, course, upload_dir
):
    # Access "until 31 January 2031" is stored as 1 February 00:00 (UTC in tests).
    GrantFactory(
        access_list=course, email="ana@example.com", expires_at=datetime(2031, 2, 1, tzinfo=UTC)
    )
    response = editor_client.get(GRANTS, {"access_list": course.pk, "export": "csv"})
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][5] == "2031-01-31"
    response = editor_client.get(GRANTS, {"access_list": course.pk, "export": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    cell = list(sheet.iter_rows(min_row=2))[0][5]
    assert (str(cell.value)[:10], cell.number_format) == ("2031-01-31", "yyyy-mm-dd")
    # The export imported back into the list changes nothing.
    result = upload(editor_client, course, text).context["result"]
    assert (result.new, result.updated, result.unchanged, result.invalid) == (0, 0, 1, 0)


# --- import --------------------------------------------------------------------------------------

GOOD = (
    "email;name;starts;expires;note\n"
    "ana@example.com;Ana;;2031-12-31;\n"
    "bea@example.com;Bea;;;\n"
    "old@example.com;Old Name;;;\n"
)
BAD = (
    "email,name,expires\n"
    "ana@example.com,Ana,2031-12-31\n"
    "not-an-email,X,\n"
    "bea@example.com,Bea,2031-13-45\n"
)


def upload(client, access_list, content: bytes | str, name="buyers.csv"):
    if isinstance(content, str):
        content = content.encode()
    return client.post(
        import_url(access_list),
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
    )


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, monkeypatch):
    # The import view keeps uploads under the system's temporary directory.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path / "wagtail_member_access_imports"


def test_dry_run_then_import(editor_client, editor, course, upload_dir):
    GrantFactory(access_list=course, email="old@example.com", name="Old")
    response = upload(editor_client, course, GOOD)
    result = response.context["result"]
    assert (result.new, result.updated, result.unchanged, result.invalid) == (2, 1, 0, 0)
    assert result.dry_run and not result.written
    html = response.content.decode()
    assert "Dry run: nothing has been imported yet" in html
    assert '<td data-count="new">2</td>' in html
    assert Grant.objects.filter(access_list=course).count() == 1  # nothing written yet
    kept = list(upload_dir.glob("*.csv"))
    assert len(kept) == 1 and oct(kept[0].stat().st_mode & 0o777) == "0o600"

    response = editor_client.post(import_url(course), {"import": "1"})
    assert response.status_code == 302
    assert response.url == f"{GRANTS}?access_list={course.pk}"
    assert sorted(course.grants.values_list("email", "name", "source")) == [
        ("ana@example.com", "Ana", "import"),
        ("bea@example.com", "Bea", "import"),
        ("old@example.com", "Old Name", "import"),
    ]
    assert list(upload_dir.glob("*.csv")) == []  # cleaned up
    entry = ModelLogEntry.objects.get(action="wagtail_member_access.import")
    assert entry.user == editor
    assert (entry.data["created"], entry.data["updated"], entry.data["file"]) == (
        2,
        1,
        "buyers.csv",
    )
    assert [str(m).split("\n")[0] for m in response.wsgi_request._messages] == [
        "Imported 2 new and 1 updated grants into “Course A” (0 unchanged)."
    ]
    # The same file again: nothing to import.
    response = upload(editor_client, course, GOOD)
    assert "Nothing to import: every row is already on the list" in response.content.decode()


def test_bad_file_shows_every_invalid_row_and_changes_nothing(editor_client, course, upload_dir):
    response = upload(editor_client, course, BAD)
    result = response.context["result"]
    assert (result.new, result.invalid) == (1, 2)
    html = response.content.decode()
    assert "The file cannot be imported" in html
    assert [error.line for error in result.errors] == [3, 4]
    assert result.errors[0].message == "“not-an-email” is not a valid email address."
    assert result.errors[1].message.startswith("“2031-13-45” in column “expires” is not a valid")
    for error in result.errors:  # every invalid row, with its line and reason
        assert f"<tr><td>{error.line}</td><td>{error.message}</td></tr>" in html
    assert 'name="import"' not in html
    assert not Grant.objects.exists()
    assert list(upload_dir.glob("*.csv")) == []
    # An "import" without a pending file imports nothing.
    response = editor_client.post(import_url(course), {"import": "1"})
    assert not Grant.objects.exists()
    assert [str(m).strip() for m in response.wsgi_request._messages] == [
        "The uploaded file is no longer available. Upload it again."
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        ("email\n".encode("utf-16"), "The file is UTF-16 text."),
        (b"name\nAna\n", "The file has no email column."),
        (b"email\nj\xf6rg@example.com\n", "Line 2 is not UTF-8 text"),
    ],
)
def test_unreadable_files(editor_client, course, content, message):
    response = upload(editor_client, course, content)
    if content == b"":
        assert response.context["form"].errors == {"file": ["The submitted file is empty."]}
    else:
        assert message in response.context["file_error"]
    assert not Grant.objects.exists()


def test_too_large_file_is_refused_before_reading(editor_client, course, settings, upload_dir):
    settings.WAGTAIL_MEMBER_ACCESS_IMPORT_MAX_SIZE = 1_000_000
    response = upload(editor_client, course, "email\n" + "a@example.com\n" * 80_000)
    assert response.context["form"].errors == {
        "file": [
            "The file is 1.1 MB; files up to 1 MB can be imported. Split it into smaller files."
        ]
    }
    assert not Grant.objects.exists() and not upload_dir.exists()


def test_pending_file_is_bound_to_its_list(editor_client, course, upload_dir):
    from tests.factories import AccessListFactory

    other = AccessListFactory()
    upload(editor_client, course, GOOD)
    response = editor_client.post(import_url(other), {"import": "1"})
    assert not Grant.objects.exists()
    assert "no longer available" in str(list(response.wsgi_request._messages)[-1])


def test_cancel_removes_the_file(editor_client, course, upload_dir):
    upload(editor_client, course, GOOD)
    assert len(list(upload_dir.glob("*.csv"))) == 1
    editor_client.post(import_url(course), {"cancel": "1"})
    assert list(upload_dir.glob("*.csv")) == [] and not Grant.objects.exists()


# --- import from the grants listing, the dry run's rows ----------------------------------------

IMPORT_ANY = reverse_lazy("wagtail_member_access_grants:import")


def test_import_from_the_grants_listing_asks_for_the_list(editor_client, course, upload_dir):
    from tests.factories import AccessListFactory

    other = AccessListFactory(name="Course B")
    form = editor_client.get(IMPORT_ANY, {"access_list": other.pk}).context["form"]
    assert form.initial["access_list"] == other  # preselected from the filtered listing
    html = editor_client.get(IMPORT_ANY).content.decode()
    assert 'name="access_list"' in html and "Course B" in html
    # Without a list: a clear error, nothing kept.
    response = editor_client.post(
        IMPORT_ANY, {"file": SimpleUploadedFile("b.csv", GOOD.encode(), "text/csv")}
    )
    assert response.context["form"].errors == {"access_list": ["This field is required."]}
    assert not upload_dir.exists() or list(upload_dir.glob("*.csv")) == []
    # With the list: the dry run of that list; the next steps happen on its own URL.
    response = editor_client.post(
        IMPORT_ANY,
        {"access_list": other.pk, "file": SimpleUploadedFile("b.csv", GOOD.encode(), "text/csv")},
    )
    assert response.context["result"].access_list == other
    html = response.content.decode()
    assert f'action="{import_url(other)}"' in html
    response = editor_client.post(import_url(other), {"import": "1"})
    assert response.url == f"{GRANTS}?access_list={other.pk}"
    assert other.grants.count() == 3 and not course.grants.exists()


def test_the_import_url_of_the_grants_listing_needs_the_import_permissions(viewer_client):
    assert viewer_client.get(IMPORT_ANY).status_code == 302  # to the dashboard, as Wagtail does


def test_the_help_text_names_every_date_format(editor_client, course):
    html = editor_client.get(import_url(course)).content.decode()
    text = html[html.index("data-import-date-formats") :]
    text = text[: text.index("</p>")]
    for example in (
        "2026-12-31 (YYYY-MM-DD)",
        "31.12.2026 or 1.2.2026",
        "2026-12-31 18:00 or 2026-12-31T18:00",
        "18:00:30, 18:00:30.5",
        "Z, +01:00, +0100 or +01",
        "“unlimited”, “unbegrenzt” or “unbefristet”",
        "read in UTC",
    ):
        assert example in text, example


def test_the_dry_run_shows_each_row_a_page_at_a_time(editor_client, course, upload_dir):
    GrantFactory(access_list=course, email="m000@example.com", name="", expires_at=None)
    rows = "".join(f"m{n:03d}@example.com;;31.03.2031\n" for n in range(120))
    response = upload(editor_client, course, "email;name;expires\n" + rows)
    html = response.content.decode()
    table = html[
        html.index("data-import-rows") : html.index("</table>", html.index("data-import-rows"))
    ]
    assert table.count("<tr data-outcome=") == 50
    # m000 was unlimited: the file's date shortens its access.
    assert table.count('<tr data-outcome="shortened">') == 1
    assert "<code>31.03.2031</code> → end of 31 March 2031 (UTC)" in table
    assert "Page 1 of 3" in html
    assert "What the import does with each row (lines 2 to 51 of the file)" in html
    page3 = editor_client.get(import_url(course), {"p": 3})
    previews = page3.context["result"].previews
    assert [p.line for p in previews] == list(range(102, 122))
    assert {p.outcome for p in previews} == {"new"}
    # Paging does not import; the import still does.
    assert course.grants.count() == 1
    response = editor_client.post(import_url(course), {"import": "1"})
    assert course.grants.count() == 120 and list(upload_dir.glob("*.csv")) == []
    # The file is gone: paging says so.
    response = editor_client.get(import_url(course), {"p": 2})
    assert response.url == import_url(course)


def test_the_german_dry_run_says_what_will_happen(editor, editor_client, course, upload_dir):
    """The German walkthrough read "Hinzugefügt" beside "Es wurde nichts importiert"."""
    profile = UserProfile.get_for_user(editor)
    profile.preferred_language = "de"
    profile.save()
    response = upload(editor_client, course, "email;name;starts;expires\nneu@example.com;;;\n")
    row = response.content.decode()
    row = row[row.index('<tr data-outcome="new">') : row.index("</tr>", row.index("data-outcome"))]
    assert "Wird hinzugefügt" in row and "Hinzugefügt<" not in row
    assert "leer: Zugang ab jetzt" in row and "keiner:" not in row
