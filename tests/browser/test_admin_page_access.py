"""The page-level "Member access" view in a real browser: an editor reaches it from the page's
header "⋯" menu and from a row's "⋯" menu in the page explorer (both rendered by Wagtail's
dropdowns, which the Django test client never clicks), protects a page, sees the inherited
state on a child page, and a visitor without a session then gets the unlock form.

With WMA_DOCS_IMG=1 the test also saves the screenshots of "Protecting a page" in
docs/editor-guide.md into docs/img/
(``WMA_DOCS_IMG=1 .venv/bin/pytest tests/browser/test_admin_page_access.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_to_admin
from tests.factories import UserFactory, make_page
from wagtail_member_access import api
from wagtail_member_access.models import PageAccessRestriction

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PASSWORD = "correct horse battery staple"
LESSON_BODY = "Breathe in for four counts, hold for four."
NO_LIST = (
    "Choose at least one access list: with an email code or link, only addresses with a grant "
    "on a chosen list can unlock the page."
)


@pytest.fixture
def docs_img():
    """``docs_img(page, "name", height)`` saves docs/img/admin-<name>.png when WMA_DOCS_IMG=1.

    Wagtail's admin scrolls inside its layout, so a full-page screenshot stops at the viewport:
    the viewport is made ``height`` pixels tall for the shot instead.
    """

    def take(page, name: str, height: int) -> None:
        if os.environ.get("WMA_DOCS_IMG") == "1":
            size = page.viewport_size
            page.set_viewport_size({"width": size["width"], "height": height})
            page.screenshot(path=str(DOCS_IMG / f"admin-{name}.png"))
            page.set_viewport_size(size)

    return take


@pytest.fixture
def admin(site_root):
    return UserFactory(username="admin", password=PASSWORD, is_superuser=True)


@pytest.fixture
def course(site_root):
    """A course page with one lesson below it, and two access lists to choose from."""
    api.create_access_list("Pilates course")
    api.create_access_list("Yoga course", default_days=365)
    course = make_page(site_root, title="Yoga for beginners", slug="yoga")
    make_page(course, title="Lesson 1: Breathing", slug="lesson-1", body=LESSON_BODY)
    return course


def open_header_menu(page):
    """The "⋯" toggle of the slim header (Wagtail labels it "Actions")."""
    page.locator("header").get_by_role("button", name="Actions").click()


def test_editor_protects_a_page_and_its_child_inherits(
    live_server, new_context, admin, course, screenshot, docs_img
):
    lesson = course.get_children().get().specific
    own_view = reverse("wagtail_member_access_pages:edit", args=[course.pk])
    context = new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in_to_admin(page, live_server.url, "admin", PASSWORD)

    # From the page's header "⋯" menu to its member-access view.
    page.goto(live_server.url + reverse("wagtailadmin_pages:edit", args=[course.pk]))
    open_header_menu(page)
    page.get_by_role("link", name="Member access", exact=True).click()
    page.wait_for_url(live_server.url + own_view)
    expect(page.locator("[data-wma-own]")).to_contain_text("This page has no member access")
    # The header says which page this is.
    expect(page.locator("header").first).to_contain_text("Yoga for beginners")
    screenshot(page, "unprotected")

    # An email mode without a list is refused with the reason, and changes nothing.
    page.get_by_label("One-time email code", exact=True).check()
    page.get_by_role("button", name="Save member access").click()
    expect(page.locator(".messages")).to_contain_text(
        "Member access was not changed: correct the errors below."
    )
    expect(page.get_by_text(NO_LIST)).to_be_visible()
    expect(page.locator("[data-wma-own]")).to_contain_text("This page has no member access")
    assert not PageAccessRestriction.objects.exists()
    screenshot(page, "no-list")

    # With a list ticked it is saved.
    page.get_by_label("One-time email code", exact=True).check()
    page.get_by_label("Yoga course", exact=True).check()
    page.get_by_role("button", name="Save member access").click()
    page.wait_for_url(live_server.url + own_view)
    expect(page.locator(".messages")).to_contain_text(
        "Member access of “Yoga for beginners” set to: One-time email code."
    )
    expect(page.locator("[data-wma-own] [data-wma-mode]")).to_have_text("One-time email code")
    expect(page.locator("[data-wma-own] [data-wma-lists]")).to_have_text("Yoga course")
    restriction = PageAccessRestriction.objects.get()
    assert restriction.page_id == course.pk
    assert restriction.mode == "code"
    assert [al.name for al in restriction.access_lists.all()] == ["Yoga course"]
    docs_img(page, "page-access", 1500)

    # Back on the page, the header entry tells the page's state.
    page.get_by_role("link", name="Back to the page").click()
    open_header_menu(page)
    expect(
        page.get_by_role("link", name="Member access: One-time email code", exact=True)
    ).to_be_visible()

    # The child, from its row's "⋯" menu in the explorer: inherited, linking to the parent.
    page.goto(live_server.url + reverse("wagtailadmin_explore", args=[course.pk]))
    page.get_by_role("button", name="More options for 'Lesson 1: Breathing'").click()
    page.get_by_role("link", name="Member access", exact=True).click()
    page.wait_for_url(
        live_server.url + reverse("wagtail_member_access_pages:edit", args=[lesson.pk])
    )
    expect(page.locator("[data-wma-own]")).to_contain_text(
        "This page has no member access of its own."
    )
    inherited = page.locator("[data-wma-inherited]")
    expect(inherited).to_contain_text("Set on Yoga for beginners:")
    expect(inherited.locator("[data-wma-mode]")).to_have_text("One-time email code")
    parent_link = inherited.get_by_role("link", name="Yoga for beginners")
    expect(parent_link).to_have_attribute("href", own_view)
    expect(page.locator("[data-wma-add-own]")).not_to_have_attribute("open", "")
    docs_img(page, "page-access-inherited", 900)
    screenshot(page, "inherited")
    # The collapsed form opens from its summary, which reads as a button.
    page.get_by_text("Add a restriction of this page's own").click()
    expect(page.locator("[data-wma-add-own]")).to_have_attribute("open", "")
    expect(page.get_by_role("button", name="Save member access")).to_be_visible()
    parent_link.click()
    page.wait_for_url(live_server.url + own_view)

    # A visitor without a session gets the unlock form, not the lesson.
    visitor = new_context(viewport={"width": 1280, "height": 800}).new_page()
    visitor.goto(live_server.url + lesson.url)
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Lesson 1: Breathing")
    expect(visitor.get_by_label("Email address")).to_have_attribute("type", "email")
    expect(visitor.locator("main")).not_to_contain_text(LESSON_BODY)
    screenshot(visitor, "visitor")
