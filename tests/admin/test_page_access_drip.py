"""The "Member access" view's drip field: "Opens N days after the member's access starts",
shown and set through api.protect (validation and audit log included)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from wagtail.models import PageLogEntry

from tests.admin.test_page_access import messages_of, text, url
from tests.factories import make_collection, make_page
from wagtail_member_access import api, compat
from wagtail_member_access.models import PageAccessRestriction

pytestmark = pytest.mark.django_db


@pytest.fixture
def lesson(home):
    return make_page(home, title="Lesson 2", slug="lesson-2")


def test_the_view_shows_the_delay(admin_client, lesson, course):
    api.protect(lesson, mode="code", access_lists=[course], opens_after=timedelta(days=7))
    response = admin_client.get(url(lesson))
    html = response.content.decode()
    assert "Opens 7 days after the member's access starts" in text(html)
    assert response.context["form"]["opens_after"].value() == 7


def test_the_delay_is_set_changed_and_removed(admin_client, lesson, course):
    data = {"mode": "code", "access_lists": [course.pk], "opens_after": "7"}
    response = admin_client.post(url(lesson), data)
    assert response.status_code == 302
    restriction = PageAccessRestriction.objects.get(page=lesson)
    assert restriction.opens_after == timedelta(days=7)
    response = admin_client.post(url(lesson), data)
    assert messages_of(admin_client.get(response.url))[-1] == "Nothing changed."
    admin_client.post(url(lesson), data | {"opens_after": ""})
    restriction.refresh_from_db()
    assert restriction.opens_after is None
    entries = PageLogEntry.objects.filter(page=lesson, action="wagtail_member_access.drip")
    assert [e.data["days"] for e in entries.order_by("pk")] == [7, None]


@pytest.mark.parametrize(
    ("days", "error"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("3651", "Ensure this value is less than or equal to 3650."),
        ("1.5", "Enter a whole number."),
    ],
)
def test_a_bad_delay_is_refused(admin_client, lesson, course, days, error):
    data = {"mode": "code", "access_lists": [course.pk], "opens_after": days}
    response = admin_client.post(url(lesson), data)
    assert response.status_code == 200
    assert response.context["form"].errors["opens_after"] == [error]
    assert not PageAccessRestriction.objects.filter(page=lesson).exists()


def test_members_only_without_lists_cannot_drip(admin_client, lesson):
    response = admin_client.post(url(lesson), {"mode": "members", "opens_after": "7"})
    assert response.status_code == 200
    assert response.context["form"].errors["opens_after"] == [
        "Opening a page some days after a member's access starts needs at least one access "
        "list: the days count from the start of the member's grant on it, and signed-in "
        "members or groups have no such start."
    ]
    assert not PageAccessRestriction.objects.filter(page=lesson).exists()


def test_collections_have_no_delay(admin_client):
    collection = make_collection()
    response = admin_client.get(
        reverse("wagtail_member_access_collections:edit", args=[collection.pk])
    )
    assert response.status_code == 200
    assert "opens_after" not in response.context["form"].fields


@pytest.mark.skipif(
    not compat.privacy_view_replaceable(), reason="Wagtail 7.4 keeps its own privacy dialog"
)
def test_the_privacy_dialog_keeps_the_delay(admin_client, lesson, course):
    api.protect(lesson, mode="code", access_lists=[course], opens_after=timedelta(days=7))
    response = admin_client.post(
        reverse("wagtailadmin_pages:set_privacy", args=[lesson.pk]),
        {"restriction_type": "link", "member-access_lists": [course.pk]},
    )
    assert response.status_code == 200
    restriction = PageAccessRestriction.objects.get(page=lesson)
    assert (restriction.mode, restriction.opens_after) == ("link", timedelta(days=7))
