"""The grants listing at scale: the export streams every row once in chunks and says where the
file ends (or that it stopped); invalid filters give a clear error and select nothing; the
search finds grants by the start of the email address; the release's migration
(0004_release_0_2) adds the indexes the search and the sort orders use."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models.query import QuerySet
from django.http import StreamingHttpResponse
from django.urls import reverse_lazy

from tests.factories import AccessListFactory, GrantFactory
from wagtail_member_access.admin import exports
from wagtail_member_access.admin.views import listing_queryset
from wagtail_member_access.imports import import_csv
from wagtail_member_access.models import Grant
from wagtail_member_access.models.lists import listing_order

pytestmark = pytest.mark.django_db

GRANTS = reverse_lazy("wagtail_member_access_grants:index")


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def many(course):
    Grant.objects.bulk_create(
        Grant(access_list=course, email=f"m{n:03d}@example.com", source="import")
        for n in range(250)
    )
    return course


def test_export_has_every_row_once_the_header_once_and_the_end_marker(editor_client, many):
    response = editor_client.get(GRANTS, {"access_list": many.pk, "export": "csv"})
    assert isinstance(response, StreamingHttpResponse)
    rows = csv_rows(response)
    assert rows[0][0] == "Email" and [row[0] for row in rows].count("Email") == 1
    assert [row[0] for row in rows[1:-1]] == [f"m{n:03d}@example.com" for n in range(250)]
    assert rows[-1] == ["# End of export: 250 grants."]


def test_export_streams_in_chunks_without_materialising_the_queryset(
    editor_client, many, monkeypatch
):
    monkeypatch.setattr(exports, "EXPORT_CHUNK_SIZE", 100)
    chunk_sizes = []
    iterator = QuerySet.iterator

    def recording_iterator(self, chunk_size=None):
        chunk_sizes.append(chunk_size)
        return iterator(self, chunk_size=chunk_size)

    def no_fetch_all(self):
        raise AssertionError("the export loaded the whole queryset")

    monkeypatch.setattr(QuerySet, "iterator", recording_iterator)
    response = editor_client.get(GRANTS, {"access_list": many.pk, "export": "csv"})
    monkeypatch.setattr(QuerySet, "_fetch_all", no_fetch_all)
    pieces = list(response.streaming_content)
    assert chunk_sizes == [100]
    # The header and 100 rows, then 100 rows, then the last 50 and the end marker.
    assert [piece.count(b"\n") for piece in pieces] == [101, 100, 51]
    assert pieces[-1].endswith(b"# End of export: 250 grants.\r\n")


def test_export_stopped_by_an_error_ends_with_the_error_marker(editor_client, many, monkeypatch):
    real = exports.export_rows

    def failing(queryset, at=None):
        for n, row in enumerate(real(queryset, at)):
            if n == 120:
                raise RuntimeError("connection lost")
            yield row

    monkeypatch.setattr("wagtail_member_access.admin.views.grant_list.export_rows", failing)
    rows = csv_rows(editor_client.get(GRANTS, {"access_list": many.pk, "export": "csv"}))
    assert len(rows) == 1 + 120 + 1
    assert rows[-1] == [
        "# Export incomplete: an error stopped it after 120 grants. Download it again."
    ]
    assert not any(row[0].startswith("# End of export") for row in rows)


def test_xlsx_over_the_limit_is_refused_with_a_message(editor_client, many, monkeypatch):
    monkeypatch.setattr("wagtail_member_access.admin.views.grant_list.XLSX_MAX_ROWS", 249)
    response = editor_client.get(GRANTS, {"access_list": many.pk, "export": "xlsx", "q": "m"})
    assert response.status_code == 302
    assert response.url == f"{GRANTS}?access_list={many.pk}&q=m"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "250 grants are too many for an XLSX file (at most 249). Download CSV instead, or "
        "narrow the filters."
    ]


@pytest.mark.parametrize("export", ["csv", "xlsx"])
def test_export_with_invalid_filters_is_refused(editor_client, many, export):
    response = editor_client.get(GRANTS, {"access_list": 999999, "export": export})
    assert response.status_code == 302
    assert response.url == f"{GRANTS}?access_list=999999"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "The export was not started: Access list: Select a valid choice. That choice is not "
        "one of the available choices."
    ]


def test_listing_with_invalid_filters_shows_nothing_and_says_why(editor_client, many):
    response = editor_client.get(GRANTS, {"status": "bogus"})
    assert response.status_code == 200
    assert list(response.context["object_list"]) == []
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Status: Select a valid choice. bogus is not one of the available choices."
    ]
    # "Select all in listing" then acts on nothing, never on every grant.
    assert list(listing_queryset({"status": "bogus"})) == []
    assert listing_queryset({"access_list": many.pk}).count() == 250


@pytest.fixture
def people(course):
    other = AccessListFactory(name="Course B", slug="course-b")
    for email, name, access_list in [
        ("ana@example.com", "Ana", course),
        ("ana@example.org", "Ana Org", course),
        ("anabel@example.com", "", course),
        ("ana@example.com", "Ana", other),
        ("bea@example.com", "Bea Ana", course),
        ("zoe@example.com", "Zoë", course),
    ]:
        GrantFactory(access_list=access_list, email=email, name=name)
    return course, other


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ana@example.com", [("ana@example.com", "B"), ("ana@example.com", "A")]),
        ("ANA@EXAMPLE.COM ", [("ana@example.com", "B"), ("ana@example.com", "A")]),
        ("ana@", [("ana@example.com", "B"), ("ana@example.com", "A"), ("ana@example.org", "A")]),
        ("ana@example.co", [("ana@example.com", "B"), ("ana@example.com", "A")]),
        # Without "@": the start of the email, or anywhere in the name.
        (
            "ana",
            [
                ("ana@example.com", "B"),
                ("ana@example.com", "A"),
                ("ana@example.org", "A"),
                ("anabel@example.com", "A"),
                ("bea@example.com", "A"),
            ],
        ),
        ("zoë", [("zoe@example.com", "A")]),
        ("example.com", []),  # not the start of an address
        ("@example.com", []),
    ],
)
def test_search_by_email_prefix_or_exact_address(people, query, expected):
    found = listing_queryset({"q": query}).order_by("email", "access_list__name")
    names = {"Course A": "A", "Course B": "B"}
    rows = [(g.email, names[g.access_list.name]) for g in found]
    assert sorted(rows) == sorted(expected)


def test_search_within_one_list(editor_client, people):
    course, _other = people
    response = editor_client.get(GRANTS, {"access_list": course.pk, "q": "ana@example.c"})
    assert [g.email for g in response.context["object_list"]] == ["ana@example.com"]


def test_search_prefix_with_like_wildcards_is_literal(course):
    GrantFactory(access_list=course, email="a_b@example.com")
    GrantFactory(access_list=course, email="axb@example.com")
    GrantFactory(access_list=course, email="a%c@example.com")
    assert [g.email for g in listing_queryset({"q": "a_"})] == ["a_b@example.com"]
    assert [g.email for g in listing_queryset({"q": "a%"})] == ["a%c@example.com"]


LISTING_INDEXES = {
    "wma_grant_list_email",
    "wma_grant_email_pat",
    "wma_grant_list_email_pat",
    "wma_grant_sort_exp",
    "wma_grant_lsort_exp",
    "wma_grant_sort_start",
    "wma_grant_lsort_start",
    "wma_grant_sort_access",
    "wma_grant_lsort_access",
}


def _grant_indexes() -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Grant._meta.db_table)
    return {name for name, info in constraints.items() if info["index"]}


@pytest.mark.django_db(transaction=True)
def test_the_release_migration_adds_the_listing_indexes():
    app = "wagtail_member_access"
    executor = MigrationExecutor(connection)
    assert _grant_indexes() >= LISTING_INDEXES
    try:
        executor.migrate([(app, "0003_grant_references")])  # 0.1.0
        assert not LISTING_INDEXES & _grant_indexes()
        executor = MigrationExecutor(connection)
        executor.migrate([(app, "0004_release_0_2")])
        assert _grant_indexes() >= LISTING_INDEXES
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes(app))


def test_sort_and_search_queries_use_the_indexes(course):
    """The database's own plan for the listing's first page (SQLite or PostgreSQL)."""
    grants = Grant.objects.filter(access_list=course)
    plans = {
        key: str(grants.order_by(*listing_order(key, descending=True)).values("id")[:50].explain())
        for key in ("last_access_at", "expires_at", "starts_at", "email")
    }
    search = str(listing_queryset({"q": "ana@", "access_list": course.pk}).explain())
    if connection.vendor == "sqlite":
        assert "INDEX wma_grant_lsort_access" in plans["last_access_at"]
        assert "INDEX wma_grant_lsort_exp" in plans["expires_at"]
        assert "INDEX wma_grant_lsort_start" in plans["starts_at"]
        assert "TEMP B-TREE" not in plans["last_access_at"] + plans["expires_at"]
        assert "INDEX wma_grant_list_email" in search
        assert "email>? AND email<?" in search


def test_an_exported_file_imports_again_without_its_end_line(editor_client, many):
    content = b"".join(
        editor_client.get(GRANTS, {"access_list": many.pk, "export": "csv"}).streaming_content
    )
    assert content.endswith(b"# End of export: 250 grants.\r\n")
    other = AccessListFactory(name="Copy", slug="copy")
    result = import_csv(io.BytesIO(content), other, dry_run=True)
    assert (result.rows, result.new, result.invalid) == (250, 250, 0)
