"""Seats under parallel first unlocks, on PostgreSQL: threads with their own connections take
seats of one domain grant at once, and never more than it has (seats.py locks the grant's
row with ``select_for_update`` and counts under the lock). SQLite serialises writers, so
this needs PostgreSQL (``DATABASE_URL``)."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.test_concurrency import run_together
from wagtail_member_access import api, seats
from wagtail_member_access.models import Seat

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="needs PostgreSQL (DATABASE_URL)",
    ),
]


@pytest.fixture
def school(transactional_db):
    course = api.create_access_list("Course A")
    return course, api.grant_access("@school.example", course, seats=3)


def test_parallel_first_unlocks_never_take_more_seats_than_the_grant_has(school):
    course, grant = school
    results = run_together(8, lambda i: seats.claim(f"member{i}@school.example", [course.pk]))
    assert sum(1 for taken in results if taken) == 3
    assert Seat.objects.filter(grant=grant).count() == 3
    assert sorted(s.email for taken in results for s in taken) == sorted(
        Seat.objects.values_list("email", flat=True)
    )


def test_one_member_unlocking_in_parallel_takes_one_seat(school):
    course, grant = school
    results = run_together(6, lambda i: seats.claim("Ana@School.example", [course.pk]))
    assert {taken[0].pk for taken in results} == {Seat.objects.get(grant=grant).pk}
