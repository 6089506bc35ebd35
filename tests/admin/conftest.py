"""Users with exactly the permissions an admin would give editors: Wagtail admin access plus
the model permissions on access lists and grants."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from wagtail.models import Page, Site

from tests.factories import UserFactory
from tests.testapp.models import SimplePage


def editor_with(*codenames):
    """A user in a group with Wagtail admin access and the given permissions
    (``view_grant``, ``change_grant`` …)."""
    group = Group.objects.create(name="Editors " + "-".join(codenames))
    perms = Permission.objects.filter(
        content_type__app_label__in=["wagtailadmin", "wagtail_member_access"],
        codename__in=["access_admin", *codenames],
    )
    assert perms.count() == len(codenames) + 1, codenames
    group.permissions.set(perms)
    user = UserFactory(username="editor-" + "-".join(codenames) if codenames else "nobody")
    user.groups.add(group)
    return user


ALL_GRANT = ("view_grant", "add_grant", "change_grant", "delete_grant")
ALL_LIST = ("view_accesslist", "add_accesslist", "change_accesslist", "delete_accesslist")


@pytest.fixture
def editor(db):
    return editor_with(*ALL_GRANT, *ALL_LIST)


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def viewer(db):
    return editor_with("view_grant", "view_accesslist")


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def site_b(db):
    """A second site, with its own home page."""
    root = Page.get_first_root_node()
    home_b = root.add_child(instance=SimplePage(title="Home B", slug="home-b"))
    return Site.objects.create(hostname="b.example", port=80, root_page=home_b)
