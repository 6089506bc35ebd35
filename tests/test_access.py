"""The one decision (``access.decide``): its cost in queries, its caching, the order of the
rules, ``path_restrictions`` (what the admin shows) and ``email_may_view`` (who gets a
code). Counts, never timings: counts are exact on every machine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.test import RequestFactory

from tests.factories import UserFactory, make_page
from tests.testapp.models import SimplePage
from wagtail_member_access import access, api
from wagtail_member_access.models import Grant

pytestmark = pytest.mark.django_db


class NoSession:
    """A request attribute that fails the test when anything looks at it."""

    def __getattr__(self, name):
        raise AssertionError(f"request.session.{name} was accessed")

    def __getitem__(self, key):
        raise AssertionError(f"request.session[{key!r}] was accessed")

    def __contains__(self, key):
        raise AssertionError(f"{key!r} in request.session was checked")


def get(page, user=None):
    request = RequestFactory().get(page.url)
    if user is not None:
        request.user = user
    return request


@pytest.fixture
def ana(buyer):
    return UserFactory(username="ana", email="ana@example.com")


# --- cost -------------------------------------------------------------------------------------


def test_public_page_costs_one_query_and_never_touches_user_or_session(
    home, protected_page, django_assert_num_queries
):
    public = make_page(home, title="Public", slug="public")
    request = get(public)  # no ``user`` attribute: reading it would raise AttributeError
    request.session = NoSession()
    with django_assert_num_queries(1):
        decision = access.decide(request, public)
    assert decision.allowed is True
    assert decision.restricted is False
    assert decision.rules == ()
    assert not hasattr(request, "user")


def test_anonymous_on_a_protected_page_costs_one_query(
    protected_page, buyer, django_assert_num_queries
):
    request = get(protected_page, AnonymousUser())
    with django_assert_num_queries(1):
        decision = access.decide(request, protected_page)
    assert decision.allowed is False
    assert decision.restricted is True
    assert decision.failed == decision.rules[0]


def test_unlocked_member_costs_two_queries_plus_a_write_when_last_access_is_stale(
    protected_page, buyer, ana, clock, django_assert_num_queries
):
    request = get(protected_page, ana)
    with django_assert_num_queries(3) as captured:  # rules, grants, last_access_at write
        assert access.decide(request, protected_page).allowed
    assert captured.captured_queries[2]["sql"].startswith("UPDATE ")
    buyer.refresh_from_db()
    assert buyer.last_access_at == clock.now

    clock.advance(minutes=15)  # not yet older than LAST_ACCESS_RESOLUTION
    request = get(protected_page, ana)
    with django_assert_num_queries(2):
        assert access.decide(request, protected_page).allowed
    buyer.refresh_from_db()
    assert buyer.last_access_at == clock.now - timedelta(minutes=15)

    clock.advance(seconds=1)
    request = get(protected_page, ana)
    with django_assert_num_queries(3):
        assert access.decide(request, protected_page).allowed
    buyer.refresh_from_db()
    assert buyer.last_access_at == clock.now


def test_last_access_resolution_is_a_setting(
    protected_page, buyer, ana, clock, settings, django_assert_num_queries
):
    settings.WAGTAIL_MEMBER_ACCESS_LAST_ACCESS_RESOLUTION = 60
    access.decide(get(protected_page, ana), protected_page)
    clock.advance(seconds=61)
    request = get(protected_page, ana)
    with django_assert_num_queries(3):
        access.decide(request, protected_page)


def test_member_without_a_grant_costs_rules_grants_and_one_permission_check(
    protected_page, buyer, django_assert_num_queries
):
    ben = UserFactory(username="ben", email="ben@example.com")
    request = get(protected_page, ben)
    # rules, grants, then is_privileged()'s has_perm("wagtailadmin.access_admin") before the
    # editors' exception: the user's and the groups' permissions. Nothing is written.
    with django_assert_num_queries(4) as captured:
        decision = access.decide(request, protected_page)
    assert decision.allowed is False
    assert all(q["sql"].startswith("SELECT ") for q in captured.captured_queries)


def test_members_page_with_a_group_costs_one_query_for_the_groups(home, django_assert_num_queries):
    page = make_page(home, title="Members", slug="members")
    subscribers = Group.objects.create(name="Subscribers")
    api.protect(page, mode="members", groups=[subscribers])
    user = UserFactory(username="ana", email="ana@example.com")
    user.groups.add(subscribers)
    request = get(page, user)
    with django_assert_num_queries(2):  # rules, the member's groups (no lists: no grants)
        assert access.decide(request, page).allowed


def test_decide_is_cached_on_the_request(protected_page, buyer, ana, django_assert_num_queries):
    request = get(protected_page, ana)
    first = access.decide(request, protected_page)
    with django_assert_num_queries(0):
        second = access.decide(request, protected_page)
    assert second is first


def test_the_cache_is_per_page(home, protected_page, buyer, ana, django_assert_num_queries):
    public = make_page(home, title="Public", slug="public")
    request = get(protected_page, ana)
    access.decide(request, protected_page)
    with django_assert_num_queries(1):
        assert access.decide(request, public).allowed


def test_cost_does_not_grow_with_the_number_of_grants(
    protected_page, course, ana, django_assert_num_queries
):
    def queries():
        request = get(protected_page, ana)
        with django_assert_num_queries(2) as captured:  # asserts the count, too
            assert access.decide(request, protected_page).allowed
        return len(captured)

    api.grant_access("ana@example.com", course)
    access.decide(get(protected_page, ana), protected_page)  # records last access once
    with_one = queries()
    other = api.create_access_list("Other")
    Grant.objects.bulk_create(
        Grant(email=f"buyer{n}@example.com", access_list=course if n % 2 else other, source="api")
        for n in range(500)
    )
    assert Grant.objects.count() == 501
    assert queries() == with_one == 2


# --- rules -------------------------------------------------------------------------------------


def test_rules_are_ordered_outermost_first(protected_page, course):
    subscribers = Group.objects.create(name="Subscribers")
    advanced = api.create_access_list("Advanced")
    middle = make_page(protected_page, title="Middle", slug="middle")
    inner = make_page(middle, title="Inner", slug="inner")
    leaf = make_page(inner, title="Leaf", slug="leaf")
    api.protect(inner, mode="link", access_lists=[advanced, course])
    api.protect(middle, mode="members", groups=[subscribers])
    rules = access.rules_for_page(leaf)
    assert [(r.page_id, r.mode) for r in rules] == [
        (protected_page.pk, "code"),
        (middle.pk, "members"),
        (inner.pk, "link"),
    ]
    assert [r.depth for r in rules] == [3, 4, 5]
    assert rules[0].list_ids == frozenset({course.pk})
    assert rules[1].list_ids == frozenset() and rules[1].group_ids == frozenset({subscribers.pk})
    assert rules[2].list_ids == frozenset({course.pk, advanced.pk})
    assert [r.by_email for r in rules] == [True, False, True]


def test_the_outermost_failing_rule_is_reported(protected_page, course):
    subscribers = Group.objects.create(name="Subscribers")
    child = make_page(protected_page, title="Forum", slug="forum")
    api.protect(child, mode="members", groups=[subscribers])
    outer, inner = access.rules_for_page(child)

    anonymous = access.decide(get(child, AnonymousUser()), child)
    assert anonymous.failed == outer

    api.grant_access("ana@example.com", course)
    ana = UserFactory(username="ana", email="ana@example.com")
    assert access.decide(get(child, ana), child).failed == inner
    ana.groups.add(subscribers)
    decision = access.decide(get(child, ana), child)
    assert (decision.allowed, decision.failed, decision.rules) == (True, None, (outer, inner))


def test_a_page_without_restrictions_has_no_rules(home):
    assert access.rules_for_page(home) == ()


# --- path_restrictions: what the admin shows ------------------------------------------------


def test_path_restrictions_of_an_unrestricted_page_cost_one_query(home, django_assert_num_queries):
    page = make_page(home, title="Public", slug="public")
    with django_assert_num_queries(1):
        state = access.path_restrictions(page)
    assert (state.own, state.inherited) == (None, ())


def test_path_restrictions_load_the_pages_lists_and_groups_they_name(
    protected_page, course, django_assert_num_queries
):
    subscribers = Group.objects.create(name="Subscribers")
    club = Group.objects.create(name="Club")
    advanced = api.create_access_list("Advanced")
    middle = make_page(protected_page, title="Middle", slug="middle")
    leaf = make_page(middle, title="Leaf", slug="leaf")
    api.protect(middle, mode="members", groups=[subscribers, club])
    api.protect(leaf, mode="link", access_lists=[course, advanced])
    # The rules, the ancestors they are set on, the lists, the groups.
    with django_assert_num_queries(4):
        state = access.path_restrictions(leaf)
    assert state.own.rule.page_id == leaf.pk and state.own.page is leaf
    assert (state.own.mode, state.own.get_mode_display()) == ("link", "Magic link")
    assert [al.name for al in state.own.access_lists] == ["Advanced", "Course A"]
    assert state.own.groups == ()
    assert [(e.page.pk, e.page.title, e.mode) for e in state.inherited] == [
        (protected_page.pk, "Members lesson", "code"),
        (middle.pk, "Middle", "members"),
    ]
    assert [al.name for al in state.inherited[0].access_lists] == ["Course A"]
    assert [g.name for g in state.inherited[1].groups] == ["Club", "Subscribers"]
    assert [e.rule for e in (*state.inherited, state.own)] == list(access.rules_for_page(leaf))


def test_path_restrictions_of_a_page_with_only_its_own_restriction(
    protected_page, django_assert_num_queries
):
    with django_assert_num_queries(2):  # the rules, the lists (no ancestors, no groups)
        state = access.path_restrictions(protected_page)
    assert state.own.page is protected_page and state.inherited == ()


# --- email_may_view: who is sent a code --------------------------------------------------------


def test_email_may_view_returns_the_stored_address(protected_page, course):
    api.grant_access("Mike@Example.org", course)
    assert access.email_may_view("mike@example.org", protected_page) == "mike@example.org"


def test_email_may_view_is_none_without_an_active_grant(protected_page, course, clock):
    assert access.email_may_view("ana@example.com", protected_page) is None
    api.grant_access("ana@example.com", course, expires_at=clock.now + timedelta(minutes=1))
    assert access.email_may_view("ana@example.com", protected_page) == "ana@example.com"
    clock.advance(minutes=1)
    assert access.email_may_view("ana@example.com", protected_page) is None


def test_email_may_view_is_none_for_pages_not_unlocked_by_email(home, course):
    public = make_page(home, title="Public", slug="public")
    members = make_page(home, title="Members", slug="members")
    api.protect(members, mode="members", access_lists=[course])
    api.grant_access("ana@example.com", course)
    assert access.email_may_view("ana@example.com", public) is None
    assert access.email_may_view("ana@example.com", members) is None


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser", "admin_access", "inactive"])
def test_email_may_view_is_none_for_accounts_that_may_not_sign_in_by_email(
    protected_page, buyer, flag
):
    user = UserFactory(username="ana", email="ana@example.com")
    if flag == "admin_access":
        user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    elif flag == "inactive":
        user.is_active = False
        user.save()
    else:
        setattr(user, flag, True)
        user.save()
    assert access.email_may_view("ana@example.com", protected_page) is None


def test_email_may_view_is_none_when_two_accounts_share_the_email(protected_page, buyer):
    UserFactory(username="ana1", email="ana@example.com")
    UserFactory(username="ana2", email="ANA@example.com")
    assert access.email_may_view("ana@example.com", protected_page) is None


def test_email_may_view_needs_every_rule_on_the_path(protected_page, course):
    advanced = api.create_access_list("Advanced")
    child = make_page(protected_page, title="Advanced", slug="advanced")
    api.protect(child, mode="code", access_lists=[advanced])
    api.grant_access("ana@example.com", advanced)
    assert access.email_may_view("ana@example.com", child) is None
    api.grant_access("ana@example.com", course)
    assert access.email_may_view("ana@example.com", child) == "ana@example.com"


def test_email_may_view_uses_the_groups_of_the_existing_account(protected_page, buyer):
    subscribers = Group.objects.create(name="Subscribers")
    child = make_page(protected_page, title="Forum", slug="forum")
    grandchild = make_page(child, title="Thread", slug="thread")
    api.protect(child, mode="members", groups=[subscribers])
    assert access.email_may_view("ana@example.com", grandchild) is None  # no account yet
    ana = UserFactory(username="ana", email="ana@example.com")
    assert access.email_may_view("ana@example.com", grandchild) is None
    ana.groups.add(subscribers)
    assert access.email_may_view("ana@example.com", grandchild) == "ana@example.com"


# --- multi-site --------------------------------------------------------------------------------


@pytest.fixture
def second_site(db):
    """A second Wagtail site with its own root page, built from the root node."""
    from wagtail.models import Page, Site

    root = Page.get_first_root_node()
    home_b = root.add_child(instance=SimplePage(title="Home B"))
    return Site.objects.create(hostname="b.example", port=80, root_page=home_b)


@pytest.fixture
def site_a(home):
    from wagtail.models import Site

    return Site.objects.get(root_page=home)


def test_a_list_of_one_site_opens_that_sites_pages(home, site_a, ana):
    shop = api.create_access_list("Shop A", site=site_a)
    page = make_page(home, title="A lesson", slug="a-lesson")
    api.protect(page, mode="code", access_lists=[shop])
    api.grant_access("ana@example.com", shop)
    (rule,) = access.rules_for_page(page)
    assert rule.list_ids == {shop.pk}
    assert access.can_view(ana, page)


def test_a_list_of_another_site_opens_nothing_here_even_if_linked(home, site_a, second_site, ana):
    # protect() refuses the link (below); a list moved to another site later is also ignored.
    shop = api.create_access_list("Shop A", site=site_a)
    page = make_page(home, title="A lesson", slug="a-lesson")
    api.protect(page, mode="code", access_lists=[shop])
    api.grant_access("ana@example.com", shop)
    shop.site = second_site
    shop.save()
    (rule,) = access.rules_for_page(page)
    assert rule.list_ids == frozenset()
    assert rule.names_lists is True
    assert rule.named_list_ids == {shop.pk}
    assert access.path_restrictions(page).own.access_lists == (shop,)
    assert not access.can_view(ana, page)
    assert access.email_may_view("ana@example.com", page) is None


def test_a_members_page_naming_only_lists_of_another_site_admits_nobody(
    home, site_a, second_site, ana
):
    # Not "any signed-in member": the restriction names lists, none of which applies here.
    shop = api.create_access_list("Shop A", site=site_a)
    page = make_page(home, title="Members", slug="members")
    api.protect(page, mode="members", access_lists=[shop])
    api.grant_access("ana@example.com", shop)
    assert access.can_view(ana, page)
    shop.site = second_site
    shop.save()
    assert not access.can_view(ana, page)


def test_a_list_for_all_sites_opens_pages_on_every_site(second_site, course, ana):
    page_b = make_page(second_site.root_page, title="B lesson", slug="b-lesson")
    api.protect(page_b, mode="code", access_lists=[course])
    api.grant_access("ana@example.com", course)
    assert access.can_view(ana, page_b)


def test_multi_site_rules_still_cost_one_query(
    home, site_a, second_site, ana, django_assert_num_queries
):
    shop = api.create_access_list("Shop A", site=site_a)
    page = make_page(home, title="A lesson", slug="a-lesson")
    api.protect(page, mode="code", access_lists=[shop])
    with django_assert_num_queries(1):
        access.decide(get(page, AnonymousUser()), page)


def test_the_access_queries_named_parameters_never_share_a_name():
    """The hand-written access queries take one mapping of named parameters, merged from
    several parts: a name used by two parts would silently replace a value."""
    from django.utils import timezone

    from wagtail_member_access.access.rules import _grant_params, _params

    parts = [
        set(_params("path", ["0001", "00010001", "000100010001"])),
        set(_params("list", [3, 1, 2])),
        set(_grant_params("ana@school.example", timezone.now())),
    ]
    assert sum(len(part) for part in parts) == len(set().union(*parts))
