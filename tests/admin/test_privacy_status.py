"""Member access where Wagtail shows privacy: the page editor's status side panel, the
explorer's padlock and the page listing's member access filters
(wagtail_member_access.admin.privacy_status and .page_filters)."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from wagtail.models import PageViewRestriction

from tests.admin.test_page_access import edit_url, explore_url, page_editor
from tests.admin.test_page_access import text as tag_free
from tests.admin.test_page_access import url as access_url
from tests.factories import AccessListFactory, UserFactory, make_page
from wagtail_member_access import api
from wagtail_member_access.admin import page_filters, privacy_status

pytestmark = pytest.mark.django_db

# ``admin_client``: pytest-django's, a superuser signed in.

PANEL = "data-member-access-status"
PADLOCK = "data-member-access-padlock"
WAGTAIL_PADLOCK = 'title="This page is protected from public view"'


@pytest.fixture
def section(home):
    return make_page(home, title="Courses", slug="courses")


def text(html: str) -> str:
    """The visible text of some HTML, entities decoded."""
    return html_lib.unescape(tag_free(html))


def status_panel(response) -> str:
    """The member access part of the status side panel (empty when there is none)."""
    content = response.content.decode()
    if PANEL not in content:
        return ""
    start = content.index(PANEL)
    start = content.index(">", content.index('key-value="!isPublic"', start)) + 1
    return content[start : content.index("</section>", start)]


def privacy_item(response) -> str:
    """The text of Wagtail's "Private" item of the status panel."""
    content = response.content.decode()
    start = content.index('aria-labelledby="status-sidebar-private">')
    return text(content[start : content.index("</section>", start)].split(">", 1)[1])


def padlocks(response) -> dict[str, str]:
    """Each row's padlock in the explorer: page title -> its tooltip (ours) or "wagtail"."""
    found = {}
    for row in re.findall(r"<tr.*?</tr>", response.content.decode(), flags=re.S):
        title = re.search(r'id="page_\d+_title">(.*?)</span>', row, flags=re.S)
        if title is None:
            continue
        name = text(title.group(1))
        ours = re.search(r'data-w-tooltip-content-value="([^"]*)"[^>]*\s' + PADLOCK, row)
        if ours:
            found[name] = html_lib.unescape(ours.group(1))
        elif WAGTAIL_PADLOCK in row:
            found[name] = "wagtail"
    return found


# --- the status side panel --------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("members", "Signed-in members — Course A"),
        ("code", "Members with an email code — Course A"),
        ("link", "Members with a magic link — Course A"),
        ("code_or_link", "Members with an email code or magic link — Course A"),
    ],
)
def test_status_panel_names_the_mode_and_lists(admin_client, section, course, mode, expected):
    api.protect(section, mode=mode, access_lists=[course])
    response = admin_client.get(edit_url(section))
    assert response.status_code == 200
    assert (
        privacy_item(response)
        == "Page visibility: Private Not visible to the public Change privacy"
    )
    assert text(status_panel(response)) == (
        f"Who may view {expected} Set on this page Member access details"
    )
    assert f'href="{access_url(section)}"' in status_panel(response)


def test_members_only_without_lists_is_any_signed_in_member_and_groups_are_named(
    admin_client, section
):
    api.protect(section, mode="members")
    response = admin_client.get(edit_url(section))
    assert "Any signed-in member Set on this page" in text(status_panel(response))
    gold = Group.objects.create(name="Gold")
    api.protect(section, mode="members", groups=[gold], access_lists=[AccessListFactory(name="B")])
    response = admin_client.get(edit_url(section))
    assert "Signed-in members — B, group Gold Set on this page" in text(status_panel(response))


def test_descendant_is_protected_by_its_ancestor_with_a_link(admin_client, section, course):
    api.protect(section, mode="code", access_lists=[course])
    lesson = make_page(section, title="Lesson 1", slug="lesson-1")
    response = admin_client.get(edit_url(lesson))
    panel = status_panel(response)
    assert text(panel) == (
        "Who may view Members with an email code — Course A Protected by Courses "
        "Member access details"
    )
    assert f'Protected by <a href="{access_url(section)}">Courses</a>' in panel
    # The lesson's own Member access view, where a restriction of its own can be added.
    assert f'href="{access_url(lesson)}"' in panel


def test_own_and_inherited_restrictions_are_both_listed_outermost_first(
    admin_client, section, course
):
    api.protect(section, mode="members")
    lesson = make_page(section, title="Lesson 1", slug="lesson-1")
    api.protect(lesson, mode="link", access_lists=[course])
    panel = text(status_panel(admin_client.get(edit_url(lesson))))
    assert panel == (
        "Who may view Any signed-in member Protected by Courses "
        "Members with a magic link — Course A Set on this page "
        "Visitors must pass each of these. Member access details"
    )


