"""Domain grants in a real browser: an editor (admin access and the grant permissions only)
finds "3 of 3 seats used" in the grants listing, opens the seats view, sees who holds the
seats and frees one.

With WMA_DOCS_IMG=1 the test saves docs/img/admin-seats.png for docs/courses-and-teams.md
(``WMA_DOCS_IMG=1 .venv/bin/pytest tests/browser/test_domain_grants.py``).
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_to_admin
from tests.browser.test_admin_lists import PASSWORD, docs_img, editor  # noqa: F401 (fixtures)
from tests.factories import make_page
from wagtail_member_access import api, seats
from wagtail_member_access.models import Seat

pytestmark = pytest.mark.browser


@pytest.fixture
def school(site_root):
    course = api.create_access_list("Chemistry course")
    lesson = make_page(site_root, title="Chemistry lesson 1", slug="chemistry-1")
    api.protect(lesson, mode="code", access_lists=[course])
    grant = api.grant_access("@School.example", course, seats=3)
    for name in ("ana", "ben", "cem"):
        seats.take(grant.pk, f"{name}@school.example")
    return course, grant


def test_editor_sees_the_seats_and_frees_one(live_server, new_context, editor, school, docs_img):  # noqa: F811 (fixtures)
    course, grant = school
    context = new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    sign_in_to_admin(page, live_server.url, "editor", PASSWORD)
    grants = reverse("wagtail_member_access_grants:index")
    page.goto(f"{live_server.url}{grants}?access_list={course.pk}")
    page.get_by_role("link", name="3 of 3 seats used").click()

    expect(page.locator("[data-seats-used]")).to_contain_text("3 of 3 seats used")
    rows = page.locator("[data-seats] tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("ana@school.example")
    docs_img(page, "seats")

    page.get_by_role("button", name="Free seat of ben@school.example").click()
    expect(page.locator(".messages")).to_contain_text(
        "The seat of ben@school.example is free again."
    )
    expect(page.locator("[data-seats-used]")).to_contain_text("2 of 3 seats used")
    assert sorted(Seat.objects.values_list("email", flat=True)) == [
        "ana@school.example",
        "cem@school.example",
    ]
