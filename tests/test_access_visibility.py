"""``api.visible_pages`` and the ``visible_pages`` template tag (a site's own listings and
search), and the batch that answers the APIs' per-row question."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import RequestFactory
from wagtail.models import Page, PageViewRestriction

from tests.factories import UserFactory, make_page
from wagtail_member_access import api
from wagtail_member_access.access import visibility

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(home, protected_page):
    chapter = make_page(protected_page, title="Chapter", slug="chapter")
    news = make_page(home, title="News", slug="news")
    staff = make_page(home, title="Staff", slug="staff")
    PageViewRestriction.objects.create(page=staff, restriction_type="login")
    return {"lesson": protected_page, "chapter": chapter, "news": news, "staff": staff}


def request_for(user):
    request = RequestFactory().get("/")
    request.user = user or AnonymousUser()
    request.session = {}
    return request


def titles(queryset):
    return sorted(queryset.values_list("title", flat=True))


def test_strangers_see_public_pages_only(pages, home):
    visible = api.visible_pages(request_for(None), home.get_children().live())
    assert titles(visible) == ["News"]


def test_a_member_without_a_grant_sees_wagtails_login_pages_but_not_ours(pages, home):
    ben = UserFactory(username="ben", email="ben@example.com")
    visible = api.visible_pages(request_for(ben), home.get_descendants().live())
    assert titles(visible) == ["News", "Staff"]


def test_a_member_with_a_grant_sees_what_they_may_open(pages, home, buyer):
    ana = UserFactory(username="ana", email="ana@example.com")
    visible = api.visible_pages(request_for(ana), home.get_descendants().live())
    assert titles(visible) == ["Chapter", "Members lesson", "News", "Staff"]


def test_visible_pages_comes_before_search(pages):
    found = api.visible_pages(request_for(None), Page.objects.live()).search("Secret")
    assert [page.title for page in found] == ["News"]


def test_the_batch_costs_the_same_for_many_protected_pages(
    pages, home, course, buyer, django_assert_num_queries
):
    ana = UserFactory(username="ana", email="ana@example.com")
    rows = list(
        PageViewRestriction.objects.filter(restriction_type="member_access").select_related("page")
    )
    # restrictions, their lists, their groups, the pages on the paths, the grants
    with django_assert_num_queries(5):
        assert visibility.passed_pages(ana, [row.page for row in rows], None) == {
            pages["lesson"].pk
        }
    for n in range(5):
        api.protect(
            make_page(home, title=f"More {n}", slug=f"more-{n}"), mode="code", access_lists=[course]
        )
    rows = list(
        PageViewRestriction.objects.filter(restriction_type="member_access").select_related("page")
    )
    with django_assert_num_queries(5):
        assert len(visibility.passed_pages(ana, [row.page for row in rows], None)) == 6


def test_anonymous_rows_cost_nothing(pages, django_assert_num_queries):
    row = PageViewRestriction.objects.get(restriction_type="member_access")
    with django_assert_num_queries(0):
        assert row.accept_request(request_for(None)) is False


TEMPLATE = Template(
    "{% load member_access %}{% visible_pages pages as shown %}"
    "{% for page in shown %}{{ page.title }};{% endfor %}"
)


def test_the_template_tag_filters_querysets_and_lists(pages, home):
    request = request_for(None)
    queryset = home.get_children().live().order_by("title")
    assert TEMPLATE.render(Context({"request": request, "pages": queryset})) == "News;"
    as_list = list(queryset)
    assert TEMPLATE.render(Context({"request": request, "pages": as_list})) == "News;"
    assert TEMPLATE.render(Context({"pages": as_list})) == ""
