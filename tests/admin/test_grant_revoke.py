"""Revoking one grant from its row's "⋯" menu or its edit page: a confirmation page, then
grants.revoke_many as the bulk action "Revoke" (audit log, access_revoked); only with the
"change grant" permission; a revoked grant offers no "Revoke"."""

from __future__ import annotations

import pytest
from django.urls import reverse
from wagtail.models import ModelLogEntry

from tests.factories import GrantFactory
from wagtail_member_access.models import Grant
from wagtail_member_access.signals import access_revoked

pytestmark = pytest.mark.django_db

GRANTS = reverse("wagtail_member_access_grants:index")


def revoke_url(grant) -> str:
    return reverse("wagtail_member_access_grants:revoke", args=(grant.pk,))


def edit_url(grant) -> str:
    return reverse("wagtail_member_access_grants:edit", args=(grant.pk,))


@pytest.fixture
def revoked():
    calls = []

    def receiver(sender, **kwargs):
        calls.append(kwargs["grant"].pk)

    access_revoked.connect(receiver)
    yield calls
    access_revoked.disconnect(receiver)


def messages(response) -> list[str]:
    return [str(m).strip() for m in response.wsgi_request._messages]


def test_revoke_asks_first_then_revokes_logs_and_signals(
    editor_client, editor, course, revoked, django_capture_on_commit_callbacks
):
    grant = GrantFactory(access_list=course, email="ana@example.com")
    page = editor_client.get(revoke_url(grant))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Revoke the access of ana@example.com to “Course A”?" in html
    assert ">Revoke access</button>" in html
    grant.refresh_from_db()
    assert grant.revoked_at is None  # asking changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(revoke_url(grant))
    assert response.status_code == 302
    assert response.url == f"{GRANTS}?access_list={course.pk}"
    grant.refresh_from_db()
    assert grant.revoked_at is not None and not grant.is_active()
    assert revoked == [grant.pk]
    entry = ModelLogEntry.objects.get()
    assert (entry.action, entry.user) == ("wagtail_member_access.revoke", editor)
    assert messages(response) == ["Access of ana@example.com on “Course A” revoked."]


def test_revoking_a_revoked_grant_changes_nothing(editor_client, course, revoked):
    grant = GrantFactory(access_list=course, email="ana@example.com")
    editor_client.post(revoke_url(grant))
    grant.refresh_from_db()
    first = grant.revoked_at
    ModelLogEntry.objects.all().delete()
    assert "This grant is already revoked." in editor_client.get(revoke_url(grant)).content.decode()
    response = editor_client.post(revoke_url(grant))
    grant.refresh_from_db()
    assert grant.revoked_at == first
    assert not ModelLogEntry.objects.exists()
    assert messages(response) == ["The grant of ana@example.com on “Course A” was already revoked."]


def test_revoke_needs_the_change_permission(viewer_client, course):
    grant = GrantFactory(access_list=course)
    assert viewer_client.get(revoke_url(grant)).status_code == 302  # Wagtail: "no permission"
    assert viewer_client.post(revoke_url(grant)).status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is None
    assert revoke_url(grant) not in viewer_client.get(GRANTS).content.decode()


def test_revoke_of_an_unknown_grant_is_not_found(editor_client):
    url = reverse("wagtail_member_access_grants:revoke", args=(999999,))
    assert editor_client.post(url).status_code == 404
    assert not Grant.objects.exists()


def test_the_rows_menu_and_the_edit_page_offer_revoke_for_a_grant_not_revoked(
    editor_client, course
):
    active = GrantFactory(access_list=course, email="ana@example.com")
    gone = GrantFactory(access_list=course, email="bo@example.com")
    editor_client.post(revoke_url(gone))
    listing = editor_client.get(GRANTS).content.decode()
    assert f'href="{revoke_url(active)}"' in listing
    assert revoke_url(gone) not in listing
    assert f'href="{revoke_url(active)}"' in editor_client.get(edit_url(active)).content.decode()
    assert revoke_url(gone) not in editor_client.get(edit_url(gone)).content.decode()
