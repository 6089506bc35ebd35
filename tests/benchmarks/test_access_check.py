"""The access check does not slow down as the grants table grows: the member's grants are
found by an indexed lookup on (email, access list), never by a scan.

Both sizes are measured in one run: 10 grants first, then 999,990 more over 1,000 access
lists, then the same calls again.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from tests.factories import UserFactory, default_home, make_page
from wagtail_member_access import access, api
from wagtail_member_access.models import AccessList, Grant

from .conftest import median_us, report, time_calls, write_rows

pytestmark = pytest.mark.django_db

LISTS = 1_000
SMALL = 10
LARGE = 1_000_000
CALLS = 3_000  # timed calls per figure
WARM_UP = 300


def insert_grants(list_ids: list[int], start: int, stop: int) -> None:
    """Grants ``member<n>@example.org`` for n in [start, stop), spread over ``list_ids``.

    Written with COPY on PostgreSQL and ``executemany`` in batches elsewhere: a million model
    instances through ``bulk_create`` would measure Django, not the table.
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    columns = [
        "access_list_id",
        "email",
        "name",
        "source",
        "reference",
        "note",
        "created_at",
        "updated_at",
    ]
    rows = (
        (list_ids[n % len(list_ids)], f"member{n}@example.org", "", "import", "", "", now, now)
        for n in range(start, stop)
    )
    write_rows(Grant, columns, rows)


def delete_grants_after(last_id: int) -> None:
    """Remove the grants added after ``last_id`` in one statement (no model instances;
    nothing refers to grants)."""
    table = connection.ops.quote_name(Grant._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id > %s", [last_id])


def one_line(text: str) -> str:
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def test_access_check_scales_with_grants(db):
    home = default_home()
    course = api.create_access_list("Course A")
    AccessList.objects.bulk_create(
        AccessList(name=f"Bulk {n}", slug=f"bulk-{n}") for n in range(1, LISTS)
    )
    list_ids = list(AccessList.objects.order_by("pk").values_list("pk", flat=True))
    assert len(list_ids) == LISTS
    section = make_page(home, title="Courses", slug="courses")
    lesson = make_page(section, title="Lesson", slug="lesson").specific
    api.protect(lesson, mode="code", access_lists=[course])
    member = UserFactory(username="ana", email="ana@example.com")
    api.grant_access("ana@example.com", course, name="Ana")
    # Bulk emails cycle over list_ids; skip the course's slot so that the 9 small-table
    # grants are on other lists (the member's is the only one on the course).
    insert_grants([pk for pk in list_ids if pk != course.pk], 0, SMALL - 1)
    assert Grant.objects.count() == SMALL
    assert access.can_view(member, lesson)

    rf = RequestFactory()

    def measure() -> tuple[float, float]:
        """Median µs of can_view(member, page), and of decide() on fresh requests."""
        call = lambda: access.can_view(member, lesson)  # noqa: E731
        time_calls(call, WARM_UP)
        can_view_us = median_us(time_calls(call, CALLS))
        requests = []
        for _ in range(WARM_UP + CALLS):
            request = rf.get(lesson.url)
            request.user = member
            requests.append(request)
        fresh = iter(requests)
        decide = lambda: access.decide(next(fresh), lesson)  # noqa: E731
        time_calls(decide, WARM_UP)
        decide_us = median_us(time_calls(decide, CALLS))
        return can_view_us, decide_us

    before_can_view, before_decide = measure()
    last_small_id = Grant.objects.order_by("-pk").values_list("pk", flat=True).first()

    started = time.perf_counter()
    insert_grants(list_ids, SMALL - 1, LARGE - 1)
    insert_seconds = time.perf_counter() - started
    assert Grant.objects.count() == LARGE

    # The lookup really goes through the big table: a bulk email on the course's list is let
    # in, one on another list is not.
    on_course = next(n for n in range(SMALL, LARGE) if list_ids[n % LISTS] == course.pk)
    assert access.can_view(UserFactory(email=f"member{on_course}@example.org"), lesson)
    assert not access.can_view(UserFactory(email=f"member{on_course + 1}@example.org"), lesson)

    large_can_view, large_decide = measure()
    plan = (
        Grant.objects.active()
        .filter(email="ana@example.com", access_list_id__in=[course.pk])
        .values_list("id")
        .explain()
    )

    # Back to 10 grants and measure again: the small figure is the mean of before and after,
    # so that a machine that got busier or quieter during the run does not bias the ratio.
    delete_grants_after(last_small_id)
    assert Grant.objects.count() == SMALL
    after_can_view, after_decide = measure()
    small_can_view = (before_can_view + after_can_view) / 2
    small_decide = (before_decide + after_decide) / 2

    print()
    report("grants_small", SMALL)
    report("grants_large", LARGE)
    report("grants_insert_seconds", insert_seconds)
    report("access_check_calls_per_figure", CALLS)
    report("access_check_10_median_us", small_can_view, 1)
    report("access_check_1m_median_us", large_can_view, 1)
    report("access_check_1m_vs_10_ratio", large_can_view / small_can_view)
    report("access_check_10_after_vs_before_ratio", after_can_view / before_can_view)
    report("access_decide_10_median_us", small_decide, 1)
    report("access_decide_1m_median_us", large_decide, 1)
    report("access_decide_1m_vs_10_ratio", large_decide / small_decide)
    report("grant_lookup_plan", one_line(plan))
