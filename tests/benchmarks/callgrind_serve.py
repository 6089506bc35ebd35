"""Run by ``test_instructions.py`` under ``valgrind --tool=callgrind``, never on its own:
the same member GETs the lesson of ``test_serve.py`` in three variants, and callgrind counts
the instructions of exactly those requests (instrumentation is switched on around them with
``callgrind_control`` and each variant is dumped under its own name).

Before each variant the heap is collected and frozen (``gc.freeze()``, as servers that fork
their workers do): otherwise a full collection of the test process's whole heap, which
lands in one variant or another depending on everything allocated before, adds millions of
instructions to that variant alone. The requests' own young-generation collections count."""

from __future__ import annotations

import gc
import os
import subprocess

import pytest

from .test_serve import VARIANTS, member_client, site  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db

#: Requests counted per variant (the figures are per request).
REQUESTS = int(os.environ.get("WMA_CALLGRIND_REQUESTS", "30"))
MEASURED = ("public", "protected_unlocked", "wagtail_login")


def _callgrind(*args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)


def test_serve_instructions(site, settings):  # noqa: F811 (the fixture)
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    client = member_client(site)
    url = site.lesson.url
    for name in MEASURED:
        with VARIANTS[name](site, client):
            for _ in range(5):  # warm: the session, the grant's last access, Python's caches
                client.get(url)
            gc.collect()
            gc.freeze()
            _callgrind("--zero")
            _callgrind("--instr=on")
            for _ in range(REQUESTS):
                client.get(url)
            _callgrind("--instr=off")
            _callgrind(f"--dump={name}")
            gc.unfreeze()
