"""CSV import of 10,000 and 100,000 rows: time and memory (docs/performance.md).

The target is 100,000 rows in under 20 s on a 2-core machine, in bounded memory. The file is
read from disk in 64 KiB chunks; what grows with the file is one small tuple per row (the
validated rows, kept until every row is known to be valid, because the import is all or
nothing). So memory is measured as Python's peak allocation (``tracemalloc``) per row, for
both sizes: a per-row figure that stays the same from 10,000 to 100,000 rows means memory
grows linearly with the rows and nothing else, and ``IMPORT_MAX_ROWS`` bounds it.

Timings are taken without ``tracemalloc`` (it slows Python down several times); the memory
run imports the same file again into a fresh list.
"""

from __future__ import annotations

import gc
import resource
import time
import tracemalloc

import pytest

from tests.factories import AccessListFactory
from wagtail_member_access.imports import import_csv
from wagtail_member_access.models import Grant

from .conftest import report

pytestmark = pytest.mark.django_db

SIZES = (10_000, 100_000)
EXPIRIES = [f"2027-{month:02d}-28" for month in range(1, 13)]


def write_csv(path, rows: int) -> int:
    """A realistic file: every column filled, a dozen expiry dates (cohorts), German header
    names and semicolons as German Excel writes them. Returns its size in bytes."""
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        f.write("E-Mail;Name;Gültig ab;Gültig bis;Notiz\r\n")
        for i in range(rows):
            f.write(
                f"member{i}@example.org;Member Number {i};2026-01-01;"
                f"{EXPIRIES[i % len(EXPIRIES)]};order {100000 + i}\r\n"
            )
    return path.stat().st_size


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def timed_import(path, access_list, **kwargs):
    gc.collect()
    start = time.perf_counter()
    with open(path, "rb") as f:
        result = import_csv(f, access_list, **kwargs)
    return result, time.perf_counter() - start


def test_import_time_and_memory(tmp_path):
    peaks = {}
    for rows in SIZES:
        path = tmp_path / f"grants_{rows}.csv"
        size = write_csv(path, rows)
        report(f"import_{rows}_file_mb", size / 1e6)

        dry, seconds = timed_import(path, AccessListFactory(), dry_run=True)
        assert dry.ok and dry.new == rows and not dry.written
        report(f"import_{rows}_dry_run_s", seconds)

        access_list = AccessListFactory()
        rss_before = rss_kib()
        result, seconds = timed_import(path, access_list)
        rss_growth = rss_kib() - rss_before
        assert result.ok and result.new == rows and result.written
        assert Grant.objects.filter(access_list=access_list).count() == rows
        report(f"import_{rows}_s", seconds)
        report(f"import_{rows}_rows_per_s", int(rows / seconds))
        report(f"import_{rows}_rss_growth_mb", rss_growth / 1024)

        again, seconds = timed_import(path, access_list)
        assert (again.new, again.updated, again.unchanged) == (0, 0, rows)
        report(f"reimport_{rows}_unchanged_s", seconds)

        fresh = AccessListFactory()
        gc.collect()
        tracemalloc.start()
        with open(path, "rb") as f:
            assert import_csv(f, fresh).new == rows
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peaks[rows] = peak
        report(f"import_{rows}_peak_mb", peak / 1e6)
        report(f"import_{rows}_peak_bytes_per_row", int(peak / rows))

    small, large = SIZES
    report("import_peak_ratio_100k_vs_10k", peaks[large] / peaks[small])
    report("import_peak_per_row_ratio_100k_vs_10k", (peaks[large] / large) / (peaks[small] / small))
    report("process_max_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
