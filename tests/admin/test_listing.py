"""The grants listing: each status filter with its exact rows, search, sorting (the same on
SQLite and PostgreSQL), pagination, and the access-list listing's counts and page links."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse, reverse_lazy

from tests.factories import AccessListFactory, GrantFactory, make_page
from wagtail_member_access import api

pytestmark = pytest.mark.django_db

GRANTS = reverse_lazy("wagtail_member_access_grants:index")
IMPORT = reverse_lazy("wagtail_member_access_grants:import")


def emails(response) -> list[str]:
    """The emails of the listing's rows, in order."""
    assert response.status_code == 200
    return re.findall(r'id="grant_\d+_title"[^>]*>\s*([^<\s]+)', response.content.decode())


@pytest.fixture
def grants(course, clock):
    now = clock.now
    other = AccessListFactory(name="Course B", slug="course-b")
    return {
        "active": GrantFactory(access_list=course, email="active@example.com", name="Ana"),
        "soon": GrantFactory(
            access_list=course,
            email="soon@example.com",
            name="Bea",
            expires_at=now + timedelta(days=6, hours=23),
            last_access_at=now - timedelta(days=1),
        ),
        "later": GrantFactory(
            access_list=course,
            email="later@example.com",
            name="Cem",
            expires_at=now + timedelta(days=8),
            last_access_at=now - timedelta(days=3),
        ),
        "future": GrantFactory(
            access_list=course,
            email="future@example.com",
            name="Dan",
            starts_at=now + timedelta(days=2),
        ),
        "expired": GrantFactory(
            access_list=course,
            email="expired@example.com",
            name="Eva",
            expires_at=now - timedelta(seconds=1),
        ),
        "revoked": GrantFactory(
            access_list=course,
            email="revoked@example.com",
            name="Fin",
            revoked_at=now - timedelta(hours=1),
        ),
        "other": GrantFactory(access_list=other, email="other@example.com", name="Ana Other"),
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", ["active@example.com", "later@example.com", "soon@example.com"]),
        ("expiring", ["soon@example.com"]),
        ("not_started", ["future@example.com"]),
        ("expired", ["expired@example.com"]),
        ("revoked", ["revoked@example.com"]),
        (
            "",
            [
                "active@example.com",
                "expired@example.com",
                "future@example.com",
                "later@example.com",
                "revoked@example.com",
                "soon@example.com",
            ],
        ),
    ],
)
def test_status_filters(editor_client, course, grants, status, expected):
    response = editor_client.get(GRANTS, {"access_list": course.pk, "status": status})
    assert emails(response) == expected


def test_active_filter_matches_the_access_decision(editor_client, course, grants):
    shown = emails(editor_client.get(GRANTS, {"access_list": course.pk, "status": "active"}))
    assert shown == sorted(g.email for g in course.grants.active())
    assert all(grants[k].is_active() for k in ("active", "soon", "later"))


def test_expiry_moves_a_grant_between_filters(editor_client, course, grants, clock):
    clock.advance(days=7)
    assert emails(editor_client.get(GRANTS, {"access_list": course.pk, "status": "expired"})) == [
        "expired@example.com",
        "soon@example.com",
    ]
    assert emails(editor_client.get(GRANTS, {"access_list": course.pk, "status": "expiring"})) == [
        "later@example.com"
    ]


def test_search_by_email_and_name(editor_client, grants):
    assert emails(editor_client.get(GRANTS, {"q": "ana"})) == [
        "active@example.com",
        "other@example.com",
    ]
    assert emails(editor_client.get(GRANTS, {"q": "LATER@"})) == ["later@example.com"]
    assert emails(editor_client.get(GRANTS, {"q": "nobody"})) == []


def test_filter_by_list(editor_client, grants):
    other = grants["other"].access_list
    assert emails(editor_client.get(GRANTS, {"access_list": other.pk})) == ["other@example.com"]


def test_sort_by_expiry_unlimited_last_and_first(editor_client, course, grants):
    params = {"access_list": course.pk, "status": ""}
    ascending = emails(editor_client.get(GRANTS, {**params, "ordering": "expires_at"}))
    assert ascending == [
        "expired@example.com",
        "soon@example.com",
        "later@example.com",
        "active@example.com",
        "future@example.com",
        "revoked@example.com",
    ]
    # Descending reverses the whole order (ties by email too), so one index serves both.
    descending = emails(editor_client.get(GRANTS, {**params, "ordering": "-expires_at"}))
    assert descending == ascending[::-1]
    assert descending == [
        "revoked@example.com",
        "future@example.com",
        "active@example.com",
        "later@example.com",
        "soon@example.com",
        "expired@example.com",
    ]


def test_sort_by_last_access_never_is_earliest(editor_client, course, grants):
    params = {"access_list": course.pk}
    assert emails(editor_client.get(GRANTS, {**params, "ordering": "-last_access_at"})) == [
        "soon@example.com",
        "later@example.com",
        "revoked@example.com",
        "future@example.com",
        "expired@example.com",
        "active@example.com",
    ]
    assert emails(editor_client.get(GRANTS, {**params, "ordering": "last_access_at"}))[-2:] == [
        "later@example.com",
        "soon@example.com",
    ]


