"""Wagtail's documents APIs v2 and v3 and its collection privacy dialog with member access on
a collection (docs/security.md#documents)."""

import json
from importlib.util import find_spec

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.urls import reverse
from wagtail.models import Collection, CollectionViewRestriction

from tests.factories import UserFactory, make_collection, make_document
from wagtail_member_access import api, compat_documents
from wagtail_member_access.models import CollectionAccessRestriction

needs_api_v3 = pytest.mark.skipif(
    find_spec("wagtail.api.v3") is None, reason="Wagtail's API v3 is new in Wagtail 8"
)
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture
def secret(files):
    return make_document(make_collection("Week 1", parent=files), title="Secret workbook")


@pytest.fixture
def public():
    return make_document(make_collection("Flyers"), title="Public flyer")


def titles(response) -> set[str]:
    data = response.json()  # v2: {"meta", "items"}; v3: {"items", "count"} or a list
    items = data["items"] if isinstance(data, dict) else data
    return {item["title"] for item in items}


def member_rows():
    return set(
        CollectionViewRestriction.objects.filter(
            restriction_type=compat_documents.MEMBER_ACCESS
        ).values_list("collection_id", flat=True)
    )


@pytest.mark.parametrize("version", ["v2", pytest.param("v3", marks=needs_api_v3)])
def test_documents_api_hides_protected_documents_from_strangers(client, secret, public, version):
    response = client.get(f"/api/{version}/documents/")
    assert response.status_code == 200
    assert titles(response) == {"Public flyer"}
    assert client.get(f"/api/{version}/documents/{secret.pk}/").status_code == 404
    assert client.get(f"/api/{version}/documents/{public.pk}/").status_code == 200


@pytest.mark.parametrize("version", ["v2", pytest.param("v3", marks=needs_api_v3)])
def test_documents_api_hides_them_from_members_without_a_grant(client, secret, public, version):
    client.force_login(UserFactory(email="eve@example.com"))
    assert titles(client.get(f"/api/{version}/documents/")) == {"Public flyer"}


def test_api_v2_shows_them_to_members_with_a_grant(client, secret, public, buyer):
    client.force_login(UserFactory(email="ana@example.com"))
    assert titles(client.get("/api/v2/documents/")) == {"Public flyer", "Secret workbook"}
    assert client.get(f"/api/v2/documents/{secret.pk}/").status_code == 200


@needs_api_v3
def test_api_v3_treats_session_members_as_anonymous(client, secret, public, buyer):
    # Wagtail's v3 resets request.user to AnonymousUser for session clients (AllowAnonymous).
    client.force_login(UserFactory(email="ana@example.com"))
    assert titles(client.get("/api/v3/documents/")) == {"Public flyer"}


@needs_api_v3
def test_api_v3_shows_them_to_a_token_editor_who_may_change_documents(client, secret, public):
    from wagtail.models.api import APIToken  # Wagtail 8

    editor = get_user_model().objects.create_superuser("editor", "editor@example.com", "x")
    _, key = APIToken.create_token(user=editor, name="CI")
    response = client.get("/api/v3/documents/", headers={"Authorization": f"Bearer {key}"})
    assert titles(response) == {"Public flyer", "Secret workbook"}


def test_mirror_rows_follow_protect_and_unprotect(files, course):
    assert member_rows() == {files.pk}
    other = make_collection("Other")
    api.protect_collection(other, mode="members")
    assert member_rows() == {files.pk, other.pk}
    api.protect_collection(other, mode="code", access_lists=[course])  # changing keeps one row
    assert member_rows() == {files.pk, other.pk}
    assert api.unprotect_collection(other) is True
    assert member_rows() == {files.pk}


def test_a_deleted_mirror_row_is_restored(files):
    CollectionViewRestriction.objects.filter(collection=files).delete()
    assert member_rows() == {files.pk}


def test_sync_never_touches_wagtails_own_rows(files):
    own = CollectionViewRestriction.objects.create(collection=files, restriction_type="login")
    api.unprotect_collection(files)
    assert member_rows() == set()
    assert list(CollectionViewRestriction.objects.all()) == [own]


