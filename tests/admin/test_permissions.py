"""Django model permissions decide what the admin shows and allows: exactly view, add,
change and delete, per model."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from wagtail.models import ModelLogEntry

from tests.admin.conftest import editor_with
from tests.factories import GrantFactory
from wagtail_member_access.models import Grant
from wagtail_member_access.signals import access_revoked

pytestmark = pytest.mark.django_db


def grants_url(view="index", *args) -> str:
    return reverse(f"wagtail_member_access_grants:{view}", args=args)


def lists_url(view="index", *args) -> str:
    return reverse(f"wagtail_member_access_lists:{view}", args=args)


def bulk_url(action) -> str:
    return reverse("wagtail_bulk_action", args=["wagtail_member_access", "grant", action])


def denied(response) -> bool:
    """Wagtail answers a PermissionDenied in the admin with a redirect to the dashboard and
    the message "Sorry, you do not have permission to access this area." (a 403 for
    requests that expect JSON)."""
    return response.status_code == 302 and response.url == reverse("wagtailadmin_home")


def menu_labels(client):
    html = client.get(reverse("wagtailadmin_home")).content.decode()
    return {label for label in ("Member access", "Access lists", "Grants") if label in html}


def test_menu_only_for_users_with_a_permission(client, editor, course):
    nobody = editor_with()
    client.force_login(nobody)
    assert menu_labels(client) == set()
    assert denied(client.get(grants_url()))
    assert denied(client.get(lists_url()))
    assert denied(client.get(lists_url("import", course.pk)))

    client.force_login(editor)
    assert menu_labels(client) == {"Member access", "Access lists", "Grants"}


def test_view_only_user_sees_the_listing_but_cannot_change(viewer_client, course):
    grant = GrantFactory(access_list=course, email="ana@example.com")
    response = viewer_client.get(f"{grants_url()}?access_list={course.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "ana@example.com" in html
    assert "Add grant" not in html
    assert "Import CSV" not in html
    assert "data-bulk-action-checkbox" not in html
    assert "bulk-actions.js" not in html
    assert grants_url("edit", grant.pk) not in html
    assert denied(viewer_client.get(grants_url("add")))
    assert denied(viewer_client.get(grants_url("edit", grant.pk)))
    assert denied(viewer_client.get(lists_url("import", course.pk)))
    for action in ("extend", "set_unlimited", "revoke", "restore", "resend"):
        url = f"{bulk_url(action)}?id={grant.pk}"
        assert denied(viewer_client.get(url)), action
        assert denied(viewer_client.post(url, {"days": 5})), action
    grant.refresh_from_db()
    assert grant.revoked_at is None and grant.expires_at is None


def test_change_without_add_cannot_import(client, course):
    GrantFactory(access_list=course)
    user = editor_with("view_grant", "change_grant")
    client.force_login(user)
    assert denied(client.get(lists_url("import", course.pk)))
    html = client.get(f"{grants_url()}?access_list={course.pk}").content.decode()
    assert "Import CSV" not in html
    assert "data-bulk-action-checkbox" in html  # change allows the bulk actions


def test_list_permissions_are_separate_from_grant_permissions(client, course):
    client.force_login(editor_with("view_grant"))
    assert client.get(grants_url()).status_code == 200
    assert denied(client.get(lists_url()))
    assert menu_labels(client) == {"Member access", "Grants"}


def test_deleting_a_grant_needs_the_delete_permission(client, course):
    grant = GrantFactory(access_list=course, email="ana@example.com")
    client.force_login(editor_with("view_grant", "change_grant"))
    assert denied(client.get(grants_url("delete", grant.pk)))
    assert denied(client.post(grants_url("delete", grant.pk)))
    assert Grant.objects.filter(pk=grant.pk).exists()


def test_deleting_a_grant_goes_through_the_grant_path(
    client, course, django_capture_on_commit_callbacks
):
    # The access ends, the record goes, the audit log says who deleted it, and receivers of
    # access_revoked hear of it (only for a grant that was active).
    active = GrantFactory(access_list=course, email="ana@example.com")
    ended = GrantFactory(access_list=course, email="bo@example.com", revoked_at=timezone.now())
    heard = []

    def receiver(sender, grant, **kwargs):
        heard.append((grant.pk, grant.email, kwargs.get("deleted")))

    access_revoked.connect(receiver)
    try:
        user = editor_with("view_grant", "delete_grant")
        client.force_login(user)
        page = client.get(grants_url("delete", active.pk)).content.decode()
        assert "ana@example.com" in page
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(grants_url("delete", active.pk))
            client.post(grants_url("delete", ended.pk))
    finally:
        access_revoked.disconnect(receiver)
    assert response.status_code == 302
    assert response.url == f"{grants_url()}?access_list={course.pk}"
    assert not Grant.objects.exists()
    assert heard == [(active.pk, "ana@example.com", True)]
    entries = ModelLogEntry.objects.filter(action="wagtail.delete").order_by("pk")
    assert [(e.object_id, e.user_id, e.deleted) for e in entries] == [
        (str(active.pk), user.pk, True),
        (str(ended.pk), user.pk, True),
    ]