def test_page_with_wagtail_privacy_and_member_access_shows_both(admin_client, section, course):
    PageViewRestriction.objects.create(page=section, restriction_type="password", password="x")
    lesson = make_page(section, title="Lesson 1", slug="lesson-1")
    api.protect(lesson, mode="code", access_lists=[course])
    panel = status_panel(admin_client.get(edit_url(lesson)))
    assert text(panel) == (
        "Who may view Members with an email code — Course A Set on this page "
        "A shared password (Wagtail's privacy) Protected by Courses "
        "Visitors must pass each of these. Member access details"
    )
    # Wagtail's own privacy is changed in the ancestor's editor.
    assert f'Protected by <a href="{edit_url(section)}">Courses</a>' in panel


def test_wagtail_groups_privacy_names_the_groups(admin_client, section, course):
    restriction = PageViewRestriction.objects.create(page=section, restriction_type="groups")
    restriction.groups.set([Group.objects.create(name="Staff")])
    api.protect(section, mode="code", access_lists=[course])
    panel = text(status_panel(admin_client.get(edit_url(section))))
    assert "Users in chosen groups (Wagtail's privacy) — Staff Set on this page" in panel


def test_page_without_member_access_keeps_wagtails_panel(admin_client, section):
    response = admin_client.get(edit_url(section))
    assert PANEL not in response.content.decode()
    assert "Visible to all" in text(response.content.decode())
    PageViewRestriction.objects.create(page=section, restriction_type="login")
    response = admin_client.get(edit_url(section))
    assert PANEL not in response.content.decode()
    assert privacy_item(response).startswith("Page visibility: Private Not visible")


def test_editor_who_may_not_set_member_access_sees_the_mode_without_links(
    client, home, section, course
):
    api.protect(section, mode="code", access_lists=[course])
    lesson = make_page(section, title="Lesson 1", slug="lesson-1")
    client.force_login(page_editor(home, "change_page"))
    panel = status_panel(client.get(edit_url(lesson)))
    assert text(panel) == (
        "Who may view Members with an email code — Course A Protected by Courses"
    )
    assert "<a " not in panel


# --- the explorer's padlock --------------------------------------------------------------------


def test_padlock_tooltip_names_the_mode(admin_client, home, section, course):
    api.protect(section, mode="code_or_link", access_lists=[course])
    wagtails = make_page(home, title="Staff only", slug="staff")
    PageViewRestriction.objects.create(page=wagtails, restriction_type="login")
    make_page(home, title="Open", slug="open")
    response = admin_client.get(explore_url(home))
    assert padlocks(response) == {
        "Courses": "Private: Members with an email code or magic link — Course A",
        "Staff only": "wagtail",
    }
    # Focusable, with Wagtail's tooltip and a name for screen readers.
    padlock = re.search(r"<span[^>]*" + PADLOCK + r"[^>]*>", response.content.decode()).group(0)
    assert 'tabindex="0"' in padlock
    assert 'data-controller="w-tooltip"' in padlock
    assert 'aria-label="Private: Members with an email code or magic link — Course A"' in padlock


def test_padlock_of_a_descendant_and_of_both_kinds(admin_client, section, course):
    api.protect(section, mode="members")
    make_page(section, title="Lesson 1", slug="lesson-1")
    both = make_page(section, title="Lesson 2", slug="lesson-2")
    PageViewRestriction.objects.create(page=both, restriction_type="password", password="x")
    api.protect(both, mode="link", access_lists=[course])
    assert padlocks(admin_client.get(explore_url(section))) == {
        "Lesson 1": "Private: Any signed-in member",
        "Lesson 2": (
            "Private: Any signed-in member; Members with a magic link — Course A; "
            "A shared password (Wagtail's privacy)"
        ),
    }


def test_padlocks_cost_no_query_per_row(admin_client, home, course):
    """The restrictions are read once per request: protecting six rows costs what protecting
    two does."""
    pages = [make_page(home, title=f"P{n}", slug=f"p{n}") for n in range(6)]

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(explore_url(home)).status_code == 200
        return len(captured)

    queries()  # warm Wagtail's own caches (content types, site root paths)
    for page in pages[:2]:
        api.protect(page, mode="code", access_lists=[course])
    two = queries()
    for page in pages[2:]:
        api.protect(page, mode="code", access_lists=[course])
    assert queries() == two
    assert len(padlocks(admin_client.get(explore_url(home)))) == 6


# --- the page listing filters ------------------------------------------------------------------


