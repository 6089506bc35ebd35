"""The page-level "Member access" view: who may open it, what it shows (own and inherited
restrictions), and that saving goes through api.protect / api.unprotect (and so the audit log),
or, when the form is invalid, changes nothing."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from wagtail.models import GroupPagePermission, Page, PageLogEntry, Site

from tests.factories import AccessListFactory, UserFactory, make_page
from wagtail_member_access import api
from wagtail_member_access.admin.page_access import header_button
from wagtail_member_access.models import PageAccessRestriction

pytestmark = pytest.mark.django_db

PROTECT = "wagtail_member_access.protect"
UNPROTECT = "wagtail_member_access.unprotect"


def url(page) -> str:
    return reverse("wagtail_member_access_pages:edit", args=[page.pk])


def edit_url(page) -> str:
    """Wagtail's page editor."""
    return reverse("wagtailadmin_pages:edit", args=[page.pk])


def explore_url(page) -> str:
    """Wagtail's page explorer, listing the children of ``page``."""
    return reverse("wagtailadmin_explore", args=[page.pk])


def denied(response) -> bool:
    """Wagtail answers PermissionDenied in the admin with a redirect to the dashboard."""
    return response.status_code == 302 and response.url == reverse("wagtailadmin_home")


def messages_of(response) -> list[str]:
    return [str(m).strip() for m in response.context["messages"]]


def log_entries(page, action=None):
    entries = PageLogEntry.objects.filter(page=page, action__startswith="wagtail_member_access.")
    return entries.filter(action=action) if action else entries


