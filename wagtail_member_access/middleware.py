"""``ServiceUnavailableMiddleware``: a site adds it so that any view (Wagtail's, the site's
own) failing because the cache or the session store cannot be reached answers the 503 page
with ``Retry-After`` that the package's own pages give, instead of a 500
(docs/deployment.md#unavailable)."""

from __future__ import annotations

from . import ratelimits
from .views.common import store_down_response

__all__ = ["ServiceUnavailableMiddleware"]


class ServiceUnavailableMiddleware:
    """Put it right after ``SessionMiddleware`` in ``MIDDLEWARE``.

    * Before the view: a request with a session cookie whose session lives in a cache that
      cannot be reached (``ratelimits.check_session_store``) gets the 503 page at once: Django
      would otherwise treat it as signed out and fail when it saves the session.
    * ``process_exception``: a view (or its template) that fails on a cache or session store
      (``ratelimits.store_unreachable``) gets the 503 page; any other error stays a 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            ratelimits.check_session_store(request)
        except ratelimits.CacheUnavailable as exc:
            return store_down_response(request, exc)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if ratelimits.store_unreachable(exception):
            return store_down_response(request, exception)
        return None
