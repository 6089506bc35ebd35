"""The one-time email code flow in a real browser (Debian's chromium via Playwright).

What the Django test client cannot show: that the forms work as a browser submits them
(CSRF cookie, POST/redirect/GET, autofill hints), that the fields are labelled for assistive
technology, and that nothing needs JavaScript.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.browser.conftest import page_for_ana
from wagtail_member_access.models import EmailChallenge

pytestmark = pytest.mark.browser

BODY = "The members-only lesson text."
MAIL_WAIT_MS = 5_000


@pytest.fixture
def lesson(site_root):
    return page_for_ana(
        site_root, "Course A", "code", title="Members lesson", slug="lesson", body=BODY
    )


def wait_for_mail(page, outbox, count: int = 1):
    """The code email is sent by a task that runs in the live server's thread right after the
    redirect has been written, so it may land a moment after the browser moved on: wait for
    that event, for at most MAIL_WAIT_MS."""
    waited = 0
    while len(outbox) < count and waited < MAIL_WAIT_MS:
        page.wait_for_timeout(50)
        waited += 50
    assert len(outbox) == count, f"{len(outbox)} emails after {waited} ms, expected {count}"
    return outbox[count - 1]


def code_from(message) -> str:
    match = re.search(r"^    (\d{6})$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


def ask_for_code(page, url: str, typed_email: str, screenshot) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Members lesson")
    expect(page.locator("main")).not_to_contain_text(BODY)
    # The field is reachable by its visible label (label for= the input's id).
    email_field = page.get_by_label("Email address")
    expect(email_field).to_have_count(1)
    expect(email_field).to_have_attribute("type", "email")
    expect(email_field).to_have_attribute("autocomplete", "email")
    expect(page.get_by_role("textbox", name="Email address")).to_have_count(1)
    screenshot(page, "email-form")
    email_field.fill(typed_email)
    page.get_by_role("button", name="Send me a code").click()
    page.wait_for_url(url)  # 303 back to the page itself
    expect(page.get_by_role("status")).to_have_text(
        "If ana@example.com has access, we have sent an email with a code to that address. "
        "The code is valid for 10 minutes."
    )
    screenshot(page, "check-inbox")


def code_field(page):
    field = page.get_by_label("Code from the email")
    expect(field).to_have_count(1)
    expect(field).to_have_attribute("autocomplete", "one-time-code")
    expect(field).to_have_attribute("inputmode", "numeric")
    expect(page.get_by_role("textbox", name="Code from the email")).to_have_count(1)
    return field


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_unlock_with_emailed_code(
    new_context, live_server, lesson, mailoutbox, screenshot, javascript
):
    page = new_context(java_script_enabled=javascript).new_page()
    url = live_server.url + lesson.url

    ask_for_code(page, url, "Ana@Example.com", screenshot)
    message = wait_for_mail(page, mailoutbox)
    assert message.to == ["ana@example.com"]
    assert message.subject == f"Your code for Members lesson: {code_from(message)}"

    field = code_field(page)
    field.fill(code_from(message))
    screenshot(page, "code-entered")
    page.get_by_role("button", name="Continue").click()

    page.wait_for_url(url)
    expect(page.locator(".body")).to_have_text(BODY)
    expect(page.get_by_role("heading", level=1)).to_have_text("Members lesson")
    screenshot(page, "unlocked")
    assert mail.outbox is mailoutbox and len(mailoutbox) == 1  # nothing else was sent


def test_wrong_code_shows_error_and_page_stays_locked(
    new_context, live_server, lesson, mailoutbox, screenshot
):
    page = new_context().new_page()
    url = live_server.url + lesson.url
    ask_for_code(page, url, "ana@example.com", screenshot)
    right = code_from(wait_for_mail(page, mailoutbox))
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    code_field(page).fill(wrong)
    page.get_by_role("button", name="Continue").click()

    alert = page.get_by_role("alert")
    expect(alert).to_have_text("That code was not right. You can try again in 1 second.")
    field = code_field(page)
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", "wma-error")
    expect(page.locator("main")).not_to_contain_text(BODY)
    screenshot(page, "wrong-code")

    page.goto(url)  # still locked, still on the code step
    expect(page.locator("main")).not_to_contain_text(BODY)
    code_field(page)
    challenge = EmailChallenge.objects.get()
    assert challenge.failed_attempts == 1
    assert challenge.redeemed_at is None
