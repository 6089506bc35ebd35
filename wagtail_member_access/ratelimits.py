"""Rate limits on every endpoint that sends an email or checks a secret (django-ratelimit).

Counts live in django-ratelimit's cache (``RATELIMIT_USE_CACHE``), which must be shared by all
processes in production (a system check warns otherwise). The client IP is what
django-ratelimit's ``RATELIMIT_IP_META_KEY`` says (``REMOTE_ADDR`` unless configured): a raw
``X-Forwarded-For`` header is never trusted.

When that cache cannot be reached, every use of it raises :class:`CacheUnavailable`, which
the visitor views answer with a 503 page and ``Retry-After`` (docs/security.md#cache-down),
instead of a 500 or a misleading 429.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured
from django_ratelimit.core import get_usage, is_ratelimited
from wagtail.models import Site

from .conf import app_settings

__all__ = [
    "CacheUnavailable",
    "account_limited",
    "cache_guard",
    "link_limited",
    "retry_after",
    "send_limited",
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
