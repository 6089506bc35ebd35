"""The migrations follow Wagtail 8's swappable page model (``WAGTAIL_PAGE_MODEL``, through
swapper), so a site with its own page model can install the package."""

from __future__ import annotations

import importlib

import pytest
import swapper
from django.db import migrations
from wagtail.models import Page

from wagtail_member_access.models import EmailChallenge, PageAccessRestriction

INITIAL = importlib.import_module("wagtail_member_access.migrations.0001_initial").Migration


def page_fields():
    for operation in INITIAL.operations:
        if isinstance(operation, migrations.CreateModel):
            for name, field in operation.fields:
                if name == "page":
                    yield operation.name, field


def test_the_page_foreign_keys_name_the_swappable_page_model():
    found = dict(page_fields())
    assert set(found) == {"PageAccessRestriction", "EmailChallenge"}
    for field in found.values():
        assert field.remote_field.model == swapper.get_model_name("wagtailcore", "Page")
    assert swapper.dependency("wagtailcore", "Page") in INITIAL.dependencies


@pytest.mark.skipif(
    not Page._meta.swappable, reason="Wagtail 7.x has no swappable page model (WAGTAIL_PAGE_MODEL)"
)
@pytest.mark.parametrize("model", [PageAccessRestriction, EmailChallenge])
def test_the_models_page_fields_follow_wagtail_page_model(model):
    field = model._meta.get_field("page")
    assert field.swappable_setting == "WAGTAIL_PAGE_MODEL"
    # What makemigrations writes: a reference to the setting, not "wagtailcore.page".
    assert getattr(field.deconstruct()[3]["to"], "setting_name", None) == "WAGTAIL_PAGE_MODEL"


RENAME = importlib.import_module("wagtail_member_access.migrations.0004_bulk_kind_sign_in_link")


@pytest.mark.django_db
def test_bulk_jobs_of_the_old_sign_in_kind_become_sign_in_link():
    from django.apps import apps

    from wagtail_member_access.models import BulkEmailJob

    old = BulkEmailJob.objects.create(kind="sign_in", recipients=["ana@example.com"], total=1)
    other = BulkEmailJob.objects.create(kind="reset", recipients=["ben@example.com"], total=1)
    RENAME.rename_forward(apps, None)
    assert BulkEmailJob.objects.get(pk=old.pk).kind == "sign_in_link"
    assert BulkEmailJob.objects.get(pk=other.pk).kind == "reset"
    RENAME.rename_backward(apps, None)
    assert BulkEmailJob.objects.get(pk=old.pk).kind == "sign_in"


PERMISSION = importlib.import_module(
    "wagtail_member_access.migrations.0011_change_member_access_permission"
)


@pytest.mark.django_db
def test_groups_that_may_publish_pages_keep_changing_member_access(home):
    """Before the permission existed, "publish" on a page was enough: the upgrade gives it to
    groups that have "publish", to no other (docs/editor-guide.md#who-may-change-member-access)."""
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission
    from wagtail.models import GroupPagePermission

    publishers = Group.objects.create(name="Publishers")
    writers = Group.objects.create(name="Writers")
    for group, codename in ((publishers, "publish_page"), (writers, "change_page")):
        GroupPagePermission.objects.create(
            group=group, page=home, permission=Permission.objects.get(codename=codename)
        )
    PERMISSION.give_to_publishers(apps, None)
    PERMISSION.give_to_publishers(apps, None)  # again: nothing twice
    holders = Permission.objects.get(codename="change_member_access").group_set.all()
    assert publishers in holders
    assert writers not in holders
    assert list(holders.filter(pk=publishers.pk)) == [publishers]
