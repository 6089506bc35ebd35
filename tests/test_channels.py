"""Member-protected pages are private everywhere Wagtail honours privacy (the mirror rows and
the overrides of ``compat``): API v2 and v3, the sitemap, ``.public()`` and its search, aliases.
Each channel is asked by a stranger, by a member without a grant (both must not see the page)
and by a member with a grant (who may, where Wagtail lets a signed-in member in).
"""

from __future__ import annotations

from importlib.util import find_spec

import pytest
from django.urls import reverse
from wagtail.models import Page, PageViewRestriction

from tests.factories import UserFactory, make_page
from wagtail_member_access import api
from wagtail_member_access.models import PageAccessRestriction

pytestmark = pytest.mark.django_db

SECRET = "Secret body of Members lesson"
CHAPTER = "Secret body of Chapter"


@pytest.fixture
def chapter(protected_page):
    return make_page(protected_page, title="Chapter", slug="chapter")


@pytest.fixture
def public_page(home):
    return make_page(home, title="Open news", slug="news")


@pytest.fixture
def ana(buyer):
    return UserFactory(username="ana", email="ana@example.com")


@pytest.fixture
def ben(db):
    return UserFactory(username="ben", email="ben@example.com")


@pytest.fixture(params=["stranger", "member without a grant"])
def outsider(request, client, ben):
    if request.param == "member without a grant":
        client.force_login(ben)
    return client


@pytest.fixture
def member(client, ana):
    client.force_login(ana)
    return client


def titles(response) -> set[str]:
    assert response.status_code == 200, response.content
    data = response.json()
    items = data["items"] if isinstance(data, dict) else data
    return {item["title"] for item in items}


# --- API v2 -----------------------------------------------------------------------------------


def test_api_v2_listing_leaves_protected_pages_out(outsider, protected_page, chapter, public_page):
    found = titles(outsider.get("/api/v2/pages/"))
    assert "Open news" in found
    assert {"Members lesson", "Chapter"} & found == set()
    response = outsider.get(f"/api/v2/pages/?child_of={protected_page.pk}")
    assert response.status_code == 400  # as for a page that does not exist
    assert response.json() == {"message": "parent page doesn't exist"}
    assert titles(outsider.get("/api/v2/pages/?search=lesson")) == set()


def test_api_v2_detail_and_find_answer_404(outsider, protected_page, chapter):
    assert outsider.get(f"/api/v2/pages/{protected_page.pk}/").status_code == 404
    assert outsider.get(f"/api/v2/pages/{chapter.pk}/").status_code == 404
    response = outsider.get("/api/v2/pages/find/?html_path=/lesson/chapter/")
    assert response.status_code == 404
    assert CHAPTER.encode() not in response.content


def test_api_v2_shows_the_member_with_a_grant_what_they_may_open(
    member, protected_page, chapter, public_page
):
    assert {"Members lesson", "Chapter", "Open news"} <= titles(member.get("/api/v2/pages/"))
    assert titles(member.get("/api/v2/pages/?search=lesson")) == {"Members lesson"}
    response = member.get(f"/api/v2/pages/{chapter.pk}/?fields=body")
    assert response.status_code == 200
    assert response.json()["body"] == CHAPTER
    assert member.get("/api/v2/pages/find/?html_path=/lesson/").status_code == 302


def test_api_v2_batch_costs_the_same_for_one_or_many_protected_pages(
    member, home, course, protected_page, django_assert_max_num_queries
):
    member.get("/api/v2/pages/")  # warm up: session, site, content types
    with django_assert_max_num_queries(40) as few:
        titles(member.get("/api/v2/pages/?limit=1"))
    for n in range(5):
        api.protect(
            make_page(home, title=f"More {n}", slug=f"more-{n}"), mode="code", access_lists=[course]
        )
    with django_assert_max_num_queries(len(few) + 5):  # 5 more rows to exclude: Wagtail's filter
        titles(member.get("/api/v2/pages/?limit=1"))


# --- API v3 -----------------------------------------------------------------------------------


