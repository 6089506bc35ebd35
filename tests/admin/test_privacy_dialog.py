"""The one privacy dialog (Wagtail's "Change privacy" with member access in it): every choice is
offered and saved, member access goes through api.protect (audit log, mirror row), choosing
one kind removes the other, and without the permission our modes are read-only."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from wagtail.models import GroupPagePermission, PageLogEntry, PageViewRestriction

from tests.factories import AccessListFactory, UserFactory, make_page
from wagtail_member_access import api, compat
from wagtail_member_access.models import AccessList, PageAccessRestriction

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not compat.privacy_view_replaceable(),
        reason="Wagtail 7.4 keeps its own dialog (docs/editor-guide.md#wagtail-74), as "
        "test_compat.py::test_wagtails_own_privacy_dialog_sees_only_wagtails_rows… checks",
    ),
]

PROTECT = "wagtail_member_access.protect"
UNPROTECT = "wagtail_member_access.unprotect"
OUR_MODES = ("members", "code", "link", "code_or_link")


def url(page) -> str:
    return reverse("wagtailadmin_pages:set_privacy", args=[page.pk])


def dialog(response) -> tuple[str, dict]:
    """The dialog's HTML and its step data (Wagtail's modal workflow answers JSON)."""
    assert response.status_code == 200, response.status_code
    data = json.loads(response.content)
    return data.get("html") or "", data


def radios(html: str) -> dict[str, bool]:
    """value -> disabled, for every radio of the choice."""
    found = {}
    for tag in re.findall(r'<input type="radio"[^>]*>', html):
        value = re.search(r'value="([^"]*)"', tag).group(1)
        found[value] = " disabled" in tag
    return found


def checked(html: str) -> str:
    [value] = [
        re.search(r'value="([^"]*)"', tag).group(1)
        for tag in re.findall(r'<input type="radio"[^>]*>', html)
        if " checked" in tag
    ]
    return value


def publisher(page, *, may_change: bool):
    """An editor who may publish ``page`` (so Wagtail lets them change its privacy), with or
    without the permission to change member access."""
    group = Group.objects.create(name=f"Publishers {may_change}")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    if may_change:
        group.permissions.add(Permission.objects.get(codename="change_member_access"))
    for codename in ("change_page", "publish_page"):
        GroupPagePermission.objects.create(
            group=group, page=page, permission=Permission.objects.get(codename=codename)
        )
    user = UserFactory(username=f"publisher-{may_change}")
    user.groups.add(group)
    return user


@pytest.fixture
def lesson(home):
    return make_page(home, title="Lesson", slug="lesson")


@pytest.fixture
def admin(db):
    return UserFactory(username="admin", is_superuser=True, is_staff=True)


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def mirror_rows(page):
    return PageViewRestriction.objects.filter(page=page, restriction_type="member_access")


def wagtail_rows(page):
    return PageViewRestriction.objects.filter(page=page).exclude(restriction_type="member_access")


def logged(page, action):
    return PageLogEntry.objects.filter(page=page, action=action)


# --- what it offers ------------------------------------------------------------------------------


def test_the_dialog_is_ours_and_offers_every_choice(admin_client, lesson, course):
    html, data = dialog(admin_client.get(url(lesson)))
    assert data["step"] == "set_privacy"
    assert radios(html) == {
        "none": False,
        "login": False,
        "password": False,
        "groups": False,
        **dict.fromkeys(OUR_MODES, False),
    }
    assert checked(html) == "none"
    assert "Course A" in html  # the lists picker
    assert "data-wma-list-search" in html
    assert 'name="member-new_list"' in html
    # What a visitor will see, for our modes.
    assert "type in a one-time code we email them" in html
    assert reverse("wagtail_member_access_pages:edit", args=[lesson.pk]) in html


def test_wagtail_choices_follow_the_sites_private_page_options(admin_client, lesson, settings):
    settings.WAGTAIL_PRIVATE_PAGE_OPTIONS = {"SHARED_PASSWORD": False}
    html, _ = dialog(admin_client.get(url(lesson)))
    assert set(radios(html)) == {"none", "login", "groups", *OUR_MODES}


def test_the_current_member_access_is_chosen_with_its_lists(admin_client, lesson, course):
    other = AccessListFactory(name="Course B", slug="course-b")
    api.protect(lesson, mode="link", access_lists=[course])
    html, _ = dialog(admin_client.get(url(lesson)))
    assert checked(html) == "link"
    assert re.search(rf'value="{course.pk}"[^>]*checked', html)
    assert not re.search(rf'value="{other.pk}"[^>]*checked', html)


def test_wagtails_own_privacy_is_still_shown(admin_client, lesson):
    PageViewRestriction.objects.create(page=lesson, restriction_type="password", password="x")
    html, _ = dialog(admin_client.get(url(lesson)))
    assert checked(html) == "password"


# --- saving ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["code", "link", "code_or_link"])
def test_each_email_mode_is_saved_through_the_api(admin_client, admin, lesson, course, mode):
    response = admin_client.post(
        url(lesson), {"restriction_type": mode, "member-access_lists": [course.pk]}
    )
    _, data = dialog(response)
    assert (data["step"], data["is_public"]) == ("set_privacy_done", False)
    restriction = PageAccessRestriction.objects.get(page=lesson)
    assert restriction.mode == mode
    assert list(restriction.access_lists.all()) == [course]
    assert mirror_rows(lesson).count() == 1
    entry = logged(lesson, PROTECT).get()
    assert entry.user == admin
    assert entry.data == {"mode": mode, "access_lists": ["Course A"]}


def test_members_only_with_groups(admin_client, lesson):
    staff = Group.objects.create(name="Staff")
    dialog(
        admin_client.post(url(lesson), {"restriction_type": "members", "member-groups": [staff.pk]})
    )
    restriction = PageAccessRestriction.objects.get(page=lesson)
    assert (restriction.mode, list(restriction.groups.all())) == ("members", [staff])
    assert list(restriction.access_lists.all()) == []


def test_a_new_list_is_created_inline(admin_client, lesson):
    dialog(
        admin_client.post(
            url(lesson), {"restriction_type": "code", "member-new_list": " Course C "}
        )
    )
    new = AccessList.objects.get(name="Course C")
    assert new.site_id is None
    assert list(PageAccessRestriction.objects.get(page=lesson).access_lists.all()) == [new]


def test_an_email_mode_without_a_list_is_refused_and_changes_nothing(admin_client, lesson):
    html, data = dialog(admin_client.post(url(lesson), {"restriction_type": "code"}))
    assert data["step"] == "set_privacy"
    assert "Choose at least one access list" in html
    assert not PageAccessRestriction.objects.exists()
    assert not AccessList.objects.exists()
    assert not PageViewRestriction.objects.exists()


def test_groups_with_an_email_mode_are_refused_and_create_no_list(admin_client, lesson):
    staff = Group.objects.create(name="Staff")
    html, _ = dialog(
        admin_client.post(
            url(lesson),
            {"restriction_type": "code", "member-new_list": "New", "member-groups": [staff.pk]},
        )
    )
    assert "Groups only apply to members-only pages" in html
    assert not AccessList.objects.exists()
    assert not PageAccessRestriction.objects.exists()


@pytest.mark.parametrize(
    ("choice", "extra"),
    [("login", {}), ("password", {"password": "s3cret"})],
)
def test_wagtails_own_choice_replaces_member_access(admin_client, lesson, course, choice, extra):
    api.protect(lesson, mode="code", access_lists=[course])
    dialog(admin_client.post(url(lesson), {"restriction_type": choice, **extra}))
    assert not PageAccessRestriction.objects.filter(page=lesson).exists()
    assert not mirror_rows(lesson).exists()
    assert wagtail_rows(lesson).get().restriction_type == choice
    assert logged(lesson, UNPROTECT).count() == 1


def test_wagtails_groups_choice(admin_client, lesson):
    editors = Group.objects.create(name="Readers")
    dialog(admin_client.post(url(lesson), {"restriction_type": "groups", "groups": [editors.pk]}))
    row = wagtail_rows(lesson).get()
    assert (row.restriction_type, list(row.groups.all())) == ("groups", [editors])


def test_public_removes_member_access(admin_client, lesson, course):
    api.protect(lesson, mode="code", access_lists=[course])
    _, data = dialog(admin_client.post(url(lesson), {"restriction_type": "none"}))
    assert (data["step"], data["is_public"], data["wma_status_html"].strip()) == (
        "set_privacy_done",
        True,
        "",
    )
    assert not PageAccessRestriction.objects.exists()
    assert not PageViewRestriction.objects.filter(page=lesson).exists()
    assert logged(lesson, UNPROTECT).count() == 1


def test_member_access_replaces_wagtails_own(admin_client, lesson, course):
    PageViewRestriction.objects.create(page=lesson, restriction_type="password", password="x")
    dialog(
        admin_client.post(
            url(lesson), {"restriction_type": "members", "member-access_lists": [course.pk]}
        )
    )
    assert not wagtail_rows(lesson).exists()
    assert mirror_rows(lesson).count() == 1
    assert PageAccessRestriction.objects.get(page=lesson).mode == "members"


def test_a_page_with_both_says_so_and_keeps_only_the_choice(admin_client, lesson, course):
    api.protect(lesson, mode="code", access_lists=[course])
    PageViewRestriction.objects.create(page=lesson, restriction_type="login")
    html, _ = dialog(admin_client.get(url(lesson)))
    assert "data-wma-both" in html
    assert checked(html) == "code"
    dialog(
        admin_client.post(
            url(lesson), {"restriction_type": "code", "member-access_lists": [course.pk]}
        )
    )
    assert not wagtail_rows(lesson).exists()


def test_public_below_a_protected_page_keeps_the_ancestors(admin_client, home, course):
    section = make_page(home, title="Section", slug="section")
    child = make_page(section, title="Child", slug="child")
    api.protect(section, mode="code", access_lists=[course])
    html, _ = dialog(admin_client.get(url(child)))
    assert "No restriction of its own" in html
    assert "data-wma-inherited-note" in html
    dialog(admin_client.post(url(child), {"restriction_type": "none"}))
    assert PageAccessRestriction.objects.filter(page=section).exists()


def test_a_list_of_another_site_is_refused(admin_client, lesson, site_b):
    foreign = AccessListFactory(name="B only", slug="b-only", site=site_b)
    html, _ = dialog(
        admin_client.post(
            url(lesson), {"restriction_type": "code", "member-access_lists": [foreign.pk]}
        )
    )
    assert "cannot protect this page" in html
    assert not PageAccessRestriction.objects.exists()


# --- the permission ------------------------------------------------------------------------------


def test_without_the_permission_our_modes_are_read_only(client, lesson, course):
    client.force_login(publisher(lesson, may_change=False))
    html, _ = dialog(client.get(url(lesson)))
    assert radios(html) == {
        "none": False,
        "login": False,
        "password": False,
        "groups": False,
        **dict.fromkeys(OUR_MODES, True),
    }
    assert "data-wma-read-only" in html
    html, data = dialog(
        client.post(url(lesson), {"restriction_type": "code", "member-access_lists": [course.pk]})
    )
    assert data["step"] == "set_privacy"
    assert "You may not set member access" in html
    assert not PageAccessRestriction.objects.exists()
    # Wagtail's own choices still work for them.
    dialog(client.post(url(lesson), {"restriction_type": "login"}))
    assert wagtail_rows(lesson).get().restriction_type == "login"


def test_without_the_permission_a_member_protected_page_cannot_be_changed(client, lesson, course):
    api.protect(lesson, mode="code", access_lists=[course])
    client.force_login(publisher(lesson, may_change=False))
    html, _ = dialog(client.get(url(lesson)))
    assert set(radios(html).values()) == {True}
    assert checked(html) == "code"
    assert 'type="submit"' not in html
    for choice in ("none", "login"):
        response = client.post(url(lesson), {"restriction_type": choice})
        assert response.status_code == 302  # Wagtail's answer to PermissionDenied
    assert PageAccessRestriction.objects.get(page=lesson).mode == "code"
    assert not wagtail_rows(lesson).exists()


def test_with_the_permission_a_publisher_sets_member_access(client, lesson, course):
    user = publisher(lesson, may_change=True)
    client.force_login(user)
    dialog(
        client.post(url(lesson), {"restriction_type": "code", "member-access_lists": [course.pk]})
    )
    assert logged(lesson, PROTECT).get().user == user
    # Creating a list needs the permission to add access lists, which they do not have.
    html, _ = dialog(client.get(url(lesson)))
    assert 'name="member-new_list"' not in html


def test_editors_who_may_not_change_privacy_are_refused(client, lesson):
    group = Group.objects.create(name="Writers")
    group.permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="change_member_access"),
    )
    GroupPagePermission.objects.create(
        group=group, page=lesson, permission=Permission.objects.get(codename="change_page")
    )
    user = UserFactory(username="writer")
    user.groups.add(group)
    client.force_login(user)
    assert client.get(url(lesson)).status_code == 302


# --- after saving: the status side panel's section, as saved ---------------------------------


def test_saving_sends_the_status_panels_section_as_saved(admin_client, lesson, course):
    """The demo walkthrough found "Who may view" still saying "email code" after switching
    to a magic link: the dialog's answer carries the section as saved."""
    api.protect(lesson, mode="code", access_lists=[course])
    _, data = dialog(
        admin_client.post(
            url(lesson), {"restriction_type": "link", "member-access_lists": [course.pk]}
        )
    )
    section = data["wma_status_html"]
    assert "data-member-access-status" in section
    assert "Members with a magic link — Course A" in section
    assert "email code" not in section


