"""Member accounts in a real browser: an invitation → choose a password → sign out
→ forgot password → reset by the emailed link → sign in with the new password → the
members-only page."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.browser.conftest import page_for_ana
from tests.browser.test_unlock_flow import wait_for_mail
from wagtail_member_access.flows import invitation as invitations

pytestmark = pytest.mark.browser

BODY = "Only for members of the club."
FIRST = "first chosen passphrase 7"
SECOND = "second chosen passphrase 8"


@pytest.fixture
def club_page(site_root):
    return page_for_ana(
        site_root, "Club", "members", title="Club room", slug="club-room", body=BODY
    )


def fill_new_password(page, password):
    page.get_by_label("New password", exact=True).fill(password)
    page.get_by_label("New password confirmation").fill(password)


def test_invitation_reset_and_password_sign_in(club_page, live_server, new_context, screenshot):
    assert invitations.send_invitation("ana@example.com") is True
    invitation = re.search(
        r"(http://\S+/access/invitation/[A-Za-z0-9_-]{43}/)", mail.outbox[0].body
    )
    assert invitation.group(1).startswith(live_server.url)  # the Site's address

    page = new_context().new_page()
    page.goto(invitation.group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose your password")
    assert "/access/invitation/" not in page.url  # the token left the address bar
    fill_new_password(page, FIRST)
    screenshot(page, "choose-password")
    page.get_by_role("button", name="Save password and sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My access")
    expect(page.locator("main")).to_contain_text("Club")
    page.get_by_role("link", name="Club room").click()
    expect(page.locator("main, body").first).to_contain_text(BODY)

    page.goto(live_server.url + "/access/my-access/")
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.goto(live_server.url + club_page.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")  # redirected

    page.get_by_role("link", name="Forgot your password, or never had one?").click()
    page.get_by_label("Email address").fill("ana@example.com")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("status")).to_contain_text(
        "we have sent an email to that address with a link"
    )
    screenshot(page, "reset-requested")
    message = wait_for_mail(page, mail.outbox, count=2)
    reset = re.search(r"(http://\S+/access/password/reset/[A-Za-z0-9_-]{43}/)", message.body)

    page.goto(reset.group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    fill_new_password(page, SECOND)
    page.get_by_role("button", name="Save password and sign in").click()
    # "Forgot your password?" kept ?next=: back to the page the member wanted.
    expect(page.get_by_role("heading", level=1)).to_have_text("Club room")
    assert page.url == live_server.url + club_page.url
    assert mail.outbox[-1].subject.startswith("Your password for ")
    page.goto(live_server.url + "/access/my-access/")
    page.get_by_role("button", name="Sign out", exact=True).click()

    page.goto(live_server.url + club_page.url)
    page.locator("#id_email").fill("ana@example.com")
    page.locator("#id_password").fill(FIRST)  # the old one no longer works
    page.get_by_role("button", name="Sign in with password").click()
    expect(page.get_by_role("alert")).to_contain_text("The email address or password is not right")
    page.locator("#id_email").fill("ana@example.com")
    page.locator("#id_password").fill(SECOND)
    page.get_by_role("button", name="Sign in with password").click()
    expect(page.locator("main, body").first).to_contain_text(BODY)
    assert page.url == live_server.url + club_page.url
    screenshot(page, "members-page")
