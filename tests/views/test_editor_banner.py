"""Editors who may edit a member-protected page see it without unlocking, under a banner that
says how it is protected; nobody else does, and nobody else gets the banner."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from wagtail.models import GroupPagePermission
from wagtail.users.models import UserProfile

from tests.factories import UserFactory, make_page
from wagtail_member_access import api

pytestmark = pytest.mark.django_db

SECRET = "Secret body of Members lesson"
BANNER = "data-wma-editor-banner"


def page_editor(page, username="writer", codename="change_page"):
    """A Wagtail editor with ``codename`` on ``page`` and below (no grants, no superuser)."""
    group = Group.objects.create(name=f"Editors of {page.slug} {codename}")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    GroupPagePermission.objects.create(
        group=group, page=page, permission=Permission.objects.get(codename=codename)
    )
    user = UserFactory(username=username, email=f"{username}@example.com")
    user.groups.add(group)
    return user


def test_an_editor_sees_the_page_with_the_banner(client, protected_page):
    client.force_login(page_editor(protected_page))
    response = client.get(protected_page.url)
    html = response.content.decode()
    assert SECRET in html
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    # Right after <body>, naming the mode and the list, linking to the Member access view.
    banner = html[html.index("<body>") + len("<body>") : html.index("<h1>")]
    assert BANNER in banner
    assert "One-time email code (Course A)" in banner
    assert reverse("wagtail_member_access_pages:edit", args=[protected_page.pk]) in banner


def test_the_banner_names_an_inherited_restriction_and_its_page(client, home, course):
    section = make_page(home, title="Section", slug="section")
    child = make_page(section, title="Child", slug="child")
    staff = Group.objects.create(name="Staff")
    api.protect(section, mode="members", groups=[staff])
    client.force_login(page_editor(section))
    html = client.get(child.url).content.decode()
    assert "Signed-in members (Staff) set on “Section”" in html


def test_a_member_with_a_grant_gets_no_banner(client, protected_page, buyer):
    client.force_login(UserFactory(username="ana", email="ana@example.com"))
    html = client.get(protected_page.url).content.decode()
    assert SECRET in html
    assert BANNER not in html


def test_nobody_else_sees_the_page_or_the_banner(client, home, protected_page):
    other = make_page(home, title="Other", slug="other")
    visitors = [
        None,  # a stranger
        UserFactory(username="ben", email="ben@example.com"),  # a member without a grant
        page_editor(other, "other-editor"),  # edits another page
        page_editor(protected_page, "viewer", "view_page") if _has_view_page() else None,
        UserFactory(username="staff", email="staff@example.com", is_staff=True),
    ]
    for user in visitors:
        client.logout()
        if user is not None:
            client.force_login(user)
        html = client.get(protected_page.url).content.decode()
        assert SECRET not in html, user
        assert BANNER not in html, user


def _has_view_page() -> bool:
    return Permission.objects.filter(
        content_type__app_label="wagtailcore", codename="view_page"
    ).exists()


def test_a_public_page_has_no_banner_for_editors(client, home):
    page = make_page(home, title="Open", slug="open")
    client.force_login(page_editor(page))
    assert BANNER not in client.get(page.url).content.decode()


def test_preview_always_shows_the_page(protected_page):
    # Wagtail's preview serves the page without the serve hook: no unlock form, no banner.
    response = protected_page.make_preview_request()
    html = response.content.decode()
    assert SECRET in html
    assert BANNER not in html


def test_the_banner_speaks_the_editors_admin_language(client, protected_page):
    """The demo walkthrough found the banner in the browser's language: the editor's admin
    language (Wagtail's account settings) wins, as in the admin."""
    editor = page_editor(protected_page)
    client.force_login(editor)
    assert "Protected page" in client.get(protected_page.url).content.decode()
    profile = UserProfile.get_for_user(editor)
    profile.preferred_language = "de"
    profile.save()
    html = client.get(protected_page.url).content.decode()
    banner = html[html.index("<body>") : html.index("<h1>")]
    assert "Geschützte Seite" in banner
    assert "Sie sehen sie, weil Sie sie bearbeiten dürfen." in banner
    assert "Protected page" not in banner
    # The page around it is not the banner's business: served as before.
    assert SECRET in html
