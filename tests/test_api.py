"""The public Python API (``wagtail_member_access.api``): lists, protection and ``can_view``.

Granting and revoking are tested in depth in ``test_grants.py``; here ``grant_access`` and
``revoke_access`` only set up the access that ``can_view`` decides on.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.core.exceptions import ValidationError
from wagtail.models import GroupPagePermission, PageLogEntry

from tests.factories import UserFactory, make_page
from tests.testapp.models import SimplePage
from wagtail_member_access import api
from wagtail_member_access.access import rules_for_page
from wagtail_member_access.models import AccessList, PageAccessRestriction

pytestmark = pytest.mark.django_db

PROTECT = "wagtail_member_access.protect"
UNPROTECT = "wagtail_member_access.unprotect"


def member(email="ana@example.com", **kwargs):
    """A plain member account (no staff flags, no admin access)."""
    return UserFactory(username=email.split("@")[0], email=email, **kwargs)


# --- create_access_list -----------------------------------------------------------------------


def test_create_access_list_slugs_the_name_and_keeps_the_description(db):
    course = api.create_access_list("  Course A  ", description="Spring term")
    assert (course.name, course.slug, course.description) == ("Course A", "course-a", "Spring term")
    assert AccessList.objects.get(pk=course.pk) == course


def test_create_access_list_makes_taken_slugs_unique_with_a_number(db):
    slugs = [api.create_access_list("Course A").slug for _ in range(3)]
    assert slugs == ["course-a", "course-a-2", "course-a-3"]


def test_create_access_list_uses_the_given_slug_slugified(db):
    assert api.create_access_list("Course A", slug="Spring 2025").slug == "spring-2025"
    assert api.create_access_list("Course B", slug="Spring 2025").slug == "spring-2025-2"


def test_create_access_list_falls_back_to_list_when_the_name_has_no_slug(db):
    assert api.create_access_list("!!!").slug == "list"
    assert api.create_access_list("???").slug == "list-2"


@pytest.mark.parametrize("name", ["", "   ", None])
def test_create_access_list_needs_a_name(db, name):
    with pytest.raises(ValidationError) as excinfo:
        api.create_access_list(name)
    assert excinfo.value.messages == ["An access list needs a name."]
    assert excinfo.value.code == "name"
    assert AccessList.objects.count() == 0


# --- protect ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["code", "link", "code_or_link", "members"])
def test_protect_sets_each_mode(home, course, mode):
    page = make_page(home, title="Lesson", slug="lesson")
    restriction = api.protect(page, mode=mode, access_lists=[course])
    assert restriction == PageAccessRestriction.objects.get(page=page)
    assert restriction.mode == mode
    assert list(restriction.access_lists.all()) == [course]
    assert list(restriction.groups.all()) == []


def test_protect_members_needs_no_list(home):
    page = make_page(home, title="Members", slug="members")
    restriction = api.protect(page, mode="members")
    assert restriction.mode == "members"
    assert restriction.access_lists.count() == 0


def test_protect_refuses_an_unknown_mode_and_changes_nothing(home, course):
    page = make_page(home, title="Lesson", slug="lesson")
    with pytest.raises(ValidationError) as excinfo:
        api.protect(page, mode="secret", access_lists=[course])
    assert excinfo.value.messages == [
        "Unknown mode 'secret'; use one of members, code, link, code_or_link."
    ]
    assert excinfo.value.code == "mode"
    assert not PageAccessRestriction.objects.exists()
    assert not PageLogEntry.objects.filter(page=page, action=PROTECT).exists()


@pytest.mark.parametrize("mode", ["code", "link", "code_or_link"])
def test_email_mode_without_lists_is_refused_and_nothing_changes(protected_page, course, mode):
    before = PageLogEntry.objects.filter(page=protected_page, action=PROTECT).count()
    with pytest.raises(ValidationError) as excinfo:
        api.protect(protected_page, mode=mode, access_lists=[])
    assert excinfo.value.messages == [
        f"Mode '{mode}' needs at least one access list: only emails on a list can unlock."
    ]
    assert excinfo.value.code == "lists"
    restriction = PageAccessRestriction.objects.get(page=protected_page)
    assert restriction.mode == "code"
    assert list(restriction.access_lists.all()) == [course]
    assert PageLogEntry.objects.filter(page=protected_page, action=PROTECT).count() == before


def test_protect_replaces_the_existing_restriction(protected_page, course):
    old = PageAccessRestriction.objects.get(page=protected_page)
    editors = Group.objects.create(name="Subscribers")
    restriction = api.protect(protected_page, mode="members", groups=[editors])
    assert PageAccessRestriction.objects.filter(page=protected_page).count() == 1
    assert restriction.pk == old.pk
    assert restriction.mode == "members"
    assert list(restriction.access_lists.all()) == []
    assert list(restriction.groups.all()) == [editors]


def test_protect_accepts_several_lists_and_groups(home):
    page = make_page(home, title="Lesson", slug="lesson")
    a, b = api.create_access_list("A"), api.create_access_list("B")
    g1, g2 = Group.objects.create(name="G1"), Group.objects.create(name="G2")
    restriction = api.protect(page, mode="members", access_lists=(a, b), groups=iter([g1, g2]))
    assert set(restriction.access_lists.all()) == {a, b}
    assert set(restriction.groups.all()) == {g1, g2}


def test_protect_is_written_to_the_page_history_as_the_user(home, course):
    page = make_page(home, title="Lesson", slug="lesson")
    editor = UserFactory(username="editor", is_staff=True)
    api.protect(page, mode="code", access_lists=[course], user=editor)
    entry = PageLogEntry.objects.get(page=page, action=PROTECT)
    assert entry.user == editor
    assert entry.data == {"mode": "code", "access_lists": ["Course A"]}


def test_protect_without_user_is_logged_without_one(home, course):
    page = make_page(home, title="Lesson", slug="lesson")
    api.protect(page, mode="members")
    entry = PageLogEntry.objects.get(page=page, action=PROTECT)
    assert entry.user is None
    assert entry.data == {"mode": "members", "access_lists": []}


# --- unprotect ---------------------------------------------------------------------------------


def test_unprotect_removes_the_restriction_and_logs_it(protected_page):
    editor = UserFactory(username="editor", is_staff=True)
    assert api.unprotect(protected_page, user=editor) is True
    assert not PageAccessRestriction.objects.filter(page=protected_page).exists()
    entry = PageLogEntry.objects.get(page=protected_page, action=UNPROTECT)
    assert entry.user == editor
    assert api.can_view(AnonymousUser(), protected_page) is True


def test_unprotect_returns_false_when_the_page_has_none(home):
    page = make_page(home, title="Public", slug="public")
    assert api.unprotect(page) is False
    assert not PageLogEntry.objects.filter(page=page, action=UNPROTECT).exists()


def test_unprotect_leaves_the_ancestors_restrictions(protected_page, course):
    child = make_page(protected_page, title="Child", slug="child")
    api.protect(child, mode="members")
    assert api.unprotect(child) is True
    assert [rule.page_id for rule in rules_for_page(child)] == [protected_page.pk]
    assert api.can_view(AnonymousUser(), child) is False
    assert api.can_view(member(), child) is False
    api.grant_access("ana@example.com", course)
    assert api.can_view(member("ana@example.com"), child) is True


# --- can_view ------------------------------------------------------------------------------


def test_anonymous_may_not_view_a_protected_page(protected_page, buyer):
    assert api.can_view(AnonymousUser(), protected_page) is False


def test_none_may_not_view_a_protected_page(protected_page):
    assert api.can_view(None, protected_page) is False


def test_anyone_may_view_a_public_page(home, protected_page):
    public = make_page(home, title="Public", slug="public")
    assert api.can_view(None, public) is True
    assert api.can_view(AnonymousUser(), public) is True
    assert api.can_view(member(), public) is True


def test_member_with_a_grant_may_view(protected_page, buyer):
    assert api.can_view(member("Ana@Example.com"), protected_page) is True


def test_member_without_a_grant_may_not_view(protected_page, buyer):
    assert api.can_view(member("ben@example.com"), protected_page) is False


def test_grant_on_another_list_does_not_open_the_page(protected_page):
    other = api.create_access_list("Other course")
    api.grant_access("ana@example.com", other)
    assert api.can_view(member(), protected_page) is False


def test_expired_grant_does_not_open_the_page(protected_page, course, clock):
    api.grant_access("ana@example.com", course, expires_at=clock.now + timedelta(hours=1))
    ana = member()
    assert api.can_view(ana, protected_page) is True
    clock.advance(hours=1)
    assert api.can_view(ana, protected_page) is False


def test_revoked_grant_does_not_open_the_page(protected_page, buyer, course):
    ana = member()
    assert api.revoke_access("ana@example.com", course) is True
    assert api.can_view(ana, protected_page) is False


def test_grant_that_has_not_started_does_not_open_the_page_yet(protected_page, course, clock):
    api.grant_access("ana@example.com", course, starts_at=clock.now + timedelta(days=1))
    ana = member()
    assert api.can_view(ana, protected_page) is False
    clock.advance(days=1)
    assert api.can_view(ana, protected_page) is True


def test_can_view_does_not_record_an_access(protected_page, buyer):
    assert api.can_view(member(), protected_page) is True
    buyer.refresh_from_db()
    assert buyer.last_access_at is None


def test_superuser_may_view_without_a_grant(protected_page):
    admin = UserFactory(username="admin", is_superuser=True, is_staff=True)
    assert api.can_view(admin, protected_page) is True


def test_editor_who_may_edit_the_page_may_view_it(home, protected_page):
    editors = Group.objects.create(name="Lesson editors")
    editors.permissions.add(Permission.objects.get(codename="access_admin"))
    change_page = Permission.objects.get(
        content_type__app_label="wagtailcore", codename="change_page"
    )
    GroupPagePermission.objects.create(group=editors, page=home, permission=change_page)
    editor = UserFactory(username="editor")
    editor.groups.add(editors)
    assert api.can_view(editor, protected_page) is True


def test_staff_who_may_not_edit_the_page_may_not_view_it(protected_page):
    staff = UserFactory(username="staff", is_staff=True)
    assert api.can_view(staff, protected_page) is False


def test_members_mode_without_lists_or_groups_admits_any_signed_in_member(home):
    page = make_page(home, title="Members", slug="members")
    api.protect(page, mode="members")
    assert api.can_view(member(), page) is True
    assert api.can_view(AnonymousUser(), page) is False


def test_members_mode_with_lists_needs_a_grant(home, course):
    page = make_page(home, title="Members", slug="members")
    api.protect(page, mode="members", access_lists=[course])
    api.grant_access("ana@example.com", course)
    assert api.can_view(member("ana@example.com"), page) is True
    assert api.can_view(member("ben@example.com"), page) is False


def test_members_mode_with_groups_needs_the_group(home):
    page = make_page(home, title="Members", slug="members")
    subscribers = Group.objects.create(name="Subscribers")
    api.protect(page, mode="members", groups=[subscribers])
    ana, ben = member("ana@example.com"), member("ben@example.com")
    ana.groups.add(subscribers)
    assert api.can_view(ana, page) is True
    assert api.can_view(ben, page) is False


def test_members_mode_with_lists_and_groups_admits_either(home, course):
    page = make_page(home, title="Members", slug="members")
    subscribers = Group.objects.create(name="Subscribers")
    api.protect(page, mode="members", access_lists=[course], groups=[subscribers])
    in_group, on_list, neither = (
        member("ana@example.com"),
        member("ben@example.com"),
        member("cy@example.com"),
    )
    in_group.groups.add(subscribers)
    api.grant_access("ben@example.com", course)
    assert api.can_view(in_group, page) is True
    assert api.can_view(on_list, page) is True
    assert api.can_view(neither, page) is False


def test_nested_restrictions_must_all_pass(protected_page, course):
    advanced = api.create_access_list("Advanced")
    child = make_page(protected_page, title="Advanced lesson", slug="advanced")
    api.protect(child, mode="code", access_lists=[advanced])
    outer_only, inner_only, both = (
        member("ana@example.com"),
        member("ben@example.com"),
        member("cy@example.com"),
    )
    api.grant_access("ana@example.com", course)
    api.grant_access("ben@example.com", advanced)
    api.grant_access("cy@example.com", course)
    api.grant_access("cy@example.com", advanced)
    assert api.can_view(outer_only, protected_page) is True
    assert api.can_view(outer_only, child) is False
    assert api.can_view(inner_only, protected_page) is False
    assert api.can_view(inner_only, child) is False
    assert api.can_view(both, child) is True


def test_members_page_inside_an_email_protected_section_needs_both(protected_page, course):
    subscribers = Group.objects.create(name="Subscribers")
    child = make_page(protected_page, title="Forum", slug="forum")
    api.protect(child, mode="members", groups=[subscribers])
    api.grant_access("ana@example.com", course)
    ana = member("ana@example.com")
    assert api.can_view(ana, child) is False
    ana.groups.add(subscribers)
    assert api.can_view(ana, child) is True


# --- multi-site --------------------------------------------------------------------------------


def test_protect_refuses_a_list_of_another_site(home):
    from wagtail.models import Page, Site

    root = Page.get_first_root_node()
    home_b = root.add_child(instance=SimplePage(title="Home B"))
    site_b = Site.objects.create(hostname="b.example", port=80, root_page=home_b)
    shop_b = api.create_access_list("Shop B", site=site_b)
    page = make_page(home, title="A lesson", slug="a-lesson")
    with pytest.raises(ValidationError) as excinfo:
        api.protect(page, mode="code", access_lists=[shop_b])
    assert excinfo.value.messages == [
        "These access lists belong to another site and cannot open this page: Shop B."
    ]
    assert not PageAccessRestriction.objects.filter(page=page).exists()
    # The same list protects a page of its own site.
    page_b = make_page(home_b, title="B lesson", slug="b-lesson")
    assert api.protect(page_b, mode="code", access_lists=[shop_b]).access_lists.get() == shop_b


def test_create_access_list_takes_a_site_and_a_default_period(home):
    course = api.create_access_list("Course D", default_days=30)
    assert course.site is None
    assert course.default_days == 30
    with pytest.raises(ValidationError):
        api.create_access_list("Course E", default_days=0)


# --- documents: protect_collection / unprotect_collection ----------------------------------------


def test_protect_collection_validates_as_protect_and_changes_nothing(course):
    from tests.factories import make_collection
    from wagtail_member_access.models import CollectionAccessRestriction

    files = make_collection("Files")
    with pytest.raises(ValidationError) as info:
        api.protect_collection(files, mode="secret")
    assert info.value.messages == [
        "Unknown mode 'secret'; use one of members, code, link, code_or_link."
    ]
    with pytest.raises(ValidationError) as info:
        api.protect_collection(files, mode="code")
    assert info.value.messages == [
        "Mode 'code' needs at least one access list: only emails on a list can unlock."
    ]
    from wagtail.models import Collection

    with pytest.raises(ValidationError) as info:
        api.protect_collection(Collection.get_first_root_node(), mode="members")
    assert info.value.messages == [
        "The root collection cannot be protected: protect a collection below it."
    ]
    assert not CollectionAccessRestriction.objects.exists()


def test_protect_collection_replaces_and_logs(course):
    from wagtail.models import ModelLogEntry

    from tests.factories import make_collection

    files = make_collection("Files")
    editor = member("editor@example.com")
    api.protect_collection(files, mode="members", user=editor)
    restriction = api.protect_collection(files, mode="code", access_lists=[course])
    assert (restriction.mode, list(restriction.access_lists.all())) == ("code", [course])
    entries = ModelLogEntry.objects.filter(object_id=str(files.pk)).order_by("pk")
    assert [(e.action, e.user, e.data) for e in entries] == [
        (PROTECT, editor, {"mode": "members", "access_lists": []}),
        (PROTECT, None, {"mode": "code", "access_lists": ["Course A"]}),
    ]
    assert api.unprotect_collection(files) is True
    assert api.unprotect_collection(files) is False
    assert entries.filter(action=UNPROTECT).count() == 1


def test_can_view_document(course, settings, tmp_path):
    from tests.factories import make_collection, make_document

    settings.MEDIA_ROOT = str(tmp_path)
    files = make_collection("Files")
    api.protect_collection(files, mode="code", access_lists=[course])
    document = make_document(make_collection("Week 1", parent=files))
    ana = member()
    assert api.can_view_document(AnonymousUser(), document) is False
    assert api.can_view_document(ana, document) is False
    api.grant_access("ana@example.com", course)
    assert api.can_view_document(ana, document) is True
    assert api.can_view_document(None, make_document(title="Flyer")) is True
