"""The access-list admin in a real browser: an editor (not a superuser: admin access and the
grant and list permissions only) signs in, imports a CSV (dry run, then for real), filters,
extends a selection in bulk and exports.

With WMA_DOCS_IMG=1 the test also saves the screenshots of docs/editor-guide.md into
docs/img/ (``WMA_DOCS_IMG=1 .venv/bin/pytest tests/browser/test_admin_lists.py``).
"""

from __future__ import annotations

import csv
import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import admin_user, sign_in_to_admin
from tests.factories import GrantFactory, make_page
from wagtail_member_access import api
from wagtail_member_access.models import Grant

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PASSWORD = "correct horse battery staple"
CSV = (
    "E-Mail;Name;Beginn;Ende;Notiz\n"
    "ana@example.com;Ana Alves;;2031-12-31;\n"
    "ben@example.com;Ben Bauer;;;paid by invoice\n"
    "cem@example.com;Cem Celik;2031-01-01;2031-06-30;\n"
)


@pytest.fixture
def docs_img():
    """``docs_img(page, "name")`` saves docs/img/admin-<name>.png when WMA_DOCS_IMG=1."""

    def take(page, name: str, **options) -> None:
        if os.environ.get("WMA_DOCS_IMG") == "1":
            page.screenshot(path=str(DOCS_IMG / f"admin-{name}.png"), **options)

    return take


@pytest.fixture
def editor(site_root):
    return admin_user(
        "Course editors",
        [f"{a}_{m}" for a in ("view", "add", "change", "delete") for m in ("grant", "accesslist")],
        username="editor",
        password=PASSWORD,
    )


@pytest.fixture
def course(site_root):
    course = api.create_access_list("Yoga course", default_days=365)
    lesson = make_page(site_root, title="Yoga lesson 1", slug="yoga-1")
    api.protect(lesson, mode="code_or_link", access_lists=[course])
    now = timezone.now()
    GrantFactory(
        access_list=course,
        email="old@example.com",
        name="Olga Old",
        expires_at=now + timedelta(days=3),
        source=Grant.Source.PURCHASE,
    )
    GrantFactory(
        access_list=course,
        email="gone@example.com",
        name="Gina Gone",
        expires_at=now - timedelta(days=10),
    )
    return course


def test_editor_imports_filters_extends_and_exports(
    live_server, new_context, editor, course, tmp_path, screenshot, docs_img
):
    context = new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    sign_in_to_admin(page, live_server.url, "editor", PASSWORD)
    grants = reverse("wagtail_member_access_grants:index")

    page.goto(live_server.url + reverse("wagtail_member_access_lists:index"))
    expect(page.get_by_role("link", name="Yoga lesson 1")).to_be_visible()
    docs_img(page, "lists")
    screenshot(page, "lists")

    # Import: dry run first, then for real.
    page.goto(f"{live_server.url}{grants}?access_list={course.pk}")
    page.get_by_role("link", name="Import CSV").click()
    upload = tmp_path / "kunden.csv"
    upload.write_text(CSV, encoding="utf-8-sig")
    page.locator("input[name=file]").set_input_files(str(upload))
    page.get_by_role("button", name="Check the file").click()
    expect(
        page.get_by_role("heading", name="Dry run: nothing has been imported yet")
    ).to_be_visible()
    expect(page.locator('[data-count="new"]')).to_have_text("3")
    assert Grant.objects.filter(access_list=course).count() == 2
    docs_img(page, "import-dry-run", full_page=True)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".messages")).to_contain_text(
        "Imported 3 new and 0 updated grants into “Yoga course” (0 unchanged)."
    )
    assert Grant.objects.filter(access_list=course).count() == 5
    ben = Grant.objects.get(email="ben@example.com")
    assert ben.expires_at is not None  # the list's default period of 365 days

    # Filter: expired (the filters sit in a drilldown menu of the header).
    page.get_by_role("button", name="Show filters").click()
    page.locator("button.w-drilldown__toggle", has_text="Status").click()
    page.get_by_label("Status").select_option("expired")
    expect(page.locator("#listing-results tbody tr")).to_have_count(1)
    expect(page.locator("#listing-results")).to_contain_text("gone@example.com")
    screenshot(page, "filtered")

    # Back to all of the list; select two grants and extend them by 30 days.
    page.goto(f"{live_server.url}{grants}?access_list={course.pk}")
    docs_img(page, "grants")
    old = Grant.objects.get(email="old@example.com")
    gone = Grant.objects.get(email="gone@example.com")
    old_end = old.expires_at
    page.locator(f'input[data-bulk-action-checkbox][data-object-id="{old.pk}"]').check()
    page.locator(f'input[data-bulk-action-checkbox][data-object-id="{gone.pk}"]').check()
    page.locator("[data-bulk-action-footer]").get_by_role("link", name="Extend").click()
    expect(page.get_by_text("2 grants selected:")).to_be_visible()
    page.get_by_label("Extend by (days)").fill("30")
    docs_img(page, "bulk-extend")
    page.get_by_role("button", name="Extend access").click()
    expect(page.locator(".messages")).to_contain_text("Access extended for 2 of 2 selected grants.")
    old.refresh_from_db()
    gone.refresh_from_db()
    assert old.expires_at == old_end + timedelta(days=30)
    assert gone.is_active()

    # Export the list's grants as CSV.
    page.goto(f"{live_server.url}{grants}?access_list={course.pk}")
    page.locator("header").get_by_role("button", name="Actions").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text())))
    assert rows[-1] == ["# End of export: 5 grants."]  # the file is complete
    assert [row[0] for row in rows[1:-1]] == [
        "ana@example.com",
        "ben@example.com",
        "cem@example.com",
        "gone@example.com",
        "old@example.com",
    ]
    assert download.suggested_filename.startswith("grants-yoga-course-")
