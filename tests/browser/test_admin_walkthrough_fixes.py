"""The editor walkthrough's fixes that only a browser shows (issue 12, item 4): email
addresses in the grants listing are never broken inside, in the light and the dark theme;
the Member access form's radios sit level with their labels; the grant form's Starts and
Expires open Wagtail's date-time picker, and an expiry shown as its last day survives the
picker (focus, then leaving the field), and a day picked in it means the end of that day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from playwright.sync_api import expect
from wagtail.users.models import UserProfile

from tests.browser.conftest import sign_in_to_admin
from tests.factories import GrantFactory, UserFactory, make_page
from wagtail_member_access import api

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
LONG_EMAIL = "anastasia.alves-oliveira@mitglieder.example-academy.com"


@pytest.fixture
def admin(site_root):
    return UserFactory(username="admin", password=PASSWORD, is_superuser=True)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_email_addresses_in_the_grants_listing_are_never_broken_inside(
    live_server, new_context, admin, theme
):
    profile = UserProfile.get_for_user(admin)
    profile.theme = theme
    profile.save()
    course = api.create_access_list("Yoga course")
    grant = GrantFactory(access_list=course, email=LONG_EMAIL, name="Anastasia Alves Oliveira")
    # Narrow enough that Wagtail's own styles broke the address inside.
    page = new_context(viewport={"width": 900, "height": 800}).new_page()
    sign_in_to_admin(page, live_server.url, "admin", PASSWORD)
    page.goto(live_server.url + reverse("wagtail_member_access_grants:index"))
    assert f"w-theme-{theme}" in page.locator("html").get_attribute("class")
    title = page.locator(f"#grant_{grant.pk}_title")
    expect(title).to_have_text(LONG_EMAIL)
    lines = title.evaluate("element => element.getClientRects().length")
    assert lines == 1, f"the address is broken over {lines} lines"


def test_member_access_radios_sit_level_with_their_labels(live_server, new_context, admin):
    lesson = make_page(title="Lesson 1", slug="lesson-1")
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in_to_admin(page, live_server.url, "admin", PASSWORD)
    page.goto(live_server.url + reverse("wagtail_member_access_pages:edit", args=[lesson.pk]))
    labels = page.locator("fieldset label:has(input[type=radio])")
    assert labels.count() >= 5
    for index in range(labels.count()):
        label = labels.nth(index)
        radio = label.locator("input[type=radio]").bounding_box()
        text = label.locator("strong").bounding_box()
        radio_middle = radio["y"] + radio["height"] / 2
        text_middle = text["y"] + text["height"] / 2
        assert abs(radio_middle - text_middle) <= 1.5, (index, radio, text)


def test_the_grant_form_uses_the_date_time_picker_and_an_expiry_means_a_days_end(
    live_server, new_context, admin
):
    course = api.create_access_list("Yoga course")
    # "Until 31 January 2031" (UTC in tests): stored as 1 February 00:00.
    grant = GrantFactory(access_list=course, expires_at=datetime(2031, 2, 1, tzinfo=UTC))
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in_to_admin(page, live_server.url, "admin", PASSWORD)

    page.goto(live_server.url + reverse("wagtail_member_access_grants:add"))
    page.locator("#id_starts_at").click()
    expect(page.locator(".xdsoft_datetimepicker:visible")).to_have_count(1)
    page.keyboard.press("Escape")

    page.goto(live_server.url + reverse("wagtail_member_access_grants:edit", args=[grant.pk]))
    expires = page.locator("#id_expires_at")
    expect(expires).to_have_value("2031-01-31")
    expires.click()
    expect(page.locator(".xdsoft_datetimepicker:visible")).to_have_count(1)
    page.locator("#id_name").click()  # leave the field without choosing
    expect(expires).to_have_value("2031-01-31")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("was saved")
    grant.refresh_from_db()
    assert grant.expires_at == datetime(2031, 2, 1, tzinfo=UTC)

    # A day picked means the end of that day: the picker writes the date only (Wagtail's
    # wrote the clock time with it, "2031-01-15 06:25", ending access that morning).
    page.goto(live_server.url + reverse("wagtail_member_access_grants:edit", args=[grant.pk]))
    expires.click()
    picker = page.locator(".xdsoft_datetimepicker:visible")
    picker.locator('td.xdsoft_date[data-date="15"][data-month="0"][data-year="2031"]').click()
    expect(expires).to_have_value("2031-01-15")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("was saved")
    grant.refresh_from_db()
    assert grant.expires_at == datetime(2031, 1, 16, tzinfo=UTC)  # the end of 15 January
