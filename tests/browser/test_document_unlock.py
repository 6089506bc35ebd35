"""A stranger opens a protected document's URL, unlocks it with the emailed code and gets
the file, in a real browser (docs/security.md#documents)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_unlock_flow import code_field, code_from, wait_for_mail
from tests.factories import make_collection, make_document
from wagtail_member_access import api

pytestmark = pytest.mark.browser

CONTENT = b"Week 1 workbook: the members-only answers.\n"


@pytest.fixture
def workbook(site_root, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    course = api.create_access_list("Course A")
    files = make_collection("Course files")
    api.protect_collection(files, mode="code", access_lists=[course])
    api.grant_access("ana@example.com", course, name="Ana")
    return make_document(files, title="Workbook", content=CONTENT, extension="txt")


def test_stranger_unlocks_a_document_with_the_emailed_code(
    new_context, live_server, workbook, mailoutbox, screenshot
):
    page = new_context().new_page()
    url = live_server.url + workbook.url

    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Workbook")
    expect(page.locator("body")).not_to_contain_text("members-only answers")
    screenshot(page, "email-form")
    page.get_by_label("Email address").fill("ana@example.com")
    page.get_by_role("button", name="Send me a code").click()
    page.wait_for_url(url)

    message = wait_for_mail(page, mailoutbox)
    assert message.to == ["ana@example.com"]
    assert message.subject == f"Your code for Workbook: {code_from(message)}"
    code_field(page).fill(code_from(message))
    screenshot(page, "code-entered")
    # Wagtail serves a text file as an attachment: the browser downloads it.
    with page.expect_download() as downloaded:
        page.get_by_role("button", name="Continue").click()
    download = downloaded.value
    assert download.suggested_filename == "workbook.txt"
    with open(download.path(), "rb") as file:
        assert file.read() == CONTENT

    # The same file again through the browser's session, with its private headers.
    again = page.context.request.get(url)
    assert (again.status, again.body()) == (200, CONTENT)
    assert (
        again.headers["cache-control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    )
    # A fresh browser (another visitor) still gets the unlock form, not the file.
    stranger = new_context().new_page()
    stranger.goto(url)
    expect(stranger.get_by_label("Email address")).to_have_count(1)
