"""Magic links in a real browser: request a link, open it from the captured email, confirm,
see the page; the same link in a second browser afterwards is refused."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.browser.conftest import page_for_ana
from tests.browser.test_unlock_flow import wait_for_mail

pytestmark = pytest.mark.browser

BODY = "The members-only lesson text."


@pytest.fixture
def lesson(site_root):
    return page_for_ana(
        site_root, "Course A", "link", title="Members lesson", slug="lesson", body=BODY
    )


def test_link_flow_and_reuse_refused(lesson, live_server, new_context, screenshot):
    page = new_context().new_page()
    page.goto(live_server.url + lesson.url)
    page.get_by_label("Email address").fill("ana@example.com")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("status")).to_contain_text(
        "we have sent an email with a link to that address"
    )
    expect(page.locator("input[name=code]")).to_have_count(0)
    screenshot(page, "check-inbox")
    message = wait_for_mail(page, mail.outbox)
    link = re.search(r"(http://\S+/access/link/[A-Za-z0-9_-]{43}/)", message.body).group(1)
    # The Site points at the live server, so the emailed link is directly usable.
    assert link.startswith(live_server.url)

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Members lesson")
    screenshot(page, "confirm")
    page.get_by_role("button", name="Continue to Members lesson").click()
    expect(page.locator("main, body").first).to_contain_text(BODY)
    assert page.url == live_server.url + lesson.url  # the token is gone from the address
    screenshot(page, "unlocked")

    other = new_context().new_page()
    other.goto(link)
    expect(other.get_by_role("heading", level=1)).to_have_text("This link has already been used")
    expect(other.get_by_role("link", name="Ask for a new link")).to_have_attribute(
        "href", lesson.url
    )
    other.goto(live_server.url + lesson.url)
    expect(other.locator("body")).not_to_contain_text(BODY)
