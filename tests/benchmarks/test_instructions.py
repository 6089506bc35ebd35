"""Instructions per protected page view, counted by valgrind's callgrind: figures that do
not depend on the machine's load (the same count twice in a row, whatever else runs), beside
the timed ones of ``test_serve.py``. Skipped where valgrind is not installed.

The requests are those of ``test_serve.py`` with cached database sessions: the member on the
lesson public, protected by member access (unlocked by their grant), and behind Wagtail's own
login restriction. ``callgrind_serve.py`` makes them inside ``valgrind`` and this test reads
the counts back (docs/performance.md#instructions-per-view).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .callgrind_serve import MEASURED, REQUESTS
from .conftest import report

HERE = Path(__file__).resolve().parent


@pytest.mark.skipif(not shutil.which("valgrind"), reason="needs valgrind (Debian: valgrind)")
def test_serve_instructions(tmp_path):
    env = os.environ | {"PYTHONHASHSEED": "0"}
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={tmp_path}/callgrind.%p",
        sys.executable,
        "-m",
        "pytest",
        str(HERE / "callgrind_serve.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-o",
        "addopts=",
    ]
    run = subprocess.run(command, cwd=HERE.parent.parent, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    per_request = {}
    for dump in tmp_path.glob("callgrind.*.*"):
        text = dump.read_text(errors="replace")
        name = re.search(r"^desc: Trigger: dump (\S+)$", text, re.M)  # callgrind_control --dump
        total = re.search(r"^totals: (\d+)", text, re.M)
        if name and total:
            per_request[name.group(1)] = int(total.group(1)) / REQUESTS
    assert set(per_request) == set(MEASURED), (per_request, run.stderr[-2000:])
    public = per_request["public"]
    print()
    report("instructions_requests_per_variant", REQUESTS)
    for name in MEASURED:
        report(f"instructions_{name}_millions_cached_sessions", per_request[name] / 1e6, 3)
    report(
        "instructions_protected_unlocked_vs_public_ratio_cached_sessions",
        per_request["protected_unlocked"] / public,
        3,
    )
    report(
        "instructions_wagtail_login_vs_public_ratio_cached_sessions",
        per_request["wagtail_login"] / public,
        3,
    )
    report(
        "instructions_protected_unlocked_vs_wagtail_login_ratio_cached_sessions",
        per_request["protected_unlocked"] / per_request["wagtail_login"],
        3,
    )
