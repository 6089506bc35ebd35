"""What the unlock endpoints reveal about ids they do not protect: nothing, not even through
the number of queries they run (docs/security.md#unlock-endpoints)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from wagtail.models import PageViewRestriction

from tests.factories import AccessListFactory, make_collection, make_document, make_page
from wagtail_member_access import api, targets

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

ENDPOINTS = ("request_code", "verify_code", "change_email")
#: Queries of a 404 from an unlock endpoint: the one lookup, then Wagtail's redirects
#: middleware (the site, the redirects; a GET also asks for redirects by query string).
COST = {"get": 4, "post": 3}


def queries(client, method, url) -> tuple[int, int]:
    """(status, number of queries) of one request."""
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, {"email": "not-an-email", "code": "x"})
    return response.status_code, len(ctx.captured_queries)


@pytest.fixture
def pages(home, course):
    """A page of every kind the endpoints must not tell apart, by id."""
    public = make_page(home, title="Public", slug="public")
    wagtail_private = make_page(home, title="Private", slug="private")
    PageViewRestriction.objects.create(page=wagtail_private, restriction_type="login")
    members = make_page(home, title="Members", slug="members")
    api.protect(members, mode="members", access_lists=[course])
    below_members = make_page(members, title="Below", slug="below")
    draft = make_page(home, title="Draft", slug="draft")
    api.protect(draft, mode="code", access_lists=[course])
    draft.unpublish()
    return {
        "missing": public.pk + 1000,
        "public": public.pk,
        "wagtail_private": wagtail_private.pk,
        "members_only": members.pk,
        "below_members_only": below_members.pk,
        "not_live": draft.pk,
    }


@pytest.mark.parametrize("method", ["get", "post"])
def test_pages_they_do_not_protect_cost_what_a_missing_id_costs(client, pages, method):
    # Before: 3 queries for a missing id, 5 for a public page, 6 for a members-only one.
    for name in ENDPOINTS:
        found = {
            kind: queries(client, method, reverse(f"wagtail_member_access:{name}", args=[pk]))
            for kind, pk in pages.items()
        }
        assert set(found.values()) == {(404, COST[method])}, (name, found)


@pytest.mark.parametrize("method", ["get", "post"])
def test_documents_they_do_not_protect_cost_what_a_missing_id_costs(client, course, method):
    protected = make_collection("Course files")
    api.protect_collection(protected, mode="code", access_lists=[course])
    members = make_collection("Members files")
    api.protect_collection(members, mode="members")
    documents = {
        "public": make_document(make_collection("Public files")),
        "members_only": make_document(members, title="Handbook"),
        "wrong_filename": make_document(protected),
    }
    cases = {kind: (doc.pk, doc.filename) for kind, doc in documents.items()}
    cases["wrong_filename"] = (documents["wrong_filename"].pk, "other.pdf")
    cases["missing"] = (documents["public"].pk + 1000, "workbook.pdf")
    for name in ENDPOINTS:
        found = {
            kind: queries(
                client, method, reverse(f"wagtail_member_access:document_{name}", args=args)
            )
            for kind, args in cases.items()
        }
        assert set(found.values()) == {(404, COST[method])}, (name, found)


def test_unlockable_answers_in_one_query(django_assert_num_queries, protected_page, home):
    public = make_page(home, title="Public", slug="public")
    with django_assert_num_queries(1):
        assert targets.unlockable(public.pk) is None
    with django_assert_num_queries(1):
        assert targets.unlockable(public.pk + 1000) is None
    with django_assert_num_queries(2):  # the page, then its specific row
        assert targets.unlockable(protected_page.pk) == protected_page


def test_unlockable_finds_pages_below_an_email_restriction(home, course):
    parent = make_page(home, title="Course", slug="course")
    api.protect(parent, mode="code_or_link", access_lists=[course])
    child = make_page(parent, title="Lesson", slug="lesson")
    assert targets.unlockable(child.pk) == child
    # A sibling whose path starts like the parent's but is not below it.
    sibling = make_page(home, title="Other", slug="other")
    assert targets.unlockable(sibling.pk) is None


def test_unlockable_documents_need_their_filename(course):
    collection = make_collection("Course files")
    api.protect_collection(collection, mode="link", access_lists=[course])
    document = make_document(make_collection("Week 1", parent=collection))
    assert targets.unlockable(document_id=document.pk, filename="workbook.pdf") == document
    assert targets.unlockable(document_id=document.pk, filename="Workbook.pdf") is None
    assert targets.unlockable(document_id=document.pk) is None


def test_a_protected_pages_endpoint_still_works(client, home):
    page = make_page(home, title="Course", slug="course")
    api.protect(page, mode="code", access_lists=[AccessListFactory()])
    url = reverse("wagtail_member_access:request_code", args=[page.pk])
    response = client.get(url)
    assert (response.status_code, response["Location"]) == (302, page.url)
    assert client.post(url, {"email": "not-an-email"}).status_code == 200
