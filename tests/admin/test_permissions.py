"""Django model permissions decide what the admin shows and allows: exactly view, add,
change and delete, per model."""

from __future__ import annotations

import pytest

from tests.admin.conftest import editor_with
from tests.factories import GrantFactory

pytestmark = pytest.mark.django_db

GRANTS = "/admin/member-access/grants/"
LISTS = "/admin/member-access/lists/"


def denied(response) -> bool:
    """Wagtail answers a PermissionDenied in the admin with a redirect to the dashboard and
    the message "Sorry, you do not have permission to access this area." (a 403 for
    requests that expect JSON)."""
    return response.status_code == 302 and response.url == "/admin/"


def menu_labels(client):
    html = client.get("/admin/").content.decode()
    return {label for label in ("Member access", "Access lists", "Grants") if label in html}


def test_menu_only_for_users_with_a_permission(client, editor, course):
    nobody = editor_with()
    client.force_login(nobody)
    assert menu_labels(client) == set()
    assert denied(client.get(GRANTS))
    assert denied(client.get(LISTS))
    assert denied(client.get(f"{LISTS}{course.pk}/import/"))

    client.force_login(editor)
    assert menu_labels(client) == {"Member access", "Access lists", "Grants"}


def test_view_only_user_sees_the_listing_but_cannot_change(viewer_client, course):
    grant = GrantFactory(access_list=course, email="ana@example.com")
    response = viewer_client.get(f"{GRANTS}?access_list={course.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "ana@example.com" in html
    assert "Add grant" not in html
    assert "Import CSV" not in html
    assert "data-bulk-action-checkbox" not in html
    assert "bulk-actions.js" not in html
    assert f"{GRANTS}edit/{grant.pk}/" not in html
    assert denied(viewer_client.get(f"{GRANTS}new/"))
    assert denied(viewer_client.get(f"{GRANTS}edit/{grant.pk}/"))
    assert denied(viewer_client.get(f"{LISTS}{course.pk}/import/"))
    for action in ("extend", "set_unlimited", "revoke", "restore", "resend"):
        url = f"/admin/bulk/wagtail_member_access/grant/{action}/?id={grant.pk}"
        assert denied(viewer_client.get(url)), action
        assert denied(viewer_client.post(url, {"days": 5})), action
    grant.refresh_from_db()
    assert grant.revoked_at is None and grant.expires_at is None


def test_change_without_add_cannot_import(client, course):
    GrantFactory(access_list=course)
    user = editor_with("view_grant", "change_grant")
    client.force_login(user)
    assert denied(client.get(f"{LISTS}{course.pk}/import/"))
    html = client.get(f"{GRANTS}?access_list={course.pk}").content.decode()
    assert "Import CSV" not in html
    assert "data-bulk-action-checkbox" in html  # change allows the bulk actions


def test_list_permissions_are_separate_from_grant_permissions(client, course):
    client.force_login(editor_with("view_grant"))
    assert client.get(GRANTS).status_code == 200
    assert denied(client.get(LISTS))
    assert menu_labels(client) == {"Member access", "Grants"}
