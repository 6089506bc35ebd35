"""Rate limits on every endpoint that sends an email or checks a secret (django-ratelimit).

Counts live in django-ratelimit's cache (``RATELIMIT_USE_CACHE``), which must be shared by all
processes in production (a system check warns otherwise). The client IP is what
django-ratelimit's ``RATELIMIT_IP_META_KEY`` says (``REMOTE_ADDR`` unless configured): a raw
``X-Forwarded-For`` header is never trusted.

When that cache cannot be reached, every use of it raises :class:`CacheUnavailable`, which
the visitor views answer with a 503 page and ``Retry-After`` (docs/security.md#cache-down),
instead of a 500 or a misleading 429. :func:`store_unreachable` recognises the same failure
raised by any cache or cache-based session store (Wagtail's own cache reads too), and
:func:`check_session_store` finds a session store that is down although Django's cache
session engine hides it (it loads an empty session).
"""

from __future__ import annotations

import traceback
from contextlib import contextmanager
from pathlib import Path

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_ratelimit.core import get_usage, is_ratelimited
from wagtail.models import Site

from .conf import app_settings

__all__ = [
    "CacheUnavailable",
    "account_limited",
    "cache_guard",
    "check_session_store",
    "link_limited",
    "retry_after",
    "send_limited",
    "store_unreachable",
    "verify_limited",
    "webhook_limited",
]


class CacheUnavailable(Exception):
    """The shared cache (``RATELIMIT_USE_CACHE``) could not be reached."""


@contextmanager
def cache_guard():
    """Turn any error of a cache backend inside the block (Redis down, a timeout, a refused
    connection) into :class:`CacheUnavailable`. Configuration errors pass unchanged, and so
    does ``ValueError``: the cache API's answer to ``incr`` of a missing key."""
    try:
        yield
    except (CacheUnavailable, ImproperlyConfigured, ValueError):
        raise
    except Exception as exc:
        raise CacheUnavailable(f"{type(exc).__name__}: {exc}") from exc


#: The packages whose errors mean a cache or session store failed (a refused connection, a
#: timeout): the clients of Django's cache backends and of the common third-party ones.
_STORE_PACKAGES = frozenset({"redis", "django_redis", "valkey", "pymemcache", "pylibmc"})
#: Code whose socket errors are a store's: Django's cache backends and session engines.
_STORE_CODE = tuple(
    str(Path(django.__file__).resolve().parent / part)
    for part in ("core/cache", "contrib/sessions")
)
#: The key :func:`check_session_store` reads to see whether the session cache answers.
_PROBE_KEY = "wagtail_member_access:probe"


def _from_store_code(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return any(str(Path(frame.filename).resolve()).startswith(_STORE_CODE) for frame in frames)


def store_unreachable(exc: BaseException | None) -> bool:
    """Did ``exc``, or an exception it was raised from, come from a cache or session store
    that cannot be reached: :class:`CacheUnavailable`, an error of a cache client (redis,
    pymemcache, …), or a connection or timeout error raised inside Django's cache or session
    code? Anything else (a bug, a template error) is not: it stays a 500."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, CacheUnavailable):
            return True
        if type(exc).__module__.partition(".")[0] in _STORE_PACKAGES:
            return True
        if isinstance(exc, ConnectionError | TimeoutError) and _from_store_code(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def check_session_store(request) -> None:
    """Raise :class:`CacheUnavailable` when this request's session lives in a cache that
    cannot be reached. Django's cache session engine treats an unreachable cache as an
    empty session (the member looks signed out, and saving it fails at the end of the
    request), so a session that comes back empty despite the request's session cookie is
    checked with one read of the cache. Nothing for other session engines, nor without a
    session cookie: no cost for visitors who have no session."""
    session = getattr(request, "session", None)
    store = getattr(session, "_cache", None)  # the cache and cached_db engines
    if store is None or not request.COOKIES.get(settings.SESSION_COOKIE_NAME):
        return
    with cache_guard():
        if not session.keys():  # loads it: expired, or the store is down
            store.get(_PROBE_KEY)


#: Where a refused request keeps the seconds until its limit's window ends (``Retry-After``).
_RETRY_ATTR = "_wagtail_member_access_retry_after"


def _hit(request, group: str, key, rate: str) -> bool:
    # increment=True: without it django-ratelimit only reads the count
    # (docs/security.md#ratelimit-keys).
    with cache_guard():
        limited = is_ratelimited(
            request, group=f"wagtail_member_access.{group}", key=key, rate=rate, increment=True
        )
        if limited:
            usage = get_usage(
                request,
                group=f"wagtail_member_access.{group}",
                key=key,
                rate=rate,
                increment=False,
            )
            left = usage["time_left"] if usage else 0
            setattr(request, _RETRY_ATTR, max(getattr(request, _RETRY_ATTR, 0), left, 1))
    return limited


def retry_after(request) -> int:
    """Seconds until the limit that refused ``request`` lets it through again (at least 1;
    60 when unknown): the 429 page's ``Retry-After``."""
    return getattr(request, _RETRY_ATTR, 60)


def _site_key(group, request) -> str:
    site = Site.find_for_request(request)
    return str(site.pk if site else 0)


def send_limited(request, email: str) -> bool:
    """Count a request for an email to ``email`` (normalised); True if any limit is exceeded.

    Every limit is counted, even when an earlier one already refuses, so a flood from one IP
    still uses up that IP's allowance.
    """
    results = [
        _hit(request, "send.email", lambda group, request: email, app_settings.RATE_SEND_PER_EMAIL),
        _hit(request, "send.ip", "ip", app_settings.RATE_SEND_PER_IP),
        _hit(request, "send.site", _site_key, app_settings.RATE_SEND_PER_SITE),
    ]
    return any(results)


def verify_limited(request) -> bool:
    """Count a code submission from this client IP; True if over the limit."""
    return _hit(request, "verify.ip", "ip", app_settings.RATE_VERIFY_PER_IP)


def account_limited(request) -> bool:
    """Count a change on the signed-in member's account page (new email, deletion, data
    download, signing out everywhere, removing the password) per member and per client IP;
    True if over ``RATE_ACCOUNT_PER_MEMBER``."""
    results = [
        _hit(
            request,
            "account.member",
            lambda group, request: str(request.user.pk),
            app_settings.RATE_ACCOUNT_PER_MEMBER,
        ),
        _hit(request, "account.ip", "ip", app_settings.RATE_ACCOUNT_PER_MEMBER),
    ]
    return any(results)


def link_limited(request) -> bool:
    """Count a magic-link opening or confirmation from this client IP; True if over."""
    return _hit(request, "link.ip", "ip", app_settings.RATE_LINK_PER_IP)


def webhook_limited(request, *, refused: bool = False) -> bool:
    """Has this client IP used up ``RATE_WEBHOOK_PER_IP`` refused webhook calls?

    Only calls refused before their signature is verified count: the webhook view reads the
    count first (``refused=False``) and records each such refusal (``refused=True``). A flood
    of forged or junk calls is stopped, while a shop's correctly signed calls, however many,
    are never counted.
    """
    with cache_guard():
        usage = get_usage(
            request,
            group="wagtail_member_access.webhook.ip",
            key="ip",
            rate=app_settings.RATE_WEBHOOK_PER_IP,
            increment=refused,
        )
    # ``>=``: the count read without incrementing is the refusals so far, so the limit is
    # reached after exactly that many. (A cache failure reads as 0 of 0: refused, as
    # django-ratelimit itself fails closed.)
    return usage is not None and usage["count"] >= usage["limit"]
