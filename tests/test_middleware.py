"""The cache or the session store is down (docs/security.md#cache-down): every request the
package handles (the page and document serve hooks, its own views) answers the 503 page
with ``Retry-After`` instead of a 500, and ``ServiceUnavailableMiddleware`` gives the same
answer for any other view that fails on them. The stores are Redis caches on a port where
nothing listens."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client
from django.urls import path, reverse
from django.utils import translation

from tests.factories import make_collection, make_document
from tests.integration.conftest import free_port
from wagtail_member_access import api, ratelimits
from wagtail_member_access.models import EmailChallenge

pytestmark = pytest.mark.django_db

MIDDLEWARE = "wagtail_member_access.middleware.ServiceUnavailableMiddleware"
SESSION_COOKIE = "abcdefghijklmnopqrstuvwxyz012345"


def unreachable():
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        "OPTIONS": {"socket_connect_timeout": 1},
    }


@pytest.fixture
def sessions_down(settings):
    """Sessions in a cache that is down; the rate-limit cache and Wagtail's cache work."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions": unreachable(),
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    settings.SESSION_CACHE_ALIAS = "sessions"
    return settings


@pytest.fixture
def cache_down(settings):
    """The one cache (rate limits, Wagtail's site paths) is down; sessions in the database."""
    settings.CACHES = {"default": unreachable()}
    return settings


def with_cookie() -> Client:
    """A returning visitor: the browser sends its session cookie."""
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = SESSION_COOKIE
    return client


def assert_unavailable(response, heading="Temporarily unavailable"):
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "no-store" in response["Cache-Control"]
    assert f"<h1>{heading}</h1>" in response.content.decode()


# --- the package's own requests ------------------------------------------------------------------


@pytest.mark.parametrize("which", ["protected", "public"])
def test_a_page_served_with_the_session_store_down_answers_503(
    protected_page, home, sessions_down, which
):
    page = protected_page if which == "protected" else home
    url = page.url
    assert_unavailable(with_cookie().get(url))


def test_a_page_without_a_session_cookie_is_served_with_the_session_store_down(home, sessions_down):
    assert Client().get("/").status_code == 200  # no session: nothing to load


def test_a_protected_page_with_the_rate_limit_cache_down_answers_503(
    protected_page, cache_down, caplog
):
    url = "/lesson/"
    assert protected_page.url_path.endswith("/lesson/")
    response = Client(raise_request_exception=False).get(url)
    assert_unavailable(response)
    [logged] = [r.getMessage() for r in caplog.records if r.name == "wagtail_member_access"]
    assert logged.startswith("The cache or session store is unreachable (")
    assert logged.endswith("): answered 503.")


def test_a_protected_document_with_the_session_store_down_answers_503(
    course, settings, tmp_path, sessions_down
):
    settings.MEDIA_ROOT = str(tmp_path)
    files = make_collection("Course files")
    api.protect_collection(files, mode="code", access_lists=[course])
    document = make_document(files)
    assert_unavailable(with_cookie().get(document.url))


def test_our_views_answer_503_when_the_session_store_is_down(protected_page, sessions_down):
    url = reverse("wagtail_member_access:request_code", args=[protected_page.pk])
    response = with_cookie().post(url, {"email": "ana@example.com", "next": "/lesson/"})
    assert_unavailable(response)
    assert EmailChallenge.objects.count() == 0
    assert_unavailable(with_cookie().get(reverse("wagtail_member_access:sign_in")))


def test_our_views_answer_503_when_wagtails_cache_is_down(protected_page, cache_down):
    # The page's address comes from Wagtail's cached site paths: a raw Redis error.
    url = reverse("wagtail_member_access:request_code", args=[protected_page.pk])
    response = Client(raise_request_exception=False).post(url, {"email": "ana@example.com"})
    assert_unavailable(response)


def test_the_503_page_is_translated(protected_page, sessions_down):
    with translation.override("de"):
        response = with_cookie().get("/lesson/")
    assert_unavailable(response, heading="Vorübergehend nicht verfügbar")


# --- the middleware, for every other view ---------------------------------------------------------


def reads_the_cache(request):
    return HttpResponse(str(cache.get("anything")))


def breaks(request):
    raise ConnectionError("an unrelated service refused the connection")


urlpatterns = [
    path("reads-cache/", reads_the_cache),
    path("breaks/", breaks),
]


@pytest.fixture
def middleware(settings):
    at = settings.MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware")
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[: at + 1],
        MIDDLEWARE,
        *settings.MIDDLEWARE[at + 1 :],
    ]
    settings.ROOT_URLCONF = __name__
    return settings


def test_the_middleware_answers_503_for_any_view_failing_on_the_cache(cache_down, middleware):
    assert_unavailable(Client(raise_request_exception=False).get("/reads-cache/"))


def test_the_middleware_answers_503_for_a_session_in_a_store_that_is_down(
    sessions_down, middleware
):
    assert_unavailable(with_cookie().get("/breaks/"))  # refused before the view runs
    # Without a session cookie, nothing is loaded: the view runs (and its own error is a 500).
    assert Client(raise_request_exception=False).get("/breaks/").status_code == 500


def test_the_middleware_leaves_other_errors_alone(middleware):
    response = Client(raise_request_exception=False).get("/breaks/")
    assert response.status_code == 500
    assert "Retry-After" not in response


def test_without_the_middleware_a_view_failing_on_the_cache_is_a_500(cache_down, settings):
    settings.ROOT_URLCONF = __name__
    assert Client(raise_request_exception=False).get("/reads-cache/").status_code == 500


def test_what_counts_as_an_unreachable_store():
    assert ratelimits.store_unreachable(ratelimits.CacheUnavailable("x"))
    try:
        cache_error = None
        from redis.exceptions import ConnectionError as RedisConnectionError

        raise RedisConnectionError("refused")
    except RedisConnectionError as exc:
        cache_error = exc
    assert ratelimits.store_unreachable(cache_error)
    wrapped = RuntimeError("template failed")
    wrapped.__cause__ = cache_error
    assert ratelimits.store_unreachable(wrapped)
    assert not ratelimits.store_unreachable(ConnectionError("an HTTP API refused"))
    assert not ratelimits.store_unreachable(ValueError("a bug"))
