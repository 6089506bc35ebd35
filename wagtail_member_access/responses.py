"""Responses only a member may see: never cached, varied on the session cookie. A leaf, so the
serve path's views and the document overrides (``compat_documents``) mark them the same way."""

from __future__ import annotations

from functools import cache

from django.http import HttpResponse
from django.utils.cache import add_never_cache_headers, patch_vary_headers

__all__ = ["private"]


@cache
def _never_cached() -> str:
    """The ``Cache-Control`` that ``add_never_cache_headers`` writes (Django's own words)."""
    response = HttpResponse()
    add_never_cache_headers(response)
    return response["Cache-Control"]


def private(response):
    """Protected pages and documents, unlock and token responses: never cached, varied on the
    session cookie.

    A protected page's response usually has Wagtail's never-cache headers already (its
    privacy check adds them for our row too): exactly those are not computed a second time
    (docs/performance.md). Anything else, such as a site's hook that made the page
    ``public`` in between, is overridden."""
    if response.get("Cache-Control") != _never_cached() or not response.has_header("Expires"):
        add_never_cache_headers(response)
    patch_vary_headers(response, ["Cookie"])
    return response
