"""A member's sessions: recorded when they sign in (``user_logged_in``), listed on the account
page, ended by "Sign out everywhere"; and removing a password (back to signing in by email),
which ends the other sessions too (docs/member-accounts.md#sign-out-everywhere)."""

from __future__ import annotations

import logging
from importlib import import_module

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import get_random_string
from wagtail.log_actions import log
from wagtail.models import Site

from .. import emails, log_actions, moments, sites
from ..members import is_privileged, mask_email
from ..models import MemberSession
from . import common

__all__ = [
    "active_sessions",
    "end_all_sessions",
    "forget_session",
    "record_session",
    "remove_password",
    "sign_out_everywhere",
    "touch",
]

logger = logging.getLogger("wagtail_member_access")


def _device(request) -> str:
    return (request.META.get("HTTP_USER_AGENT") or "")[:255]


def record_session(sender, request, user, **kwargs) -> None:
    """``user_logged_in`` receiver: remember a member's new session (not staff's: they have
    the admin)."""
    if request is None or not hasattr(request, "session") or is_privileged(user):
        return
    touch(request, user)


def touch(request, user=None) -> None:
    """Record or refresh this browser's session of ``user`` (the signed-in member)."""
    user = user or request.user
    if not request.session.session_key:
        request.session.save()
    MemberSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={"user": user, "device": _device(request), "last_seen_at": timezone.now()},
    )


def forget_session(sender, request, user, **kwargs) -> None:
    """``user_logged_out`` receiver: the session ended."""
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        MemberSession.objects.filter(session_key=key).delete()


def active_sessions(request) -> list[dict]:
    """The member's recorded sessions, newest first: ``device``, ``created_at``,
    ``last_seen_at`` and ``current`` (this browser). No session key."""
    current = request.session.session_key
    rows = MemberSession.objects.filter(user=request.user).order_by("-last_seen_at")
    return [
        {
            "device": row.device,
            "created_at": row.created_at,
            "last_seen_at": row.last_seen_at,
            "current": row.session_key == current,
        }
        for row in rows
    ]


def end_all_sessions(user, *, keep: str | None = None) -> int:
    """End every recorded session of ``user`` except ``keep`` (a session key) in the session
    engine; return how many."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    rows = MemberSession.objects.filter(user=user).exclude(session_key=keep or "")
    keys = list(rows.values_list("session_key", flat=True))
    for key in keys:
        store(session_key=key).delete()
    rows.delete()
    return len(keys)


def _rotate_unusable(user) -> None:
    # A member without a password has an unusable one: a fresh one changes the session auth
    # hash, so also sessions nobody recorded (signed in before this table existed) end.
    if not user.has_usable_password():
        user.set_unusable_password()
        user.password = user.password + get_random_string(8)
        user.save(update_fields=["password"])


def _notify(kind: str, request, email: str, **extra) -> None:
    site = Site.find_for_request(request) or sites.default_site()
    context = {
        "email": email,
        "site_name": sites.site_name(site),
        "changed_at": moments.moment_lazy(timezone.now(), timezone.get_default_timezone()),
        **extra,
    }
    emails.deliver(kind, email, context, language=translation.get_language())


def sign_out_everywhere(request) -> int:
    """End every other session of the signed-in member (this one stays), email a notice, and
    return how many recorded sessions ended."""
    user = request.user
    email = common.email_of(user)
    _rotate_unusable(user)
    update_session_auth_hash(request, user)  # cycles this session's key, keeps it signed in
    ended = end_all_sessions(user, keep=request.session.session_key)
    touch(request, user)
    log(
        instance=user,
        action=log_actions.SESSIONS_ENDED,
        user=user,
        data={"email": mask_email(email)},
    )
    logger.info("%s signed out everywhere (%s sessions).", mask_email(email), ended)
    _notify("signed_out_everywhere", request, email)
    return ended


def remove_password(request) -> None:
    """The signed-in member signs in by email from now on: their password is removed, their
    other sessions end, a notice is emailed."""
    user = request.user
    email = common.email_of(user)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    update_session_auth_hash(request, user)
    end_all_sessions(user, keep=request.session.session_key)
    touch(request, user)
    log(
        instance=user,
        action=log_actions.PASSWORD_CHANGED,
        user=user,
        data={"email": mask_email(email), "how": "removed"},
    )
    reset = reverse("wagtail_member_access:forgot_password")
    site = Site.find_for_request(request) or sites.default_site()
    _notify("password_removed", request, email, reset_url=sites.absolute_url(site, reset))
