"""The member's account page in a real browser: change the email address (code to the new
one), sign in with the new address, download my data, sign out everywhere (another browser
loses access), delete the account."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.browser.conftest import page_for_ana
from tests.browser.test_unlock_flow import code_from, wait_for_mail
from tests.conftest import code_from as code_in
from wagtail_member_access.models import Grant, GrantReference

pytestmark = pytest.mark.browser

BODY = "Only for members of the club."


@pytest.fixture
def club_page(site_root):
    return page_for_ana(
        site_root,
        "Club",
        "members",
        title="Club room",
        slug="club-room",
        body=BODY,
        reference="order-7",
    )


def sign_in_by_code(page, base, email, count):
    page.goto(base + "/access/sign-in/?next=/club-room/")
    page.locator("#id_email").fill(email)
    page.get_by_role("button", name="Email me a code and a link").click()
    code = code_from(wait_for_mail(page, mail.outbox, count=count))
    page.get_by_label("Code from the email").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("body")).to_contain_text(BODY)


def test_account_page_journey(club_page, live_server, new_context, screenshot):
    base = live_server.url
    page = new_context(viewport={"width": 1000, "height": 900}).new_page()
    sign_in_by_code(page, base, "ana@example.com", 1)

    page.goto(base + "/access/my-access/")
    expect(page.get_by_role("heading", level=1)).to_have_text("My access")
    screenshot(page, "account-page")
    page.get_by_label("New email address").fill("ana.new@example.com")
    page.get_by_role("button", name="Send a code to the new address").click()
    message = wait_for_mail(page, mail.outbox, count=2)
    assert message.to == ["ana.new@example.com"]
    page.get_by_label("Code from the email").first.fill(code_in(message))
    screenshot(page, "change-email-code")
    page.get_by_role("button", name="Change my email address").click()
    expect(page.get_by_role("status").first).to_contain_text("Your email address was changed")
    expect(page.locator("main")).to_contain_text("ana.new@example.com")

    # Another browser signs in with the new address.
    other = new_context().new_page()
    sign_in_by_code(other, base, "ana.new@example.com", 5)  # + the two notices

    # Download my data.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data").click()
    data = json.loads(Path(download.value.path()).read_text())
    assert data["account"]["email"] == "ana.new@example.com"
    assert [g["list"] for g in data["grants"]] == ["Club"]

    # Sign out everywhere: the other browser loses access, this one keeps it.
    page.reload()
    expect(page.locator("table")).to_contain_text(re.compile(r"Chrome on \w+ \(this browser\)"))
    screenshot(page, "sessions")
    page.get_by_role("button", name="Sign out everywhere else").click()
    expect(page.get_by_role("status").first).to_contain_text("All your other sessions")
    other.goto(base + club_page.url)
    expect(other.get_by_role("heading", level=1)).to_have_text("Sign in")

    # Delete the account, confirmed by a code.
    page.get_by_role("button", name="Delete my account").click()
    message = wait_for_mail(page, mail.outbox, count=7)
    page.locator("#id_delete_code").fill(code_in(message))
    screenshot(page, "delete-code")
    page.get_by_role("button", name="Delete my account for good").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account was deleted")
    assert Grant.objects.count() == 0
    assert list(GrantReference.objects.values_list("reference", "grant")) == [("order-7", None)]
    page.goto(base + club_page.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