def test_saving_wagtails_own_choice_below_a_protected_page_sends_the_inherited_one(
    admin_client, home, course
):
    section_page = make_page(home, title="Courses", slug="courses")
    api.protect(section_page, mode="code", access_lists=[course])
    child = make_page(section_page, title="Lesson 1", slug="lesson-1")
    _, data = dialog(admin_client.post(url(child), {"restriction_type": "login"}))
    html = data["wma_status_html"]
    assert "Members with an email code — Course A" in html
    assert "Signed-in users (Wagtail&#x27;s privacy)" in html


# --- drip: "Opens after (days)" ------------------------------------------------------------------


def test_the_dialog_shows_the_pages_delay(admin_client, lesson, course):
    api.protect(lesson, mode="code", access_lists=[course], opens_after=timedelta(days=7))
    html, _ = dialog(admin_client.get(url(lesson)))
    [field] = re.findall(r'<input type="number" name="member-opens_after"[^>]*>', html)
    assert 'value="7"' in field
    assert "Opens after (days)" in html


@pytest.mark.parametrize("days, expected", [("14", timedelta(days=14)), ("", None)])
def test_the_dialog_sets_and_clears_the_delay(admin_client, lesson, course, days, expected):
    api.protect(lesson, mode="code", access_lists=[course], opens_after=timedelta(days=7))
    _, data = dialog(
        admin_client.post(
            url(lesson),
            {
                "restriction_type": "link",
                "member-access_lists": [course.pk],
                "member-opens_after": days,
            },
        )
    )
    assert data["step"] == "set_privacy_done"
    restriction = PageAccessRestriction.objects.get(page=lesson)
    assert (restriction.mode, restriction.opens_after) == ("link", expected)


