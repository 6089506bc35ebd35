"""The grants listing and its export at 1,000,000 grants: search and sort pages cost about
what they cost at 10,000 (indexes, not scans), and the CSV export streams every row in
bounded memory.

Both sizes are measured in one run: 10,000 grants over 100 access lists first, then
990,000 more, then the same requests again. Every request is a real GET of the listing by an
editor (Django's test client: filters, search, count, the first page of 50, the template).
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory
from wagtail_member_access import api
from wagtail_member_access.admin.views import listing_queryset
from wagtail_member_access.models import AccessList, Grant
from wagtail_member_access.models.lists import listing_order

from .conftest import median_us, report, time_calls, write_rows
from .test_access_check import one_line

pytestmark = pytest.mark.django_db

LISTS = 100  # at 10,000 grants, 100 a list: every page shows 50 rows at both sizes
SMALL = 10_000
LARGE = 1_000_000
CALLS = 15  # timed requests per figure


def insert_grants(list_ids: list[int], start: int, stop: int) -> None:
    """Grants ``member<n>@example.org`` ("Member n") for n in [start, stop) over ``list_ids``:
    every third has a last access, every second an expiry (COPY on PostgreSQL)."""
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    columns = ["access_list_id", "email", "name", "source", "reference", "note"]
    columns += ["created_at", "updated_at", "last_access_at", "expires_at"]

    made = adapt(now)

    def row(n):
        access = adapt(now - timedelta(minutes=n)) if n % 3 == 0 else None
        expires = adapt(now + timedelta(minutes=n)) if n % 2 == 0 else None
        list_id = list_ids[n % len(list_ids)]
        email = f"member{n}@example.org"
        return (list_id, email, f"Member {n}", "import", "", "", made, made, access, expires)

    rows = (row(n) for n in range(start, stop))
    write_rows(Grant, columns, rows)


def test_listing_and_export_at_a_million_grants(client):
    course = api.create_access_list("Course A")
    AccessList.objects.bulk_create(
        AccessList(name=f"Bulk {n}", slug=f"bulk-{n}") for n in range(1, LISTS)
    )
    list_ids = list(AccessList.objects.order_by("pk").values_list("pk", flat=True))
    client.force_login(UserFactory(username="admin", is_superuser=True, is_staff=True))
    url = reverse("wagtail_member_access_grants:index")
    one_list = {"access_list": course.pk}
    variants = {
        "search_email": ({"q": "member4242@"}, "member4242@example.org"),
        "search_email_prefix": ({"q": "member77"}, None),
        "search_email_in_list": ({**one_list, "q": "member4200@"}, "member4200@example.org"),
        "sort_last_access": ({"ordering": "-last_access_at"}, None),
        "sort_last_access_in_list": ({**one_list, "ordering": "-last_access_at"}, None),
        "sort_expiry": ({"ordering": "expires_at"}, None),
        "sort_expiry_in_list": ({**one_list, "ordering": "-expires_at"}, None),
        "sort_start_in_list": ({**one_list, "ordering": "starts_at"}, None),
        "sort_email_in_list": (one_list, None),
    }

    def measure() -> dict[str, float]:
        medians = {}
        for name, (params, expect) in variants.items():
            response = client.get(url, params)
            assert response.status_code == 200
            if expect:
                assert expect in response.content.decode()
            get = lambda params=params: client.get(url, params)  # noqa: E731
            medians[name] = median_us(time_calls(get, CALLS)) / 1000
        return medians

    insert_grants(list_ids, 0, SMALL)
    small = measure()
    started = time.perf_counter()
    insert_grants(list_ids, SMALL, LARGE)
    report("listing_insert_seconds", time.perf_counter() - started)
    assert Grant.objects.count() == LARGE
    large = measure()

    print()
    report("listing_grants_small", SMALL)
    report("listing_grants_large", LARGE)
    for name in variants:
        report(f"listing_{name}_10k_median_ms", small[name], 1)
        report(f"listing_{name}_1m_median_ms", large[name], 1)
        report(f"listing_{name}_1m_vs_10k_ratio", large[name] / small[name])

    page = Grant.objects.filter(access_list=course)
    plans = {
        "search_email": listing_queryset({"q": "member4242@"}).order_by(*listing_order("email")),
        "search_email_in_list": listing_queryset({**one_list, "q": "member4200@"}).order_by(
            *listing_order("email")
        ),
        "sort_last_access": Grant.objects.order_by(
            *listing_order("last_access_at", descending=True)
        ),
        "sort_last_access_in_list": page.order_by(
            *listing_order("last_access_at", descending=True)
        ),
        "sort_expiry_in_list": page.order_by(*listing_order("expires_at")),
    }
    for name, queryset in plans.items():
        report(f"listing_{name}_plan", one_line(queryset.values("id")[:50].explain()))

    # The export of all 1,000,000 grants: time (rows per second) and memory.
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    lines, last = _consume(client.get(url, {"export": "csv"}))
    seconds = time.perf_counter() - started
    rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert lines == LARGE + 2
    assert last == b"# End of export: 1000000 grants.\r\n"
    report("export_1m_seconds", seconds)
    report("export_1m_rows_per_s", LARGE / seconds, 0)
    report("export_1m_rss_growth_mb", rss_growth_mb)

    peaks = {}
    for label, params in (("1m", {}), ("10k", one_list)):
        tracemalloc.start()
        _consume(client.get(url, {**params, "export": "csv"}))
        peaks[label] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    report("export_1m_peak_mb", peaks["1m"])
    report("export_10k_peak_mb", peaks["10k"])
    report("export_peak_1m_vs_10k_ratio", peaks["1m"] / peaks["10k"])


def _consume(response) -> tuple[int, bytes]:
    """Lines in a streamed CSV response and its last line, without keeping the file."""
    assert response.status_code == 200
    lines = 0
    tail = b""
    for piece in response.streaming_content:
        lines += piece.count(b"\n")
        tail = (tail + piece)[-200:]
    return lines, tail.splitlines(keepends=True)[-1]
