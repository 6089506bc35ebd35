"""The one privacy dialog in a real browser: an editor opens a page, "Change privacy" in its
status side panel, chooses an email code and creates a list inline; adds a buyer on the list's
grants page; the explorer shows the page's padlock; a visitor in another browser context
unlocks the page with the emailed code.

With WMA_DOCS_IMG=1 the test saves the dialog's screenshots in docs/editor-guide.md
(light and dark theme) into docs/img/
(``WMA_DOCS_IMG=1 .venv/bin/pytest tests/browser/test_privacy_dialog.py``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_to_admin
from tests.browser.test_unlock_flow import code_from, wait_for_mail
from tests.factories import UserFactory, make_page
from wagtail_member_access import api, compat
from wagtail_member_access.models import AccessList, PageAccessRestriction

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not compat.privacy_view_replaceable(),
        reason="Wagtail 7.4 keeps its own dialog (docs/editor-guide.md#wagtail-74)",
    ),
]

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PASSWORD = "correct horse battery staple"
BODY = "Week 1: warm up for ten minutes."


def docs_img(page, dialog, name: str) -> None:
    """Save the dialog's box as docs/img/admin-<name>.png when WMA_DOCS_IMG=1, in a viewport
    tall enough for all of it (the dialog scrolls inside a smaller one)."""
    if os.environ.get("WMA_DOCS_IMG") == "1":
        size = page.viewport_size
        page.set_viewport_size({"width": size["width"], "height": 1700})
        dialog.locator(".w-dialog__box").screenshot(path=str(DOCS_IMG / f"admin-{name}.png"))
        page.set_viewport_size(size)


@pytest.fixture
def admin(site_root):
    return UserFactory(username="admin", password=PASSWORD, is_superuser=True)


@pytest.fixture
def lesson(site_root):
    api.create_access_list("Pilates course")
    api.create_access_list("Yoga course")
    return make_page(site_root, title="Running course", slug="running", body=BODY)


def open_privacy_dialog(page):
    """ "Change privacy" in the status side panel (which Wagtail reopens after a reload)."""
    toggle = page.locator('[data-side-panel-toggle="status"]')
    page.wait_for_load_state("load")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    page.get_by_role("button", name="Change privacy").click()
    dialog = page.locator("#set-privacy")
    expect(dialog.get_by_role("radio", name="One-time email code", exact=True)).to_be_visible()
    return dialog


def test_editor_protects_a_page_in_the_privacy_dialog_and_a_buyer_unlocks_it(
    live_server, new_context, admin, lesson, mailoutbox, screenshot
):
    context = new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    sign_in_to_admin(page, live_server.url, "admin", PASSWORD)
    page.goto(live_server.url + reverse("wagtailadmin_pages:edit", args=[lesson.pk]))

    dialog = open_privacy_dialog(page)
    expect(dialog.get_by_role("radio", name="Public", exact=True)).to_be_checked()
    # Wagtail's own choices and ours, in one list, each reachable by its label.
    for name in ("Private, accessible to any logged-in users", "Signed-in members", "Magic link"):
        expect(dialog.get_by_role("radio", name=name, exact=True)).to_be_visible()
    # The lists appear with an email mode, keyboard first.
    dialog.get_by_role("radio", name="One-time email code", exact=True).focus()
    page.keyboard.press("Space")
    new_list = dialog.get_by_label("Or create a new access list")
    expect(new_list).to_be_visible()
    expect(dialog).to_contain_text("type in a one-time code we email them")
    # The search narrows the lists as one types.
    dialog.get_by_label("Search access lists").fill("yog")
    expect(dialog.get_by_role("checkbox", name="Pilates course")).to_be_hidden()
    expect(dialog.get_by_role("checkbox", name="Yoga course")).to_be_visible()
    dialog.get_by_label("Search access lists").fill("")
    expect(dialog.get_by_role("checkbox", name="Pilates course")).to_be_visible()
    new_list.fill("Running course")
    screenshot(page, "dialog")
    docs_img(page, dialog, "privacy-dialog")
    page.emulate_media(color_scheme="dark")
    docs_img(page, dialog, "privacy-dialog-dark")
    page.emulate_media(color_scheme="light")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    restriction = PageAccessRestriction.objects.get()
    course = AccessList.objects.get(name="Running course")
    assert (restriction.page_id, restriction.mode, course.name) == (
        lesson.pk,
        "code",
        "Running course",
    )
    assert list(restriction.access_lists.all()) == [course]

    # Opened again, the dialog shows the page's member access.
    page.reload()
    dialog = open_privacy_dialog(page)
    expect(dialog.get_by_role("radio", name="One-time email code", exact=True)).to_be_checked()
    expect(dialog.get_by_role("checkbox", name="Running course")).to_be_checked()
    dialog.get_by_role("link", name="Member access in detail", exact=False).click()
    page.wait_for_url(
        live_server.url + reverse("wagtail_member_access_pages:edit", args=[lesson.pk])
    )

    # A buyer, added on the list's grants page.
    grants = reverse("wagtail_member_access_grants:index") + f"?access_list={course.pk}"
    page.goto(live_server.url + grants)
    page.locator("header").get_by_role("link", name=re.compile("^Add")).first.click()
    form = page.locator("form", has=page.locator('input[name="email"]'))
    form.locator('select[name="access_list"]').select_option(label="Running course")
    form.locator('input[name="email"]').fill("ana@example.com")
    form.locator("[type=submit]").first.click()
    expect(page.locator(".messages")).to_contain_text("ana@example.com")
    assert course.grants.filter(email="ana@example.com").exists()

    # The padlock in the explorer.
    page.goto(live_server.url + reverse("wagtailadmin_explore", args=[lesson.get_parent().pk]))
    row = page.locator("tr", has_text="Running course")
    expect(row.locator(".privacy-indicator")).to_be_visible()
    screenshot(page, "explorer")

    # A visitor in another browser context unlocks it with the emailed code.
    visitor = new_context().new_page()
    url = live_server.url + lesson.url
    visitor.goto(url)
    expect(visitor.locator("main")).not_to_contain_text(BODY)
    visitor.get_by_label("Email address").fill("ana@example.com")
    visitor.get_by_role("button", name="Send me a code").click()
    visitor.wait_for_url(url)
    message = wait_for_mail(visitor, mailoutbox)
    visitor.get_by_label("Code from the email").fill(code_from(message))
    visitor.get_by_role("button", name="Continue").click()
    visitor.wait_for_url(url)
    expect(visitor.locator(".body")).to_have_text(BODY)
    screenshot(visitor, "unlocked")


def test_the_status_panel_shows_what_the_dialog_saved_without_a_reload(
    live_server, new_context, admin, lesson
):
    """The demo walkthrough found "Who may view" still saying "email code" after switching to
    a magic link, until a reload. Unsaved edits in the editor survive (no reload)."""
    pilates = AccessList.objects.get(name="Pilates course")
    api.protect(lesson, mode="code", access_lists=[pilates])
    context = new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    sign_in_to_admin(page, live_server.url, "admin", PASSWORD)
    page.goto(live_server.url + reverse("wagtailadmin_pages:edit", args=[lesson.pk]))
    page.locator("#id_title").fill("Running course (unsaved)")

    dialog = open_privacy_dialog(page)
    panel = page.locator("[data-member-access-status]")
    expect(panel).to_contain_text("Members with an email code — Pilates course")
    dialog.get_by_role("radio", name="Magic link", exact=True).check()
    expect(dialog.get_by_label("Opens after (days)")).to_have_value("")
    dialog.get_by_label("Opens after (days)").fill("5")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(panel).to_contain_text("Members with a magic link — Pilates course")
    expect(panel).not_to_contain_text("email code")
    expect(page.get_by_role("heading", name="Page visibility: Private")).to_be_visible()
    expect(page.locator("#id_title")).to_have_value("Running course (unsaved)")
    restriction = PageAccessRestriction.objects.get(page=lesson)
    assert (restriction.mode, restriction.opens_after.days) == ("link", 5)

    # Public: the section goes with Wagtail's "Private"; member access again: it comes back.
    dialog = open_privacy_dialog(page)
    expect(dialog.get_by_label("Opens after (days)")).to_have_value("5")
    dialog.get_by_role("radio", name="Public", exact=True).check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(panel).to_have_count(0)
    expect(page.get_by_role("heading", name="Page visibility: Visible to all")).to_be_visible()
    dialog = open_privacy_dialog(page)
    dialog.get_by_role("radio", name="One-time email code", exact=True).check()
    dialog.get_by_role("checkbox", name="Yoga course").check()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(panel).to_contain_text("Members with an email code — Yoga course")
    expect(panel).to_be_visible()
    expect(page.get_by_role("heading", name="Page visibility: Private")).to_be_visible()
    expect(page.locator("#id_title")).to_have_value("Running course (unsaved)")