def test_a_delay_with_a_new_list_is_saved(admin_client, lesson):
    dialog(
        admin_client.post(
            url(lesson),
            {"restriction_type": "code", "member-new_list": "Course C", "member-opens_after": "3"},
        )
    )
    assert PageAccessRestriction.objects.get(page=lesson).opens_after == timedelta(days=3)


@pytest.mark.parametrize(
    "mode, days, message",
    [
        ("code", "0", "Ensure this value is greater than or equal to 1."),
        ("code", "abc", "Enter a whole number."),
        ("code", "99999", "Ensure this value is less than or equal to 3650."),
        ("members", "5", "needs at least one"),
    ],
)
def test_an_invalid_delay_is_refused_and_changes_nothing(
    admin_client, lesson, course, mode, days, message
):
    api.protect(lesson, mode="code", access_lists=[course], opens_after=timedelta(days=7))
    lists = [course.pk] if mode != "members" else []
    html, data = dialog(
        admin_client.post(
            url(lesson),
            {"restriction_type": mode, "member-access_lists": lists, "member-opens_after": days},
        )
    )
    assert data["step"] == "set_privacy"
    assert message in html
    restriction = PageAccessRestriction.objects.get(page=lesson)
    assert (restriction.mode, restriction.opens_after) == ("code", timedelta(days=7))
