"""Shared pieces of the benchmarks (``make bench``).

The benchmarks measure and print; they never assert on time. Every figure is printed as one
``name: value`` line, and figures that compare two things are ratios measured in the same run,
so that they mean the same on a laptop and on a CI runner. The normal test run never collects
this folder (``--ignore=tests/benchmarks`` in pyproject's ``addopts``); ``make bench`` clears
``addopts`` to run it.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

#: Tables whose queries are "ours" when counting what the package adds.
PACKAGE_TABLE_PREFIX = "wagtail_member_access_"

#: BENCH_VERBOSE=1 also prints the SQL behind the query counts.
VERBOSE = os.environ.get("BENCH_VERBOSE") == "1"


def pytest_configure(config):
    # Registered here (not in pyproject) so that the marker exists only where it is used.
    config.addinivalue_line("markers", "benchmark: a benchmark; run with `make bench`")


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.benchmark)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """A test database of our own on PostgreSQL (``test_<name>_bench_<pid>``), so that
    ``make bench`` can run while the test suite uses ``test_<name>``. SQLite stays in memory."""
    from django.conf import settings

    for db_settings in settings.DATABASES.values():
        if db_settings["ENGINE"] != "django.db.backends.sqlite3":
            base = db_settings.get("TEST", {}).get("NAME") or f"test_{db_settings['NAME']}"
            db_settings.setdefault("TEST", {})["NAME"] = f"{base}_bench_{os.getpid()}"


def report(name: str, value, digits: int = 2) -> None:
    """One figure, one line: ``name: value`` (floats with ``digits`` decimals)."""
    if isinstance(value, float):
        value = f"{value:.{digits}f}"
    print(f"{name}: {value}", flush=True)


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def time_calls(fn: Callable[[], object], n: int) -> list[float]:
    """``n`` timings (seconds) of ``fn()``, each on its own, with a collected heap first so
    that a garbage collection triggered by earlier set-up does not land in one variant."""
    gc.collect()
    samples = []
    perf_counter = time.perf_counter
    for _ in range(n):
        start = perf_counter()
        fn()
        samples.append(perf_counter() - start)
    return samples


@dataclass
class Queries:
    """The SQL run inside a ``count_queries()`` block."""

    sql: list[str]

    @property
    def count(self) -> int:
        return len(self.sql)

    @property
    def package(self) -> list[str]:
        return [q for q in self.sql if PACKAGE_TABLE_PREFIX in q]

    @property
    def session(self) -> list[str]:
        return [q for q in self.sql if '"django_session"' in q]

    def dump(self, label: str) -> None:
        if VERBOSE:
            print(f"--- {label}: {self.count} queries")
            for q in self.sql:
                print("   ", q[:300])


@contextmanager
def count_queries() -> Iterator[Queries]:
    result = Queries([])
    with CaptureQueriesContext(connection) as ctx:
        yield result
    result.sql[:] = [q["sql"] for q in ctx.captured_queries]


@contextmanager
def member_access_hook_bypassed():
    """Serve pages as if wagtail-member-access were not installed: our ``on_serve_page`` hook
    is taken out of Wagtail's hook registry for the duration. The baseline for "extra queries
    the package adds"."""
    from wagtail import hooks

    from wagtail_member_access.wagtail_hooks import check_member_access

    hooks.search_for_hooks()
    original = hooks._hooks["on_serve_page"]
    remaining = [entry for entry in original if entry[0] is not check_member_access]
    assert len(remaining) == len(original) - 1, "our on_serve_page hook is not registered"
    hooks._hooks["on_serve_page"] = remaining
    try:
        yield
    finally:
        hooks._hooks["on_serve_page"] = original


@pytest.fixture(scope="session", autouse=True)
def _print_environment(django_db_setup, django_db_blocker):
    """Head the output with what the figures were measured on."""
    import platform

    import django
    import wagtail

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
        else:
            cursor.execute("show server_version")
        db_version = cursor.fetchone()[0]
    print()
    report("database", f"{connection.vendor} {db_version}")
    report("python", platform.python_version())
    report("django", django.get_version())
    report("wagtail", wagtail.__version__)
    report("cpus", os.cpu_count())
    # Other processes compete for the CPUs: read the figures of a busy machine with care.
    report("load_average_1min", os.getloadavg()[0])
    yield
    print()
    report("load_average_1min_at_end", os.getloadavg()[0])


#: Rows per INSERT batch where there is no COPY (SQLite).
BATCH = 10_000


def write_rows(model, columns: list[str], rows: Iterable[tuple]) -> None:
    """Write ``rows`` (values in the order of ``columns``) into ``model``'s table without
    model instances: PostgreSQL's COPY, elsewhere INSERTs in batches of :data:`BATCH`."""
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    column_sql = ", ".join(qn(c) for c in columns)
    rows = iter(rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({column_sql}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO {table} ({column_sql}) VALUES ({', '.join(['%s'] * len(columns))})"
            while batch := list(islice(rows, BATCH)):
                cursor.executemany(sql, batch)
