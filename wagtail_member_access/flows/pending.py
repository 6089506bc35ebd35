"""A browser's pending email request (a code or a link it asked for, to unlock a page, to sign
in or to reset a password), kept in its server-side session as ``{"id", "email", "at"}``
(``at``: a POSIX timestamp), and the cooldown before it may ask again."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone

from .. import durations
from ..conf import app_settings
from ..models import EmailChallenge

__all__ = ["available_at", "clear", "get", "is_waiting", "remember", "seconds_left"]


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


def is_waiting(state: dict | None, email: str) -> bool:
    """Did this browser ask for ``email`` within the cooldown (then nothing new is sent)?"""
    return bool(state) and state["email"] == email and seconds_left(state) > 0