def test_the_privacy_dialog_sees_only_wagtails_rows(admin_client, files):
    url = reverse("wagtailadmin_collections:set_privacy", args=[files.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert 'value="none" required id="id_restriction_type_0" checked>' in response.json()["html"]
    # "Public" in Wagtail's dialog leaves our row alone ...
    admin_client.post(url, {"restriction_type": "none"})
    assert member_rows() == {files.pk}
    # ... and "Private" adds Wagtail's own row beside it.
    admin_client.post(url, {"restriction_type": "login"})
    types = set(CollectionViewRestriction.objects.values_list("restriction_type", flat=True))
    assert types == {"login", compat_documents.MEMBER_ACCESS}


def test_the_privacy_dialog_of_a_sub_collection_is_not_blocked_by_ours(admin_client, files):
    below = make_collection("Week 2", parent=files)
    response = admin_client.get(reverse("wagtailadmin_collections:set_privacy", args=[below.pk]))
    assert response.json()["step"] == "set_privacy"


def test_wagtails_own_rows_answer_as_before(rf, files):
    row = CollectionViewRestriction(collection=files, restriction_type="login")
    request = rf.get("/")
    request.user = UserFactory()
    assert row.accept_request(request) is True
    assert Collection.get_first_root_node().get_view_restrictions().count() == 0


# --- the mirror rows follow every writer, not only the API (docs/security.md#documents) --------


def test_a_restriction_saved_through_the_orm_gets_its_row_on_commit(
    django_capture_on_commit_callbacks,
):
    collection = make_collection("Scripted")
    with django_capture_on_commit_callbacks(execute=True):
        restriction = CollectionAccessRestriction.objects.create(
            collection=collection, mode="members"
        )
        assert member_rows() == set()  # not before the commit
    assert member_rows() == {collection.pk}
    with django_capture_on_commit_callbacks(execute=True):
        restriction.delete()
    assert member_rows() == set()


def test_a_restriction_deleted_in_bulk_loses_its_row(files, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        CollectionAccessRestriction.objects.filter(collection=files).delete()
    assert member_rows() == set()


def test_a_restriction_loaded_from_a_fixture_gets_its_row(
    tmp_path, django_capture_on_commit_callbacks
):
    collection = make_collection("Fixture files")
    fixture = tmp_path / "restrictions.json"
    fixture.write_text(
        json.dumps(
            [
                {
                    "model": "wagtail_member_access.collectionaccessrestriction",
                    "pk": 4242,
                    "fields": {
                        "collection": collection.pk,
                        "mode": "members",
                        "access_lists": [],
                        "groups": [],
                        "created_at": "2026-12-01T00:00:00Z",
                        "updated_at": "2026-12-01T00:00:00Z",
                    },
                }
            ]
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("loaddata", str(fixture), verbosity=0)
        assert member_rows() == set()  # loaddata sends post_save with raw=True: on commit
    assert member_rows() == {collection.pk}


@pytest.mark.django_db(transaction=True)
def test_rows_written_by_a_data_migration_are_synced_after_migrate():
    # A data migration writes through historical models, which send our receivers nothing;
    # ``migrate`` ends with post_migrate, which syncs.
    from django.apps import apps as registry
    from django.db.migrations.state import ProjectState

    collection = make_collection("Migrated")
    historical = ProjectState.from_apps(registry).apps
    Restriction = historical.get_model("wagtail_member_access", "CollectionAccessRestriction")
    Restriction.objects.create(collection_id=collection.pk, mode="members")
    assert member_rows() == set()
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert member_rows() == {collection.pk}


def test_deleting_a_protected_collection_leaves_no_row(files, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        files.delete()
    assert member_rows() == set()
    assert CollectionAccessRestriction.objects.count() == 0


def test_the_api_still_syncs_at_once(course, django_capture_on_commit_callbacks):
    collection = make_collection("Course files")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api.protect_collection(collection, mode="code", access_lists=[course])
        assert member_rows() == {collection.pk}  # inside the transaction already
    assert len(callbacks) == 1  # and the receiver's sync after the commit finds nothing to do
    callbacks[0]()
    assert member_rows() == {collection.pk}
