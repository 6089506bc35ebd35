"""The permission to change member access: offered in Wagtail's group editor, and without it
the "Member access" view is read-only (on Wagtail 7.4 and 8; the dialog's side of it:
test_privacy_dialog.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.admin.test_privacy_dialog import publisher
from tests.factories import make_page
from wagtail_member_access.models import PageAccessRestriction

pytestmark = pytest.mark.django_db


@pytest.fixture
def lesson(home):
    return make_page(home, title="Lesson", slug="lesson")


def test_the_permission_is_offered_in_wagtails_group_editor(admin_client):
    response = admin_client.get(reverse("wagtailusers_groups:add"))
    assert "Can change member access of pages" in response.content.decode()


def test_member_access_view_refuses_changes_without_the_permission(client, lesson, course):
    client.force_login(publisher(lesson, may_change=False))
    view = reverse("wagtail_member_access_pages:edit", args=[lesson.pk])
    response = client.get(view)
    assert response.status_code == 200
    assert "data-wma-read-only" in response.content.decode()
    response = client.post(view, {"mode": "code", "access_lists": [course.pk]})
    assert response.status_code == 302 and response.url == reverse("wagtailadmin_home")
    assert not PageAccessRestriction.objects.exists()
