"""Drip in a real browser: a buyer unlocks lesson 1 with an emailed code, sees "This lesson
opens on …" on lesson 2 and the schedule in My access; time moves (the grant's start is
moved back a week in the database, as an editor would) and lesson 2 opens.

With WMA_DOCS_IMG=1 the test also saves the screenshots of docs/courses-and-teams.md into
docs/img/ (``WMA_DOCS_IMG=1 .venv/bin/pytest tests/browser/test_drip.py``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_to_admin
from tests.browser.test_unlock_flow import code_from, wait_for_mail
from tests.factories import UserFactory, make_page
from wagtail_member_access import api, grants, moments
from wagtail_member_access.models import Grant

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PASSWORD = "correct horse battery staple"
WEEK = timedelta(days=7)


def docs_img(page, name: str, height: int | None = None) -> None:
    """Save docs/img/<name>.png when WMA_DOCS_IMG=1 (``height``: the viewport's, for
    Wagtail's admin, which scrolls inside its layout)."""
    if os.environ.get("WMA_DOCS_IMG") != "1":
        return
    if height is None:
        page.screenshot(path=str(DOCS_IMG / f"{name}.png"), full_page=True)
        return
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    page.screenshot(path=str(DOCS_IMG / f"{name}.png"))
    page.set_viewport_size(size)


@pytest.fixture
def lessons(site_root):
    course = api.create_access_list("Yoga course")
    parent = make_page(site_root, title="Yoga for beginners", slug="yoga")
    api.protect(parent, mode="code", access_lists=[course])
    pages = [
        make_page(parent, title=f"Lesson {n}", slug=f"lesson-{n}", body=f"Body of lesson {n}.")
        for n in (1, 2, 3)
    ]
    for n, page in enumerate(pages):
        api.protect(page, mode="code", access_lists=[course], opens_after=n * WEEK or None)
    # The shop's purchase: the grant starts now.
    grants.grant("ana@example.com", course, name="Ana", source=Grant.Source.PURCHASE)
    return pages


def test_a_buyer_waits_for_lesson_2_and_it_opens(
    live_server, new_context, lessons, mailoutbox, screenshot
):
    one, two, three = lessons
    page = new_context(viewport={"width": 900, "height": 700}).new_page()

    page.goto(live_server.url + one.url)
    page.get_by_label("Email address").fill("ana@example.com")
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code from the email").fill(code_from(wait_for_mail(page, mailoutbox)))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(live_server.url + one.url)
    expect(page.locator(".body")).to_have_text("Body of lesson 1.")

    grant = Grant.objects.get()
    page.goto(live_server.url + two.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Lesson 2")
    expect(page.get_by_role("status")).to_have_text(
        f"This lesson opens on {moments.moment(grant.created_at + WEEK)}."
    )
    expect(page.locator("main")).not_to_contain_text("Body of lesson 2.")
    lessons_list = page.locator("[data-wma-lessons] li")
    expect(lessons_list).to_have_count(2)
    expect(lessons_list.nth(0).get_by_role("link", name="Lesson 1")).to_be_visible()
    expect(lessons_list.nth(1)).to_contain_text("Lesson 3 opens on")
    screenshot(page, "opens-on")
    docs_img(page, "drip-opens-on")

    page.goto(live_server.url + reverse("wagtail_member_access:my_access"))
    expect(page.locator("[data-wma-opens]")).to_have_count(2)
    expect(page.locator("[data-wma-opens]").first).to_contain_text("Lesson 2 opens on")
    docs_img(page, "drip-my-access")

    # A week passes: the grant's start moves back a week.
    Grant.objects.filter(pk=grant.pk).update(starts_at=timezone.now() - WEEK)
    page.goto(live_server.url + two.url)
    expect(page.locator(".body")).to_have_text("Body of lesson 2.")
    page.goto(live_server.url + three.url)
    expect(page.get_by_role("status")).to_contain_text("This lesson opens on")
    assert len(mailoutbox) == 1


def test_an_editor_sets_the_delay(live_server, new_context, lessons):
    _, two, _ = lessons
    UserFactory(username="admin", password=PASSWORD, is_superuser=True)
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in_to_admin(page, live_server.url, "admin", PASSWORD)
    page.goto(live_server.url + reverse("wagtail_member_access_pages:edit", args=[two.pk]))
    field = page.get_by_label("Opens after (days)")
    expect(field).to_have_value("7")
    expect(page.locator("[data-wma-opens-after]").first).to_have_text(
        "Opens 7 days after the member's access starts"
    )
    docs_img(page, "admin-page-access-drip", 1500)
    field.fill("14")
    page.get_by_role("button", name="Save member access").click()
    expect(page.locator("[data-wma-opens-after]").first).to_have_text(
        "Opens 14 days after the member's access starts"
    )
