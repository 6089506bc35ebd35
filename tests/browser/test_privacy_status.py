"""Member access where Wagtail shows privacy, in a real browser and in both of Wagtail's
themes: the status side panel of a page below a protected page ("Protected by" with a link to
the page it is set on), the explorer's padlock and its tooltip (reached with the keyboard),
and the listing filter.

With WMA_DOCS_IMG=1 the test also saves the screenshots of "Privacy in the status panel and
the explorer" in docs/editor-guide.md into docs/img/
(``WMA_DOCS_IMG=1 .venv/bin/pytest tests/browser/test_privacy_status.py``).
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_to_admin
from tests.browser.test_admin_page_access import PASSWORD, docs_img  # noqa: F401 (fixture)
from tests.factories import UserFactory, make_page
from wagtail_member_access import api

pytestmark = pytest.mark.browser

TOOLTIP = "Private: Members with an email code — Yoga course"


@pytest.fixture
def admin(site_root):
    return UserFactory(username="admin", password=PASSWORD, is_superuser=True)


@pytest.fixture
def course(site_root):
    """A course protected by an email code, with a lesson below it, beside a public page."""
    yoga = api.create_access_list("Yoga course")
    course = make_page(site_root, title="Yoga for beginners", slug="yoga")
    api.protect(course, mode="code", access_lists=[yoga])
    make_page(course, title="Lesson 1: Breathing", slug="lesson-1")
    make_page(site_root, title="About us", slug="about")
    return course


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_status_panel_and_padlock_name_the_member_access(
    live_server,
    new_context,
    admin,
    course,
    theme,
    screenshot,
    docs_img,  # noqa: F811
):
    lesson = course.get_children().get()
    suffix = "" if theme == "light" else "-dark"
    # Wagtail's admin follows the system's theme unless the editor chose one.
    context = new_context(viewport={"width": 1400, "height": 800}, color_scheme=theme)
    page = context.new_page()
    sign_in_to_admin(page, live_server.url, "admin", PASSWORD)

    # The lesson's status side panel: private, how, and where it is set.
    page.goto(live_server.url + reverse("wagtailadmin_pages:edit", args=[lesson.pk]))
    page.get_by_role("button", name="Toggle status").click()
    panel = page.locator("[data-member-access-status]")
    expect(panel).to_be_visible()
    expect(page.get_by_role("heading", name="Page visibility: Private")).to_be_visible()
    expect(panel).to_contain_text("Members with an email code — Yoga course")
    expect(panel).to_contain_text("Protected by Yoga for beginners")
    # The panel slides in: shoot once it is all on screen.
    expect(panel.get_by_role("link", name="Member access details")).to_be_in_viewport(ratio=1)
    docs_img(page, f"privacy-status{suffix}", 800)
    screenshot(page, "status-panel")

    # "Protected by" leads, by keyboard, to the course's Member access view.
    link = panel.get_by_role("link", name="Yoga for beginners")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(
        live_server.url + reverse("wagtail_member_access_pages:edit", args=[course.pk])
    )

    # The explorer: the course's padlock names the mode; the public page has none.
    page.goto(live_server.url + reverse("wagtailadmin_explore", args=[course.get_parent().pk]))
    padlock = page.locator("[data-member-access-padlock]")
    expect(padlock).to_have_count(1)
    expect(padlock).to_have_attribute("aria-label", TOOLTIP)
    # In the tab order; focused, Wagtail's tooltip shows the mode.
    expect(padlock).to_have_attribute("tabindex", "0")
    padlock.focus()
    expect(page.locator("[data-tippy-root]").filter(has_text=TOOLTIP)).to_be_visible()
    docs_img(page, f"privacy-explorer{suffix}", 500)
    screenshot(page, "explorer")

    # Filtered by member access, the explorer lists the course and its lesson only.
    page.goto(
        live_server.url
        + reverse("wagtailadmin_explore", args=[course.get_parent().pk])
        + "?member_access=code"
    )
    titles = page.locator("[data-listing-page-title] [id$='_title']")
    expect(titles).to_have_text(["Yoga for beginners", "Lesson 1: Breathing"], use_inner_text=True)
