"""The overrides of Wagtail (``compat``) and what they leave alone: Wagtail's own privacy
(login, password, groups, the privacy dialog, a page with both kinds), the serve's query cost,
the system checks that guard each override, translations, the sync command and the migration.
"""

from __future__ import annotations

import importlib
import importlib.util

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from wagtail import hooks
from wagtail.models import Locale, Page, PageLogEntry, PageViewRestriction

from tests.factories import UserFactory, make_page
from wagtail_member_access import api, checks, compat, mirror

pytestmark = pytest.mark.django_db

SECRET = b"Secret body of Members lesson"


def member_rows():
    return PageViewRestriction.objects.filter(restriction_type=compat.MEMBER_ACCESS)


# --- Wagtail's own privacy, beside ours --------------------------------------------------------


def test_wagtail_login_restriction_behaves_as_before(client, home):
    page = make_page(home, title="Staff", slug="staff")
    PageViewRestriction.objects.create(page=page, restriction_type="login")
    response = client.get(page.url)
    assert response.status_code == 302
    assert response["Location"] == "/_util/login/?next=/staff/"
    client.force_login(UserFactory(username="carl"))
    assert client.get(page.url).status_code == 200


def test_wagtail_password_restriction_behaves_as_before(client, home):
    page = make_page(home, title="Club", slug="club")
    restriction = PageViewRestriction.objects.create(
        page=page, restriction_type="password", password="opensesame"
    )
    response = client.get(page.url)
    assert response.status_code == 200
    assert b"Secret body of Club" not in response.content
    url = reverse("wagtailcore_authenticate_with_password", args=[restriction.pk, page.pk])
    client.post(url, {"password": "opensesame", "return_url": page.url})
    assert b"Secret body of Club" in client.get(page.url).content


def test_wagtail_groups_restriction_behaves_as_before(client, home):
    page = make_page(home, title="Team", slug="team")
    team = Group.objects.create(name="Team")
    restriction = PageViewRestriction.objects.create(page=page, restriction_type="groups")
    restriction.groups.add(team)
    user = UserFactory(username="dora")
    client.force_login(user)
    assert client.get(page.url).status_code == 302
    user.groups.add(team)
    assert client.get(page.url).status_code == 200


def test_a_page_with_both_kinds_needs_both(client, protected_page, buyer):
    PageViewRestriction.objects.create(page=protected_page, restriction_type="login")
    ana = UserFactory(username="ana", email="ana@example.com")
    ben = UserFactory(username="ben", email="ben@example.com")
    response = client.get(protected_page.url)  # ours first: the unlock form
    assert SECRET not in response.content
    client.force_login(ben)  # passes Wagtail's, not ours
    assert SECRET not in client.get(protected_page.url).content
    client.force_login(ana)  # both
    response = client.get(protected_page.url)
    assert SECRET in response.content
    assert "private" in response["Cache-Control"]


@pytest.fixture
def wagtails_own_dialog(monkeypatch):
    """The URL routed to Wagtail's own dialog, as for a page type whose viewset a project
    registered without the package's mixin (the package's dialog: test_privacy_dialog.py)."""
    if compat.privacy_view_replaceable():
        from wagtail.admin.viewsets.pages import base_page_viewset, page_viewset_registry

        monkeypatch.setitem(page_viewset_registry.values_by_class, Page, base_page_viewset)


