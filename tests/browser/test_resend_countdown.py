"""The "send again" button of the "check your inbox" step in a real browser: visibly
disabled while the server would refuse a new request, its wait counting down, and enabled
again exactly when the wait is over (issue 16, fix 1), on the unlock page and on the
forgotten-password page. The page's clock is Playwright's (``page.clock``): the test moves it
on instead of waiting, so nothing depends on how fast the machine is."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import test_unlock_flow
from tests.browser.test_unlock_flow import wait_for_mail
from tests.users import make_user

pytestmark = pytest.mark.browser

lesson = test_unlock_flow.lesson  # the fixture: a code-protected page, ana@example.com listed


def request_on_unlock_page(page, live_server, lesson):
    page.goto(live_server.url + lesson.url)
    page.get_by_label("Email address").fill("ana@example.com")
    page.get_by_role("button", name="Send me a code").click()
    return page.get_by_role("button", name="Send a new code")


def request_on_forgot_password_page(page, live_server, lesson):
    make_user("ana@example.com")
    page.goto(live_server.url + "/access/password/forgot/")
    page.get_by_label("Email address").fill("ana@example.com")
    page.get_by_role("button", name="Email me a link").click()
    return page.get_by_role("button", name="Send a new email")


@pytest.mark.parametrize(
    "ask", [request_on_unlock_page, request_on_forgot_password_page], ids=["unlock", "reset"]
)
def test_send_again_counts_down_and_comes_back_on_time(
    new_context,
    live_server,
    lesson,
    mailoutbox,
    ask,
):
    page = new_context().new_page()
    page.clock.install()  # timers and Date.now run only when the test moves the clock
    button = ask(page, live_server, lesson)
    wait_for_mail(page, mailoutbox)
    expect(button).to_be_disabled()
    wait = int(button.get_attribute("data-wma-wait"))
    assert 55 <= wait <= 60  # the server's cooldown (60 s), less the moments the request took
    note = page.locator("#wma-wait")
    expect(note).to_have_text(f"(possible again in {wait} seconds)")
    # Visibly disabled: not the look of an active link.
    assert button.evaluate("b => getComputedStyle(b).cursor") != "pointer"

    page.clock.run_for(10_000)
    expect(note).to_have_text(f"(possible again in {wait - 10} seconds)")
    expect(button).to_be_disabled()
    page.clock.run_for((wait - 11) * 1000)
    expect(note).to_have_text("(possible again in 1 second)")
    expect(button).to_be_disabled()
    page.clock.run_for(1_000)  # the wait is over: the button is back, the note gone
    expect(button).to_be_enabled()
    expect(note).to_have_count(0)
    assert button.get_attribute("aria-describedby") is None
