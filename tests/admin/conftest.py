"""Users with exactly the permissions an admin would give editors: Wagtail admin access plus
the model permissions on access lists and grants."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from wagtail.models import Page, Site

from tests.factories import UserFactory
from tests.testapp.models import SimplePage
from wagtail_member_access.models import BulkEmailJob


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


def confirmation_of(response) -> str:
    """The confirmation the bulk email form's send button carries (fails when there is none)."""
    soup = BeautifulSoup(response.content.decode(), "html.parser")
    (field,) = soup.select('input[name="confirmation"]')
    return field["value"]


def send_bulk_email(client, data: dict):
    """Press the bulk email form's send button, then confirm what it shows: the response to
    the confirming press."""
    add = reverse("wagtail_member_access_bulk_emails:add")
    jobs = BulkEmailJob.objects.count()
    first = client.post(add, data)
    assert first.status_code == 200
    assert BulkEmailJob.objects.count() == jobs  # the first press sends nothing
    return client.post(add, {**data, "confirmation": confirmation_of(first)})


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