def text(html: str) -> str:
    """The visible text of some HTML, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def section(html: str, marker: str) -> str:
    """The element that carries the data attribute ``marker``, roughly: up to its section's
    end."""
    start = html.index(marker)
    return html[start : html.index("</section>", start)]


def page_editor(page, *codenames):
    """A Wagtail editor with the given page permissions (``change_page``, ``publish_page``)
    on ``page`` and below."""
    group = Group.objects.create(name="Page editors " + "-".join(codenames))
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    for codename in codenames:
        GroupPagePermission.objects.create(
            group=group,
            page=page,
            permission=Permission.objects.get(
                content_type__app_label="wagtailcore", codename=codename
            ),
        )
    user = UserFactory(username="pages-" + "-".join(codenames))
    user.groups.add(group)
    return user


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="admin", is_superuser=True, is_staff=True))
    return client


@pytest.fixture
def lesson(home):
    return make_page(home, title="Lesson", slug="lesson")


# --- who may ----------------------------------------------------------------------------------


def test_editor_without_publish_permission_gets_no_button_and_is_refused(client, home, lesson):
    editor = page_editor(home, "add_page", "change_page")
    client.force_login(editor)
    edit = client.get(edit_url(lesson))
    assert edit.status_code == 200
    assert url(lesson) not in edit.content.decode()
    assert url(lesson) not in client.get(explore_url(home)).content.decode()
    assert denied(client.get(url(lesson)))
    assert denied(client.post(url(lesson), {"mode": "members"}))
    assert not PageAccessRestriction.objects.exists()
    assert not log_entries(lesson).exists()


def test_publisher_may_set_member_access_below_their_page(client, home, lesson, course):
    publisher = page_editor(lesson, "change_page", "publish_page")
    # Changing member access also needs its permission (tests/admin/test_privacy_dialog.py).
    publisher.groups.get().permissions.add(Permission.objects.get(codename="change_member_access"))
    client.force_login(publisher)
    assert client.get(url(lesson)).status_code == 200
    response = client.post(url(lesson), {"mode": "code", "access_lists": [course.pk]})
    assert response.status_code == 302
    assert lesson.member_access_restriction.mode == "code"
    assert log_entries(lesson, PROTECT).get().user == publisher
    # Not on the page above, where they may not publish (and so not change privacy).
    assert denied(client.get(url(home)))


def test_root_page_has_no_member_access_view(admin_client):
    root = Page.get_first_root_node()
    assert denied(admin_client.get(url(root)))


def test_missing_page_is_404(admin_client):
    missing = reverse("wagtail_member_access_pages:edit", args=[999999])
    assert admin_client.get(missing).status_code == 404


def test_signed_out_visitor_is_sent_to_the_admin_login(client, lesson):
    response = client.get(url(lesson))
    assert response.status_code == 302
    assert response.url.startswith(reverse("wagtailadmin_login"))


# --- the buttons ------------------------------------------------------------------------------


def test_header_button_on_the_page_edit_view_says_whether_the_page_is_protected(
    admin_client, home, lesson, course
):
    def header_link(page):
        html = admin_client.get(edit_url(page)).content.decode()
        match = re.search(rf'<a href="{url(page)}"[^>]*>(.*?)</a>', html, re.S)
        assert match, "no member-access button in the header"
        return text(match.group(1))

    child = make_page(lesson, title="Child", slug="child")
    assert header_link(lesson) == "Member access"
    api.protect(lesson, mode="code", access_lists=[course])
    assert header_link(lesson) == "Member access: One-time email code"
    assert header_link(child) == "Member access: inherited"


def test_listing_rows_and_the_explorer_header_link_to_the_view(admin_client, home, lesson):
    html = admin_client.get(explore_url(home)).content.decode()
    assert url(lesson) in html  # the row's "⋯" menu
    assert url(home) in html  # the header "⋯" menu of the page being explored


def test_header_label_costs_one_query(django_assert_num_queries, home, lesson, course):
    superuser = UserFactory(username="root", is_superuser=True)
    api.protect(lesson, mode="link", access_lists=[course])
    with django_assert_num_queries(1):
        [button] = header_button(lesson, superuser, "edit")
    assert (button.label, button.icon_name) == ("Member access: Magic link", "lock")


# --- what it shows ----------------------------------------------------------------------------


def test_unprotected_page(admin_client, lesson, course):
    response = admin_client.get(url(lesson))
    assert response.status_code == 200
    html = response.content.decode()
    assert "This page has no member access: anyone can view it" in text(
        section(html, "data-wma-own")
    )
    assert "data-wma-inherited" not in html
    assert "Protect this page" in html
    assert 'value="none" id="id_mode_0" required checked' in html
    assert "None: public" in html
    assert f'value="{course.pk}" id="id_access_lists_0">' in html


def test_own_restriction_with_lists_linking_to_their_admin_pages_and_groups(
    admin_client, lesson, course
):
    club = Group.objects.create(name="Club")
    api.protect(lesson, mode="members", access_lists=[course], groups=[club])
    html = admin_client.get(url(lesson)).content.decode()
    own = section(html, "data-wma-own")
    assert "<dd data-wma-mode>Signed-in members</dd>" in own
    list_url = reverse("wagtail_member_access_lists:edit", args=[course.pk])
    assert f'<a href="{list_url}">Course A</a>' in own
    assert "Club" in text(own)
    assert "Change member access" in html
    # The form starts from the current values.
    assert 'value="members" id="id_mode_1" required checked' in html
    assert f'value="{course.pk}" id="id_access_lists_0" checked>' in html
    assert re.search(rf'name="groups" value="{club.pk}" id="id_groups_\d+" checked>', html)


def test_inherited_restriction_links_to_the_ancestor_and_offers_only_an_own_one(
    admin_client, lesson, course
):
    api.protect(lesson, mode="code", access_lists=[course])
    child = make_page(lesson, title="Child", slug="child")
    html = admin_client.get(url(child)).content.decode()
    assert "This page has no member access of its own." in text(section(html, "data-wma-own"))
    inherited = section(html, "data-wma-inherited")
    assert f'Set on <a href="{url(lesson)}">Lesson</a>:' in inherited
    assert "<dd data-wma-mode>One-time email code</dd>" in inherited
    assert "Every restriction on a page's path must pass" in text(inherited)
    # The form is folded away, for a restriction of the child's own.
    assert re.search(r"<details\s+data-wma-add-own>", html)
    assert "Add a restriction of this page's own" in html
    assert "No restriction of its own (the member access inherited from above still applies)" in (
        html
    )
    assert "None: public" not in html


def test_an_invalid_own_restriction_below_an_inherited_one_shows_its_form_open(
    admin_client, lesson
):
    api.protect(lesson, mode="members")
    child = make_page(lesson, title="Child", slug="child")
    response = admin_client.post(url(child), {"mode": "link"})
    assert response.status_code == 200
    assert re.search(r"<details\s+open\s+data-wma-add-own>", response.content.decode())
    assert not PageAccessRestriction.objects.filter(page=child).exists()


def test_own_restriction_below_an_inherited_one(admin_client, lesson, course):
    api.protect(lesson, mode="members")
    child = make_page(lesson, title="Child", slug="child")
    response = admin_client.post(url(child), {"mode": "code", "access_lists": [course.pk]})
    assert response.status_code == 302
    assert PageAccessRestriction.objects.get(page=child).mode == "code"
    assert PageAccessRestriction.objects.get(page=lesson).mode == "members"  # untouched
    html = admin_client.get(url(child)).content.decode()
    assert "<dd data-wma-mode>One-time email code</dd>" in section(html, "data-wma-own")
    assert "<dd data-wma-mode>Signed-in members</dd>" in section(html, "data-wma-inherited")
    assert "data-wma-add-own" not in html  # it has its own: the plain form
    assert "Change member access" in html


def test_only_lists_of_the_page_site_or_all_sites_are_offered(admin_client, lesson, site_b):
    shared = AccessListFactory(name="Shared")
    ours = AccessListFactory(name="Ours", site=Site.objects.get(is_default_site=True))
    AccessListFactory(name="Theirs", site=site_b)
    html = admin_client.get(url(lesson)).content.decode()
    offered = {int(pk) for pk in re.findall(r'name="access_lists" value="(\d+)"', html)}
    assert offered == {shared.pk, ours.pk}
    assert "Theirs" not in html


def test_another_site_list_on_an_existing_restriction_is_flagged(admin_client, lesson, site_b):
    theirs = AccessListFactory(name="Theirs")
    api.protect(lesson, mode="code", access_lists=[theirs])
    theirs.site = site_b  # moved to the other site after the page was protected
    theirs.save()
    own = section(admin_client.get(url(lesson)).content.decode(), "data-wma-own")
    assert "Theirs" in own
    assert "another site's list: it does not open this page" in text(own)


def test_no_lists_for_the_site_yet(admin_client, lesson):
    html = admin_client.get(url(lesson)).content.decode()
    assert "There are no access lists for this page's site yet" in text(html)
    assert f'href="{reverse("wagtail_member_access_lists:add")}"' in html


# --- saving ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "label"),
    [
        ("code", "One-time email code"),
        ("link", "Magic link"),
        ("code_or_link", "Email code or magic link"),
        ("members", "Signed-in members"),
    ],
)
def test_each_mode_is_saved_through_the_api_and_logged(admin_client, lesson, course, mode, label):
    response = admin_client.post(url(lesson), {"mode": mode, "access_lists": [course.pk]})
    assert (response.status_code, response.url) == (302, url(lesson))
    restriction = PageAccessRestriction.objects.get(page=lesson)
    assert restriction.mode == mode
    assert list(restriction.access_lists.all()) == [course]
    entry = log_entries(lesson).get()
    assert entry.action == PROTECT
    assert entry.user.username == "admin"
    assert entry.data == {"mode": mode, "access_lists": ["Course A"]}
    after = admin_client.get(response.url)
    assert messages_of(after) == [f"Member access of “Lesson” set to: {label}."]


def test_members_only_for_groups_or_everyone(admin_client, lesson):
    club = Group.objects.create(name="Club")
    admin_client.post(url(lesson), {"mode": "members", "groups": [club.pk]})
    restriction = PageAccessRestriction.objects.get(page=lesson)
    assert (restriction.mode, list(restriction.groups.all())) == ("members", [club])
    # No lists and no groups: every signed-in member.
    admin_client.post(url(lesson), {"mode": "members"})
    restriction = PageAccessRestriction.objects.get(page=lesson)
    assert list(restriction.groups.all()) == [] and list(restriction.access_lists.all()) == []
    assert log_entries(lesson, PROTECT).count() == 2
    html = admin_client.get(url(lesson)).content.decode()
    assert "Every signed-in member may view it." in section(html, "data-wma-own")


def test_saving_calls_api_protect(admin_client, lesson, course, monkeypatch):
    calls = []
    original = api.protect

    def spy(page, **kwargs):
        calls.append((page.pk, kwargs["mode"], list(kwargs["access_lists"]), kwargs["user"]))
        return original(page, **kwargs)

    monkeypatch.setattr(api, "protect", spy)
    admin_client.post(url(lesson), {"mode": "link", "access_lists": [course.pk]})
    assert [(pk, mode, lists) for pk, mode, lists, _ in calls] == [(lesson.pk, "link", [course])]
    assert calls[0][3].username == "admin"


def test_changing_the_mode_replaces_the_restriction(admin_client, lesson, course):
    api.protect(lesson, mode="code", access_lists=[course])
    admin_client.post(url(lesson), {"mode": "link", "access_lists": [course.pk]})
    assert PageAccessRestriction.objects.get(page=lesson).mode == "link"
    assert log_entries(lesson, PROTECT).count() == 2


def test_unprotect(admin_client, lesson, course):
    api.protect(lesson, mode="code", access_lists=[course])
    # Lists left ticked do not matter: "None" removes the page's own restriction.
    response = admin_client.post(url(lesson), {"mode": "none", "access_lists": [course.pk]})
    assert response.status_code == 302
    assert not PageAccessRestriction.objects.filter(page=lesson).exists()
    entry = log_entries(lesson, UNPROTECT).get()
    assert entry.user.username == "admin"
    assert messages_of(admin_client.get(url(lesson))) == [
        "“Lesson” has no member access of its own any more."
    ]


def test_unprotect_below_an_ancestor_keeps_the_ancestor(admin_client, lesson, course):
    child = make_page(lesson, title="Child", slug="child")
    api.protect(lesson, mode="members")
    api.protect(child, mode="code", access_lists=[course])
    admin_client.post(url(child), {"mode": "none"})
    assert list(PageAccessRestriction.objects.values_list("page_id", flat=True)) == [lesson.pk]


def test_saving_the_same_state_changes_and_logs_nothing(admin_client, lesson, course):
    api.protect(lesson, mode="code", access_lists=[course])
    response = admin_client.post(url(lesson), {"mode": "code", "access_lists": [course.pk]})
    assert messages_of(admin_client.get(response.url)) == ["Nothing changed."]
    admin_client.post(url(lesson), {"mode": "none"}, follow=True)  # to none, and none again
    response = admin_client.post(url(lesson), {"mode": "none"})
    assert messages_of(admin_client.get(response.url)) == ["Nothing changed."]
    assert log_entries(lesson, PROTECT).count() == 1
    assert log_entries(lesson, UNPROTECT).count() == 1


# --- validation: specific errors, nothing changes ------------------------------------------------


def assert_unchanged(lesson, course):
    restriction = PageAccessRestriction.objects.get(page=lesson)
    assert restriction.mode == "members"
    assert list(restriction.access_lists.all()) == []
    assert log_entries(lesson, PROTECT).count() == 1  # the fixture's own protect


@pytest.fixture
def members_page(lesson):
    api.protect(lesson, mode="members")
    return lesson


def form_errors(response) -> dict:
    assert response.status_code == 200
    assert messages_of(response) == ["Member access was not changed: correct the errors below."]
    return dict(response.context["form"].errors)


@pytest.mark.parametrize("mode", ["code", "link", "code_or_link"])
def test_email_mode_without_a_list(admin_client, members_page, course, mode):
    response = admin_client.post(url(members_page), {"mode": mode})
    assert form_errors(response) == {
        "access_lists": [
            "Choose at least one access list: with an email code or link, only addresses "
            "with a grant on a chosen list can unlock the page."
        ]
    }
    assert "Choose at least one access list" in response.content.decode()
    assert_unchanged(members_page, course)


def test_groups_with_an_email_mode(admin_client, members_page, course):
    club = Group.objects.create(name="Club")
    response = admin_client.post(
        url(members_page), {"mode": "code", "access_lists": [course.pk], "groups": [club.pk]}
    )
    assert form_errors(response) == {
        "groups": [
            "Groups only apply to members-only pages: untick them, or choose “Signed-in members”."
        ]
    }
    assert_unchanged(members_page, course)


def test_unknown_or_missing_mode(admin_client, members_page, course):
    for data in ({"mode": "password"}, {}):
        errors = form_errors(admin_client.post(url(members_page), data))
        assert list(errors) == ["mode"]
    assert_unchanged(members_page, course)


def test_list_of_another_site_is_refused(admin_client, members_page, course, site_b):
    theirs = AccessListFactory(name="Theirs", site=site_b)
    response = admin_client.post(
        url(members_page), {"mode": "code", "access_lists": [course.pk, theirs.pk]}
    )
    assert form_errors(response) == {
        "access_lists": [
            f"Access list {theirs.pk} cannot protect this page: it belongs to another site or "
            "no longer exists."
        ]
    }
    assert_unchanged(members_page, course)


def test_an_api_refusal_is_shown_and_changes_nothing(
    admin_client, members_page, course, site_b, monkeypatch
):
    # The list moves to the other site between the form's check and the save: the API's own
    # check refuses it, and the editor sees why.
    original = api.protect

    def moved_meanwhile(page, **kwargs):
        for access_list in kwargs["access_lists"]:
            access_list.site = site_b
            access_list.save()
        return original(page, **kwargs)

    monkeypatch.setattr(api, "protect", moved_meanwhile)
    response = admin_client.post(url(members_page), {"mode": "code", "access_lists": [course.pk]})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "These access lists belong to another site and cannot open this page: Course A."
    ]
    assert_unchanged(members_page, course)