@pytest.mark.skipif(
    find_spec("wagtail.api.v3") is None, reason="Wagtail's API v3 is new in Wagtail 8"
)
def test_api_v3_leaves_protected_pages_out_for_every_session(
    client, ana, protected_page, chapter, public_page
):
    # Wagtail's v3 treats every client without an API token as anonymous, a signed-in member
    # too: nobody sees member pages there (docs/protected-channels.md#api-v3).
    for signed_in in (False, True):
        if signed_in:
            client.force_login(ana)
        found = titles(client.get("/api/v3/pages/"))
        assert "Open news" in found
        assert {"Members lesson", "Chapter"} & found == set()
        assert titles(client.get("/api/v3/pages/?search=lesson")) == set()
        assert client.get(f"/api/v3/pages/{chapter.pk}/").status_code == 404
        assert client.get("/api/v3/pages/find/?html_path=/lesson/").status_code == 404


# --- sitemap, .public(), search ----------------------------------------------------------------


def test_sitemap_lists_neither_the_page_nor_its_children(client, protected_page, chapter):
    make_page(title="Open news", slug="open")
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert b"http://localhost/open/" in response.content
    assert b"/lesson/" not in response.content
    assert b"/lesson/chapter/" not in response.content


def test_public_and_not_public(protected_page, chapter, public_page):
    public = set(Page.objects.live().public().values_list("pk", flat=True))
    assert public_page.pk in public
    assert {protected_page.pk, chapter.pk} & public == set()
    assert set(Page.objects.not_public().values_list("pk", flat=True)) == {
        protected_page.pk,
        chapter.pk,
    }


def test_public_search_finds_nothing_protected(protected_page, chapter, public_page):
    assert list(Page.objects.live().public().search("Secret")) == [public_page.page_ptr]


def test_unprotect_makes_the_page_public_again(protected_page, chapter):
    api.unprotect(protected_page)
    assert set(Page.objects.live().public().values_list("pk", flat=True)) >= {
        protected_page.pk,
        chapter.pk,
    }
    assert not PageViewRestriction.objects.exists()


# --- aliases --------------------------------------------------------------------------------------


def test_an_alias_elsewhere_is_protected_as_its_source(client, home, ben, protected_page, chapter):
    elsewhere = make_page(home, title="Elsewhere", slug="elsewhere")
    alias = protected_page.create_alias(parent=elsewhere, update_slug="lesson-alias")
    child_alias = chapter.create_alias(parent=elsewhere, update_slug="chapter-alias")
    public = set(Page.objects.live().public().values_list("pk", flat=True))
    assert {alias.pk, child_alias.pk} & public == set()
    for page in (alias, child_alias):
        response = client.get(page.url)
        assert response.status_code == 200
        assert SECRET.encode() not in response.content
        assert CHAPTER.encode() not in response.content
        assert b'name="email"' in response.content  # the unlock form, in place
        assert client.get(f"/api/v2/pages/{page.pk}/").status_code == 404


def test_an_alias_keeps_the_protection_when_its_source_is_deleted(client, home, protected_page):
    elsewhere = make_page(home, title="Elsewhere", slug="elsewhere")
    alias = protected_page.create_alias(parent=elsewhere, update_slug="lesson-alias")
    protected_page.delete()
    alias.refresh_from_db()
    assert alias.alias_of_id is None
    assert alias.member_access_restriction.mode == "code"
    response = client.get(alias.url)
    assert SECRET.encode() not in response.content
    assert alias.pk not in set(Page.objects.public().values_list("pk", flat=True))


def test_an_orphaned_alias_keeps_the_drip_delay_too(home, course):
    from datetime import timedelta

    lesson = make_page(home, title="Lesson 2", slug="lesson-2")
    api.protect(lesson, mode="code", access_lists=[course], opens_after=timedelta(days=7))
    elsewhere = make_page(home, title="Elsewhere", slug="elsewhere")
    alias = lesson.create_alias(parent=elsewhere, update_slug="lesson-2-alias")
    lesson.delete()
    kept = Page.objects.get(pk=alias.pk).member_access_restriction
    assert (kept.mode, kept.opens_after) == ("code", timedelta(days=7))
    assert list(kept.access_lists.all()) == [course]


