"""A browser's pending email request (a code or a link it asked for, to unlock a page, to sign
in or to reset a password), kept in its server-side session as ``{"id", "email", "at"}``
(``at``: a POSIX timestamp), and the cooldown before it may ask again.

The cooldown is held in the shared rate-limit cache and started with one atomic ``add``
(:func:`start_cooldown`), not read from the session and written back: of parallel requests
from one browser exactly one sends (docs/security.md#atomic-limits). It counts emails that
could be sent: while the mail server fails (``sends.mail_down``) there is none, so "send
again" works at once, for every address alike (docs/security.md#mail-retries)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.cache import caches
from django.utils import timezone

from .. import durations, sends
from ..conf import app_settings
from ..models import EmailChallenge
from ..ratelimits import cache_guard
from .common import digest

__all__ = [
    "available_at",
    "clear",
    "get",
    "is_waiting",
    "remember",
    "resend_wait",
    "seconds_left",
    "start_cooldown",
]


def get(request, key: str) -> dict | None:
    """The request kept under ``key`` in this browser's session, or None."""
    return request.session.get(key) or None


def remember(request, key: str, challenge: EmailChallenge, email: str, **extra) -> None:
    """Keep ``challenge`` as this browser's request under ``key``, asked now. The requests it
    replaces are kept as ``replaced`` (the latest few), so that a code from an older email
    can be told apart from a wrong one."""
    before = request.session.get(key) or {}
    replaced = ([before["id"]] if before.get("id") else []) + before.get("replaced", [])
    request.session[key] = {
        "id": challenge.pk,
        "email": email,
        "at": timezone.now().timestamp(),
        "replaced": replaced[:5],
        **extra,
    }


def clear(request, key: str) -> None:
    """Forget the request under ``key`` (nothing happens when there is none)."""
    request.session.pop(key, None)


def available_at(state: dict) -> datetime:
    """When the browser may ask again: ``RESEND_COOLDOWN`` after its request."""
    return datetime.fromtimestamp(state["at"], tz=UTC) + app_settings.RESEND_COOLDOWN


def seconds_left(state: dict) -> int:
    """Seconds until the browser may ask again, rounded up; 0 when it may now."""
    return durations.seconds_left(available_at(state))


def resend_wait(state: dict | None) -> int:
    """Seconds this browser waits before "send again" (for the page): 0 with no request,
    after the cooldown, and while the mail server fails."""
    if not state or sends.mail_down():
        return 0
    return seconds_left(state)


def is_waiting(state: dict | None, email: str) -> bool:
    """Did this browser ask for ``email`` within the cooldown? For display: whether a new
    request may send is decided by :func:`start_cooldown`. While the mail server fails
    there is no cooldown."""
    return (
        bool(state)
        and state["email"] == email
        and seconds_left(state) > 0
        and not sends.mail_down()
    )


def start_cooldown(request, scope: str, email: str) -> bool:
    """Start this browser's cooldown for ``email`` in ``scope`` (a journey and its page) and
    return True, or return False when it is running: then nothing new may be sent.

    Atomic (the cache's ``add``), so parallel requests from one browser start it once. No
    cooldown while the mail server fails, or when ``RESEND_COOLDOWN`` is zero. Raises
    ``ratelimits.CacheUnavailable`` when the cache cannot be reached."""
    cooldown = app_settings.RESEND_COOLDOWN
    if not cooldown or sends.mail_down():
        return True
    if request.session.session_key is None:
        request.session.save()  # a first visit: the cooldown needs the browser's key
    cache = caches[app_settings.RATELIMIT_CACHE]
    key = "wagtail_member_access:cooldown:" + digest(
        f"{scope}:{request.session.session_key}:{email}"
    )
    now = timezone.now().timestamp()
    timeout = int(cooldown.total_seconds()) + 1
    with cache_guard():
        if cache.add(key, now, timeout):
            return True
        started = cache.get(key)
        if started is not None and now - started < cooldown.total_seconds():
            return False
        # The entry outlived its cooldown (a cache that expires late, a clock moved in tests).
        cache.set(key, now, timeout)
    return True
