"""The collection-level "Member access" view (documents), its button on Wagtail's collection
edit view, and the warning on a page's Member access view about linked documents anyone can
download."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from wagtail.models import Collection, GroupCollectionPermission, ModelLogEntry

from tests.factories import UserFactory, make_collection, make_document
from tests.testapp.models import DocumentPage
from wagtail_member_access import api
from wagtail_member_access.models import CollectionAccessRestriction

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

PROTECT = "wagtail_member_access.protect"
UNPROTECT = "wagtail_member_access.unprotect"


@pytest.fixture
def files():
    """Unprotected here: the tests protect it through the form."""
    return make_collection("Course files")


def url(collection) -> str:
    return reverse("wagtail_member_access_collections:edit", args=[collection.pk])


def log_entries(collection, action):
    return ModelLogEntry.objects.filter(
        content_type__model="collection", object_id=str(collection.pk), action=action
    )


def collection_editor(collection, *actions):
    group = Group.objects.create(name=f"Librarians {collection.name} {' '.join(actions)}")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    for action in actions:
        GroupCollectionPermission.objects.create(
            group=group,
            collection=collection,
            permission=Permission.objects.get(codename=f"{action}_collection"),
        )
    user = UserFactory(username=f"librarian-{group.pk}")
    user.groups.add(group)
    return user


def test_protect_through_the_form_is_saved_by_the_api_and_logged(admin_client, files, course):
    response = admin_client.post(url(files), {"mode": "code", "access_lists": [course.pk]})
    assert (response.status_code, response["Location"]) == (302, url(files))
    restriction = CollectionAccessRestriction.objects.get(collection=files)
    assert restriction.mode == "code"
    assert list(restriction.access_lists.all()) == [course]
    entry = log_entries(files, PROTECT).get()
    assert entry.data == {"mode": "code", "access_lists": ["Course A"]}
    assert entry.user.is_superuser
    page = admin_client.get(url(files)).content.decode()
    assert "One-time email code" in page and "Course A" in page


def test_unprotect_through_the_form(admin_client, files, course):
    api.protect_collection(files, mode="code", access_lists=[course])
    response = admin_client.post(url(files), {"mode": "none"})
    assert response.status_code == 302
    assert not CollectionAccessRestriction.objects.exists()
    assert log_entries(files, UNPROTECT).count() == 1


def test_an_email_mode_without_a_list_is_refused_and_changes_nothing(admin_client, files):
    response = admin_client.post(url(files), {"mode": "link"})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "access_lists": [
            "Choose at least one access list: with an email code or link, only addresses "
            "with a grant on a chosen list can unlock the page."
        ]
    }
    assert not CollectionAccessRestriction.objects.exists()
    assert not log_entries(files, PROTECT).exists()


def test_inherited_restriction_is_shown_on_a_sub_collection(admin_client, files, course):
    api.protect_collection(files, mode="code", access_lists=[course])
    below = make_collection("Week 1", parent=files)
    html = admin_client.get(url(below)).content.decode()
    assert "This collection has no member access of its own." in html
    assert f'Set on <a href="{url(files)}">Course files</a>:' in html


def test_the_root_collection_cannot_be_protected(admin_client):
    root = Collection.get_first_root_node()
    response = admin_client.get(url(root))
    assert response.status_code == 302 and response.url == reverse("wagtailadmin_home")


def test_permission_is_wagtails_collection_privacy_permission(client, files, course):
    client.force_login(collection_editor(files, "add"))
    response = client.get(url(files))
    assert response.status_code == 302 and response.url == reverse("wagtailadmin_home")
    assert client.post(url(files), {"mode": "members"}).status_code == 302
    assert not CollectionAccessRestriction.objects.exists()
    client.force_login(collection_editor(make_collection("Other"), "change"))
    assert client.get(url(files)).status_code == 302
    client.force_login(collection_editor(files, "change"))
    assert client.get(url(files)).status_code == 200
    assert client.post(url(files), {"mode": "members"}).status_code == 302
    assert CollectionAccessRestriction.objects.get().mode == "members"


def test_the_collection_edit_view_links_to_member_access(admin_client, files, course):
    edit = reverse("wagtailadmin_collections:edit", args=[files.pk])
    html = admin_client.get(edit).content.decode()
    assert f'href="{url(files)}"' in html
    assert "Member access" in html
    api.protect_collection(files, mode="code", access_lists=[course])
    html = admin_client.get(edit).content.decode()
    assert "Member access: One-time email code" in html


# --- the page's warning about linked documents -------------------------------------------------


def page_access(page) -> str:
    return reverse("wagtail_member_access_pages:edit", args=[page.pk])


@pytest.fixture
def lesson_with_file(home, course, files):
    document = make_document(files, title="Workbook")
    page = DocumentPage(title="Lesson", slug="lesson", attachment=document)
    home.add_child(instance=page)
    page.save_revision().publish()
    api.protect(page, mode="code", access_lists=[course])
    return page


def test_a_protected_page_warns_about_documents_anyone_can_download(
    admin_client, lesson_with_file, files
):
    html = admin_client.get(page_access(lesson_with_file)).content.decode()
    assert "This page links to documents that anyone can download" in html
    assert "“Workbook” in the collection “Course files”" in html
    assert f'<a href="{url(files)}">Protect this collection</a>' in html


def test_no_warning_once_the_collection_is_protected(admin_client, lesson_with_file, files, course):
    api.protect_collection(files, mode="code", access_lists=[course])
    html = admin_client.get(page_access(lesson_with_file)).content.decode()
    assert "data-wma-open-documents" not in html


def test_no_warning_for_a_public_page(admin_client, lesson_with_file):
    api.unprotect(lesson_with_file)
    html = admin_client.get(page_access(lesson_with_file)).content.decode()
    assert "data-wma-open-documents" not in html