def test_pagination_50_per_page(editor_client, course):
    for n in range(51):
        GrantFactory(access_list=course, email=f"m{n:02d}@example.com")
    first = emails(editor_client.get(GRANTS, {"access_list": course.pk}))
    second = emails(editor_client.get(GRANTS, {"access_list": course.pk, "p": 2}))
    assert len(first) == 50 and second == ["m50@example.com"]
    assert first[0] == "m00@example.com"


def test_grants_listing_of_a_list_offers_add_and_import(editor_client, course):
    html = editor_client.get(GRANTS, {"access_list": course.pk}).content.decode()
    assert f"{reverse('wagtail_member_access_grants:add')}?access_list={course.pk}" in html
    # The import asks for the list, with the one filtered by preselected.
    assert f'href="{IMPORT}?access_list={course.pk}"' in html
    assert "Course A" in html  # the subtitle names the list


def test_the_unfiltered_grants_listing_offers_import_too(editor_client, course):
    html = editor_client.get(GRANTS).content.decode()
    assert f'href="{IMPORT}"' in html and "Import CSV" in html


def test_import_is_offered_only_to_who_may_import(viewer_client, course):
    # Viewing grants is not enough: the import adds and changes them.
    assert "Import CSV" not in viewer_client.get(GRANTS).content.decode()


def test_access_list_listing_shows_counts_pages_and_links(editor_client, course, grants, home):
    lesson = make_page(home, title="Lesson 1", slug="lesson-1")
    api.protect(lesson, mode="link", access_lists=[course])
    html = editor_client.get(reverse("wagtail_member_access_lists:index")).content.decode()
    edit = reverse("wagtail_member_access_lists:edit", args=(course.pk,))
    row = html[html.index(f'href="{edit}"') :]
    row = row[: row.index("</tr>")]
    # active, soon, later: three active grants, linked to the filtered grants listing.
    assert f'href="{GRANTS}?access_list={course.pk}&amp;status=active">3</a>' in row
    assert f'href="{reverse("wagtailadmin_pages:edit", args=(lesson.pk,))}">Lesson 1</a>' in row
    assert "(Magic link)" in row
    assert "All sites" in row
    assert "Unlimited" in row


def listing_row(html: str, email: str) -> str:
    """The text of the listing's row for ``email``, cells separated by "|"."""
    start = html.rindex("<tr", 0, html.index(f">{email}<"))
    row = html[start : html.index("</tr>", start)]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return "|".join(" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells)


def test_a_revoked_grant_shows_when_it_was_revoked_not_unlimited(editor_client, course):
    revoked_at = datetime(2025, 5, 17, 14, 5, tzinfo=UTC)
    GrantFactory(access_list=course, email="ana@example.com", revoked_at=revoked_at)
    row = listing_row(editor_client.get(GRANTS).content.decode(), "ana@example.com")
    assert "Revoked" in row  # the status
    assert "revoked on 17 May 2025, 14:05 (UTC); was unlimited" in row
    assert "Unlimited" not in row


def test_a_revoked_grant_also_shows_the_end_it_had(editor_client, course):
    GrantFactory(
        access_list=course,
        email="ana@example.com",
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),  # until the end of 31 December 2026
        revoked_at=datetime(2026, 12, 7, 6, 26, tzinfo=UTC),
    )
    GrantFactory(
        access_list=course,
        email="bo@example.com",
        expires_at=datetime(2026, 12, 31, 18, 0, tzinfo=UTC),
        revoked_at=datetime(2026, 12, 7, 6, 26, tzinfo=UTC),
    )
    html = editor_client.get(GRANTS).content.decode()
    assert listing_row(html, "ana@example.com").split("|")[6] == (
        "revoked on 7 December 2026, 06:26 (UTC); was until the end of 31 December 2026 (UTC)"
    )
    assert listing_row(html, "bo@example.com").split("|")[6] == (
        "revoked on 7 December 2026, 06:26 (UTC); was until 31 December 2026, 18:00 (UTC)"
    )


def test_starts_and_last_access_read_like_the_expiry(editor_client, course):
    GrantFactory(
        access_list=course,
        email="ana@example.com",
        starts_at=datetime(2031, 2, 1, tzinfo=UTC),
        expires_at=datetime(2031, 4, 1, tzinfo=UTC),
        last_access_at=datetime(2025, 5, 17, 14, 5, tzinfo=UTC),
    )
    row = listing_row(editor_client.get(GRANTS).content.decode(), "ana@example.com")
    assert row.split("|")[5:8] == [
        "1 February 2031, 00:00 (UTC)",
        "end of 31 March 2031 (UTC)",
        "17 May 2025, 14:05 (UTC)",
    ]