@pytest.fixture
def tree(home, course):
    """Pages of every mode, one below a protected page, one with Wagtail's privacy only."""
    other = AccessListFactory(name="Course B")
    pages = {}
    for mode, lists in [
        ("members", []),
        ("code", [course]),
        ("link", [other]),
        ("code_or_link", [course, other]),
    ]:
        pages[mode] = make_page(home, title=f"Page {mode}", slug=f"page-{mode}")
        api.protect(pages[mode], mode=mode, access_lists=lists)
    make_page(pages["code"], title="Below code", slug="below-code")
    wagtails = make_page(home, title="Wagtail private", slug="wagtail-private")
    PageViewRestriction.objects.create(page=wagtails, restriction_type="login")
    make_page(home, title="Public", slug="public")
    return pages, other


def listed(client, parent, **params) -> set[str]:
    response = client.get(explore_url(parent), params)
    assert response.status_code == 200
    return {page.title for page in response.context["object_list"]}


def test_listing_filter_any_member_access(admin_client, home, tree):
    assert listed(admin_client, home, member_access="any") == {
        "Page members",
        "Page code",
        "Below code",
        "Page link",
        "Page code_or_link",
    }


@pytest.mark.parametrize(
    "mode, titles",
    [
        ("members", {"Page members"}),
        ("code", {"Page code", "Below code"}),
        ("link", {"Page link"}),
        ("code_or_link", {"Page code_or_link"}),
    ],
)
def test_listing_filter_by_mode(admin_client, home, tree, mode, titles):
    assert listed(admin_client, home, member_access=mode) == titles


def test_listing_filter_no_member_access(admin_client, home, tree):
    assert listed(admin_client, home, member_access="none") == {"Wagtail private", "Public"}


def test_listing_filter_by_list(admin_client, home, tree, course):
    pages, other = tree
    assert listed(admin_client, home, member_access_list=[course.pk]) == {
        "Page code",
        "Below code",
        "Page code_or_link",
    }
    assert listed(admin_client, home, member_access_list=[other.pk], member_access="link") == {
        "Page link"
    }


def test_listing_filter_rejects_an_unknown_mode_and_filters_nothing(admin_client, home, tree):
    response = admin_client.get(explore_url(home), {"member_access": "everyone"})
    assert response.status_code == 200
    form = response.context["filters"].form
    assert form.errors["member_access"] == [
        "Select a valid choice. everyone is not one of the available choices."
    ]


def test_filters_are_on_every_page_filterset():
    from wagtail.admin.views.pages.listing import GenericPageFilterSet, PageFilterSet

    class SiteOwnFilterSet(PageFilterSet):  # defined after install, as a site's would be
        pass

    for filterset in (PageFilterSet, GenericPageFilterSet, SiteOwnFilterSet):
        assert {"member_access", "member_access_list"} <= set(filterset.base_filters)
    assert page_filters.problems() == []


def test_overrides_are_in_place():
    assert privacy_status.problems() == []


def test_status_panel_and_padlock_in_german(client, home, section, course):
    from wagtail.users.models import UserProfile

    admin = UserFactory(username="admin-de", is_superuser=True, is_staff=True)
    profile = UserProfile.get_for_user(admin)
    profile.preferred_language = "de"
    profile.save()
    client.force_login(admin)
    api.protect(section, mode="code", access_lists=[course])
    lesson = make_page(section, title="Lektion 1", slug="lektion-1")
    panel = text(status_panel(client.get(edit_url(lesson))))
    assert panel == (
        "Wer sehen darf Mitglieder mit Code per E-Mail — Course A Geschützt durch Courses "
        "Details zum Mitgliederzugang"
    )
    assert padlocks(client.get(explore_url(home))) == {
        "Courses": "Privat: Mitglieder mit Code per E-Mail — Course A"
    }


def test_padlock_falls_back_to_wagtails_when_its_cell_changed(
    admin_client, home, section, course, monkeypatch
):
    """If Wagtail's cell no longer holds the padlock it renders alone, its cell is left as it
    is: the page still shows Wagtail's padlock, without the mode."""
    api.protect(section, mode="code", access_lists=[course])
    monkeypatch.setattr(
        privacy_status,
        "WAGTAIL_PADLOCK_TEMPLATE",
        "wagtailadmin/pages/listing/_locked_indicator.html",  # renders nothing here
    )
    assert padlocks(admin_client.get(explore_url(home))) == {"Courses": "wagtail"}


def test_check_warns_when_an_override_is_missing(monkeypatch):
    from django.core import checks
    from wagtail.admin.ui.side_panels import PageStatusSidePanel

    original = PageStatusSidePanel.get_context_data.__wrapped__
    monkeypatch.setattr(PageStatusSidePanel, "get_context_data", original)
    warnings = privacy_status.check_privacy_status(None)
    assert [(w.id, w.level) for w in warnings] == [("wagtail_member_access.W030", checks.WARNING)]
    assert warnings[0].msg == (
        "wagtail-member-access cannot show member access in Wagtail's status panel or "
        "explorer: PageStatusSidePanel.get_context_data is not the package's override."
    )