def test_wagtails_own_privacy_dialog_sees_only_wagtails_rows_and_public_keeps_ours(
    admin_client, protected_page, wagtails_own_dialog
):
    url = reverse("wagtailadmin_pages:set_privacy", args=[protected_page.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    # What Wagtail showed before the package: "Public", nothing inherited.
    assert (
        '<input type="radio" name="restriction_type" value="none" required '
        'id="id_restriction_type_0" checked>'
    ) in response.json()["html"]
    response = admin_client.post(url, {"restriction_type": "login"})
    assert response.status_code == 200
    assert set(
        PageViewRestriction.objects.filter(page=protected_page).values_list(
            "restriction_type", flat=True
        )
    ) == {"login", compat.MEMBER_ACCESS}
    admin_client.post(url, {"restriction_type": "none"})
    assert list(
        PageViewRestriction.objects.filter(page=protected_page).values_list(
            "restriction_type", flat=True
        )
    ) == [compat.MEMBER_ACCESS]
    actions = list(
        PageLogEntry.objects.filter(
            page=protected_page, action__startswith="wagtail.view_restriction"
        ).values_list("action", flat=True)
    )
    assert sorted(actions) == ["wagtail.view_restriction.create", "wagtail.view_restriction.delete"]


def test_the_explorer_shows_the_padlock(admin_client, home, protected_page):
    response = admin_client.get(reverse("wagtailadmin_explore", args=[home.pk]))
    assert response.status_code == 200
    assert b"icon-lock" in response.content


# --- cost of the serve --------------------------------------------------------------------------


def test_a_public_page_costs_no_query_of_ours(client, home, protected_page, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    public = make_page(home, title="Open", slug="open")
    client.get(public.url)
    with CaptureQueriesContext(connection) as with_package:
        client.get(public.url)
    count = len(with_package)  # now: the next request resets Django's query log
    assert count == 5  # site, route (2), ancestors' aliases, privacy rows: Wagtail's own
    # The same request with our hook taken out: Wagtail alone.
    ours = [fn for fn, _ in hooks._hooks["on_serve_page"] if fn.__module__.startswith("wagtail_m")]
    monkeypatch.setitem(
        hooks._hooks,
        "on_serve_page",
        [(fn, order) for fn, order in hooks._hooks["on_serve_page"] if fn not in ours],
    )
    with CaptureQueriesContext(connection) as wagtail_alone:
        client.get(public.url)
        assert len(wagtail_alone) == count


def test_an_unlocked_page_costs_one_query_more_than_wagtails_login_page(
    client, home, protected_page, buyer, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    login_page = make_page(home, title="Staff", slug="staff")
    PageViewRestriction.objects.create(page=login_page, restriction_type="login")
    ana = UserFactory(username="ana", email="ana@example.com")
    client.force_login(ana)
    counts = {}
    for page in (protected_page, login_page):
        client.get(page.url)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(page.url).status_code == 200
            counts[page.slug] = len(captured)
    # Wagtail's login check loads the user (1); ours loads it and reads rules and grants
    # in one query: one more.
    assert counts["lesson"] - counts["staff"] == 1


# --- system checks -------------------------------------------------------------------------------


def test_the_checks_pass_with_this_wagtail():
    assert checks.check_wagtail_internals(None) == []


@pytest.mark.parametrize(
    "break_it, code",
    [
        (
            lambda mp: mp.setattr(PageViewRestriction, "accept_request", lambda self, r: True),
            "E020",
        ),
        (
            lambda mp: mp.setattr(
                __import__("wagtail.models", fromlist=["x"]).BaseViewRestriction,
                "accept_request",
                lambda self, r: False,
            ),
            "E021",
        ),
        (
            lambda mp: mp.setattr(
                importlib.import_module("wagtail.actions.copy_page").CopyPageAction,
                "_copy_page",
                lambda self, page, to=None: page,
            ),
            "E022",
        ),
        (
            lambda mp: mp.setattr(
                *compat.privacy_dialog(importlib.import_module("wagtail.admin.views.page_privacy")),
                lambda *a, **k: None,
            ),
            "E023",
        ),
        (lambda mp: mp.setitem(hooks._hooks, "on_serve_page", []), "E024"),
        (
            lambda mp: _replace_public_pages_api(mp),
            "E025",
        ),
        (
            lambda mp: mp.setattr(
                importlib.import_module("wagtail.query").PageQuerySet,
                "private_q",
                lambda self: PageViewRestriction.objects.filter(restriction_type="login"),
            ),
            "E026",
        ),
        (
            lambda mp: mp.setattr(
                PageViewRestriction._meta.get_field("restriction_type"), "max_length", 10
            ),
            "E027",
        ),
    ],
)
def test_each_check_fails_loudly_when_wagtail_changes(monkeypatch, break_it, code):
    break_it(monkeypatch)
    errors = checks.check_wagtail_internals(None)
    assert [error.id for error in errors] == [f"wagtail_member_access.{code}"]
    assert errors[0].hint == "Pin Wagtail 8.0.x, or upgrade wagtail-member-access."


# --- translations -----------------------------------------------------------------------------


@pytest.fixture
def german(settings):
    settings.WAGTAIL_I18N_ENABLED = True
    return Locale.objects.get_or_create(language_code="de")[0]


def test_translations_are_protected_as_the_original(client, german, home, protected_page):
    chapter = make_page(protected_page, title="Chapter", slug="chapter")
    german_home = home.copy_for_translation(german)
    german_home.save_revision().publish()
    german_lesson = protected_page.copy_for_translation(german)
    german_lesson.save_revision().publish()
    german_chapter = chapter.copy_for_translation(german)  # a translated subtree
    german_chapter.save_revision().publish()
    assert api.can_view(None, german_lesson) is False
    assert api.can_view(None, german_chapter) is False
    public = set(Page.objects.public().values_list("pk", flat=True))
    assert {german_lesson.pk, german_chapter.pk} & public == set()
    assert not hasattr(german_lesson, "member_access_restriction")  # protected by the key


def test_a_translation_made_before_protecting_is_protected_too(german, home):
    page = make_page(home, title="Later", slug="later")
    home.copy_for_translation(german)
    translation = page.copy_for_translation(german)
    api.protect(page, mode="members")
    assert api.can_view(None, translation) is False
    assert member_rows().filter(page=translation).exists()


def test_translations_can_be_left_public(settings, german, home, protected_page):
    settings.WAGTAIL_MEMBER_ACCESS_PROTECT_TRANSLATIONS = False
    home.copy_for_translation(german)
    translation = protected_page.copy_for_translation(german)
    mirror.sync()
    assert api.can_view(None, translation) is True
    assert not member_rows().filter(page=translation).exists()


def test_wagtail_localize_translations_are_protected(german, home, protected_page):
    from wagtail_localize.models import TranslationSource

    home_source, _ = TranslationSource.get_or_create_from_instance(home)
    home_source.create_or_update_translation(german, publish=True, fallback=True)
    source, _ = TranslationSource.get_or_create_from_instance(protected_page)
    translation, created = source.create_or_update_translation(german, publish=True, fallback=True)
    assert created
    assert api.can_view(None, translation) is False
    assert member_rows().filter(page=translation).exists()
    assert mirror.drift() == (set(), set())


# --- sync command and migration ------------------------------------------------------------


def test_sync_check_reports_drift_and_sync_repairs_it(protected_page, capsys):
    member_rows().delete()
    with pytest.raises(CommandError) as failed:
        call_command("member_access_sync", "--check")
    assert failed.value.returncode == 1
    assert str(failed.value) == (
        "Member access is out of sync with Wagtail's privacy: 1 pages without their row "
        f"(ids {protected_page.pk}), 0 stray rows (page ids -). Run manage.py member_access_sync."
    )
    call_command("member_access_sync")
    assert capsys.readouterr().out == "Rows created: 1, rows deleted: 0.\n"
    call_command("member_access_sync", "--check")
    assert capsys.readouterr().out == "Member access and Wagtail's privacy are in sync.\n"


def test_sync_leaves_wagtails_rows_alone(home):
    page = make_page(home, title="Staff", slug="staff")
    PageViewRestriction.objects.create(page=page, restriction_type="login")
    assert mirror.sync() == (0, 0)
    assert list(PageViewRestriction.objects.values_list("restriction_type", flat=True)) == ["login"]


def test_the_migration_creates_the_rows_of_existing_sites(protected_page):
    from django.apps import apps

    migration = importlib.import_module("wagtail_member_access.migrations.0004_release_0_2")
    member_rows().delete()
    migration.create_mirror_rows(apps, None)
    assert list(member_rows().values_list("page_id", flat=True)) == [protected_page.pk]
    migration.create_mirror_rows(apps, None)  # again: nothing doubled
    assert member_rows().count() == 1
    migration.delete_mirror_rows(apps, None)
    assert not member_rows().exists()


def test_an_editor_sees_the_protection_on_each_translation(
    admin_client, german, home, protected_page
):
    home.copy_for_translation(german)
    translation = protected_page.copy_for_translation(german)
    response = admin_client.get(reverse("wagtail_member_access_pages:edit", args=[translation.pk]))
    assert response.status_code == 200
    # Shown as inherited, from the original page, with its list.
    inherited = response.content.decode().split("data-wma-inherited", 1)[1]
    assert "Members lesson" in inherited
    assert "Course A" in inherited
    assert (
        "Translations of this page in other languages, and the pages below them, are "
        "protected by the same member access."
    ) in response.content.decode()
    explorer = admin_client.get(reverse("wagtailadmin_explore", args=[translation.get_parent().pk]))
    assert b"icon-lock" in explorer.content


def test_an_unlocked_page_costs_two_queries_more_than_a_public_one(
    client, home, protected_page, buyer, settings, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    public = make_page(home, title="Open", slug="open")
    client.force_login(UserFactory(username="ana", email="ana@example.com"))
    client.get(public.url)
    with CaptureQueriesContext(connection) as public_queries:
        client.get(public.url)
    public_count = len(public_queries)  # now: the next request resets Django's query log
    client.get(protected_page.url)
    # the user, then the restrictions with the member's grants in one query
    with django_assert_num_queries(public_count + 2):
        response = client.get(protected_page.url)
    assert SECRET in response.content


def test_a_row_deleted_by_someone_else_comes_back_after_the_commit(
    protected_page, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        member_rows().get().delete()  # as wagtail-localize's sync of view restrictions may
        assert not member_rows().exists()
    assert list(member_rows().values_list("page_id", flat=True)) == [protected_page.pk]


def test_every_api_write_leaves_the_mirror_in_sync(home, course):
    page = make_page(home, title="A", slug="a")
    child = make_page(page, title="B", slug="b")
    api.protect(page, mode="members")
    assert mirror.drift() == (set(), set())
    api.protect(child, mode="code", access_lists=[course])
    assert mirror.drift() == (set(), set())
    api.unprotect(page)
    assert mirror.drift() == (set(), set())
    assert list(member_rows().values_list("page_id", flat=True)) == [child.pk]


def _replace_public_pages_api(mp):
    """Break Wagtail's API v2 filter of private pages, wherever this Wagtail keeps it."""
    if importlib.util.find_spec("wagtail.api.querysets") is not None:  # Wagtail 8
        mp.setattr(
            importlib.import_module("wagtail.api.querysets"),
            "get_public_pages_queryset",
            lambda request, model=None: None,
        )
    else:  # Wagtail 7.4
        from wagtail.api.v2.views import PagesAPIViewSet

        mp.setattr(PagesAPIViewSet, "get_base_queryset", lambda self: None)