def test_the_member_with_a_grant_opens_the_alias(member, home, protected_page):
    elsewhere = make_page(home, title="Elsewhere", slug="elsewhere")
    alias = protected_page.create_alias(parent=elsewhere, update_slug="lesson-alias")
    response = member.get(alias.url)
    assert response.status_code == 200
    assert SECRET.encode() in response.content
    assert member.get(f"/api/v2/pages/{alias.pk}/").status_code == 200


# --- copy, move, delete ------------------------------------------------------------------------


def test_copying_a_protected_tree_copies_its_protection(client, home, protected_page, chapter):
    copy = protected_page.copy(
        recursive=True, to=home, update_attrs={"slug": "lesson-copy", "title": "Copy"}
    )
    assert copy.member_access_restriction.mode == "code"
    assert list(copy.member_access_restriction.access_lists.all()) == list(
        protected_page.member_access_restriction.access_lists.all()
    )
    copied_chapter = copy.get_children().get()
    response = client.get(copied_chapter.url)
    assert CHAPTER.encode() not in response.content
    assert not {copy.pk, copied_chapter.pk} & set(
        Page.objects.public().values_list("pk", flat=True)
    )
    rows = PageViewRestriction.objects.filter(restriction_type="member_access")
    assert sorted(rows.values_list("page_id", flat=True)) == sorted([protected_page.pk, copy.pk])


def test_copying_a_child_of_a_protected_section_elsewhere_keeps_it_protected(
    client, home, protected_page, chapter
):
    copy = chapter.copy(to=home, update_attrs={"slug": "chapter-copy", "title": "Chapter copy"})
    assert copy.member_access_restriction.mode == "code"
    response = client.get(copy.url)
    assert CHAPTER.encode() not in response.content


def test_copy_in_the_admin_copies_the_protection(admin_client, home, protected_page):
    response = admin_client.post(
        reverse("wagtailadmin_pages:copy", args=[protected_page.pk]),
        {
            "new_title": "Copied",
            "new_slug": "copied",
            "new_parent_page": home.pk,
            "copy_subpages": False,
            "publish_copies": True,
        },
    )
    assert response.status_code == 302
    copy = Page.objects.get(slug="copied")
    assert copy.member_access_restriction.mode == "code"
    assert copy.pk not in set(Page.objects.public().values_list("pk", flat=True))


def test_moving_a_page_under_a_protected_page_and_out(home, protected_page, public_page):
    public_page.move(protected_page, pos="last-child")
    assert public_page.pk not in set(Page.objects.public().values_list("pk", flat=True))
    public_page.refresh_from_db()
    public_page.move(home, pos="last-child")
    assert public_page.pk in set(Page.objects.public().values_list("pk", flat=True))


def test_moving_a_protected_page_keeps_its_row(client, home, protected_page, chapter):
    other = make_page(home, title="Other", slug="other")
    protected_page.move(other, pos="last-child")
    rows = PageViewRestriction.objects.filter(restriction_type="member_access")
    assert list(rows.values_list("page_id", flat=True)) == [protected_page.pk]
    assert "Chapter" not in titles(client.get("/api/v2/pages/"))


def test_deleting_a_protected_page_leaves_no_row(protected_page, chapter):
    from wagtail_member_access import mirror

    protected_page.delete()
    assert not PageViewRestriction.objects.exists()
    assert mirror.drift() == (set(), set())
    assert mirror.sync() == (0, 0)


def test_deleting_a_section_with_a_page_and_its_alias_inside(home, course):
    section = make_page(home, title="Section", slug="section")
    source = make_page(section, title="Source", slug="source")
    api.protect(source, mode="code", access_lists=[course])
    source.create_alias(parent=section, update_slug="source-alias")
    section.delete()
    assert not PageViewRestriction.objects.exists()
    assert not PageAccessRestriction.objects.exists()
