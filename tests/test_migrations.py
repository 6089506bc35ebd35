"""The migrations follow Wagtail 8's swappable page model (``WAGTAIL_PAGE_MODEL``, through
swapper), so a site with its own page model can install the package; the release's migration
(0004_release_0_2) upgrades 0.1.0's data and stands for the development migrations it
replaces."""

from __future__ import annotations

import importlib

import pytest
import swapper
from django.db import connection, migrations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
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


RELEASE = importlib.import_module("wagtail_member_access.migrations.0004_release_0_2")


@pytest.mark.django_db
def test_bulk_jobs_of_the_old_sign_in_kind_become_sign_in_link():
    from django.apps import apps

    from wagtail_member_access.models import BulkEmailJob

    old = BulkEmailJob.objects.create(kind="sign_in", recipients=["ana@example.com"], total=1)
    other = BulkEmailJob.objects.create(kind="reset", recipients=["ben@example.com"], total=1)
    RELEASE.rename_forward(apps, None)
    assert BulkEmailJob.objects.get(pk=old.pk).kind == "sign_in_link"
    assert BulkEmailJob.objects.get(pk=other.pk).kind == "reset"
    RELEASE.rename_backward(apps, None)
    assert BulkEmailJob.objects.get(pk=old.pk).kind == "sign_in"


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
    RELEASE.give_to_publishers(apps, None)
    RELEASE.give_to_publishers(apps, None)  # again: nothing twice
    holders = Permission.objects.get(codename="change_member_access").group_set.all()
    assert publishers in holders
    assert writers not in holders
    assert list(holders.filter(pk=publishers.pk)) == [publishers]


DEVELOPMENT_MIGRATIONS = [
    "0004_bulk_kind_sign_in_link",
    "0005_mirror_rows",
    "0006_collection_access",
    "0007_email_templates",
    "0008_grant_indexes",
    "0009_member_accounts",
    "0010_challenge_send_retries",
    "0011_change_member_access_permission",
    "0012_email_sends",
    "0013_drip",
    "0014_domain_grants",
]


def test_the_release_migration_replaces_the_development_ones():
    assert RELEASE.Migration.replaces == [
        ("wagtail_member_access", name) for name in DEVELOPMENT_MIGRATIONS
    ]
    assert swapper.dependency("wagtailcore", "Page") in RELEASE.Migration.dependencies


@pytest.mark.django_db
def test_a_database_that_applied_the_development_migrations_migrates_nothing():
    app = "wagtail_member_access"
    recorder = MigrationRecorder(connection)
    recorder.migration_qs.filter(app=app, name="0004_release_0_2").delete()
    for name in DEVELOPMENT_MIGRATIONS:
        recorder.record_applied(app, name)
    executor = MigrationExecutor(connection)
    assert (app, "0004_release_0_2") in executor.loader.applied_migrations
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


@pytest.mark.django_db(transaction=True)
def test_a_site_upgrading_from_0_1_0_gets_its_data_migrated():
    """0.1.0's last migration is 0003: the release's migration gives its protected pages their
    mirror rows, renames the old sign-in link kind and gives publishers the new permission."""
    from django.contrib.auth.models import Group, Permission
    from wagtail.models import GroupPagePermission, PageViewRestriction

    from tests.factories import ensure_default_home, make_page
    from wagtail_member_access.models import BulkEmailJob

    app = "wagtail_member_access"
    home = ensure_default_home()  # a transactional test before this one may have emptied it
    page = make_page(home, title="Lesson", slug="lesson")
    publishers = Group.objects.create(name="Publishers")
    writers = Group.objects.create(name="Writers")
    for group, codename in ((publishers, "publish_page"), (writers, "change_page")):
        GroupPagePermission.objects.create(
            group=group, page=home, permission=Permission.objects.get(codename=codename)
        )
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([(app, "0003_grant_references")])
        Permission.objects.filter(codename="change_member_access").delete()  # 0.1.0 had none
        old = (
            MigrationExecutor(connection).loader.project_state((app, "0003_grant_references")).apps
        )
        old.get_model(app, "PageAccessRestriction").objects.create(page_id=page.pk, mode="code")
        job = old.get_model(app, "BulkEmailJob").objects.create(kind="sign_in", total=1)
        executor = MigrationExecutor(connection)
        executor.migrate([(app, "0004_release_0_2")])
        rows = PageViewRestriction.objects.filter(restriction_type="member_access")
        assert list(rows.values_list("page_id", flat=True)) == [page.pk]
        assert BulkEmailJob.objects.get(pk=job.pk).kind == "sign_in_link"
        holders = Permission.objects.get(codename="change_member_access").group_set.all()
        assert publishers in holders
        assert writers not in holders
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes(app))


@pytest.mark.django_db
def test_columns_added_to_0_1_0_tables_have_database_defaults():
    """During a rolling upgrade 0.1.0 code still runs after ``migrate``: its inserts into
    its tables leave out the columns this release added, so a column that is NOT NULL has a
    default in the database (docs/deployment.md#upgrades-with-migrations)."""
    release = importlib.import_module("wagtail_member_access.migrations.0004_release_0_2").Migration
    added = [op for op in release.operations if isinstance(op, migrations.AddField)]
    required = [op for op in added if not op.field.null and not op.field.many_to_many]
    assert {(op.model_name, op.name) for op in required} == {
        ("emailchallenge", "send_attempts"),
        ("memberprofile", "language"),
    }
    from django.apps import apps

    with connection.cursor() as cursor:
        for op in required:
            model = apps.get_model("wagtail_member_access", op.model_name)
            column = model._meta.get_field(op.name).column
            description = connection.introspection.get_table_description(
                cursor, model._meta.db_table
            )
            default = next(info.default for info in description if info.name == column)
            assert default is not None, (model._meta.db_table, column)
