"""What the member-account journeys share: the member's profile and address, issuing a
single-use link, setting a password (and the notice that follows), the counter of password
failures in a row that a new password ends."""

from __future__ import annotations

import hashlib
import logging

from django.contrib.auth import update_session_auth_hash
from django.core.cache import caches
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from wagtail.log_actions import log

from .. import emails, log_actions, moments, sites, tokens
from ..conf import app_settings
from ..members import mask_email, normalize_email, sign_in_member
from ..models import MemberProfile, MemberSession

__all__ = [
    "PENDING_SESSION_KEY",
    "clear_password_failures",
    "digest",
    "email_of",
    "failures_key",
    "issue_link",
    "profile_of",
    "ratelimit_cache",
    "set_password",
]

logger = logging.getLogger("wagtail_member_access")

#: What a signed-in member must do before any member page: ``"password"`` (choose a
#: password after signing in with an initial one).
PENDING_SESSION_KEY = "wagtail_member_access.pending"


def profile_of(user) -> MemberProfile:
    """``user``'s profile, created empty if it has none."""
    profile, _ = MemberProfile.objects.get_or_create(user=user)
    return profile


def email_of(user) -> str:
    """``user``'s address, normalised. Raises ``ValidationError`` when it is malformed."""
    return normalize_email(getattr(user, user.get_email_field_name()) or "")


def issue_link(email: str, purpose, *, site, language: str, validity, code: bool = False):
    """Start a challenge of ``purpose`` for ``email`` (cancelling older ones of the same
    purpose) and issue its link, valid ``validity`` (and a code with ``code``); returns
    ``(challenge, issued)``."""
    challenge = tokens.start_challenge(
        email, None, purpose=purpose, language=language or "", site=site
    )
    return challenge, tokens.issue(challenge, code=code, link=True, link_validity=validity)


# --- password failures in a row (docs/security.md#password-guessing) ---------------------------


def ratelimit_cache():
    """The cache that counts password checks: django-ratelimit's ``RATELIMIT_USE_CACHE``."""
    return caches[app_settings.RATELIMIT_CACHE]


def digest(value: str) -> str:
    """What a cache key holds instead of an address or a name: its SHA-256, in hex."""
    return hashlib.sha256(value.encode()).hexdigest()


def failures_key(account: str) -> str:
    """The cache key of ``account``'s failures in a row (``user:<pk>`` or ``name:<text>``)."""
    return f"wagtail_member_access:password.failures:{digest(account)}"


def clear_password_failures(user) -> None:
    """Start ``user``'s failures in a row again at zero (after a password was set)."""
    ratelimit_cache().delete(failures_key(f"user:{user.pk}"))


# --- setting a password ----------------------------------------------------------------------


def _notify_changed(email: str, site) -> None:
    context = {
        "email": email,
        "site_name": sites.site_name(site),
        "changed_at": moments.moment_lazy(timezone.now(), timezone.get_default_timezone()),
        "reset_url": sites.absolute_url(site, reverse("wagtail_member_access:forgot_password")),
    }
    emails.deliver("password_changed", email, context, language=translation.get_language())


def set_password(
    request, user, password: str, *, how: str, accept_terms: bool, site, notify: bool
) -> None:
    """Set ``password`` (validated by the caller's form), clear the forced change, record the
    terms, and sign in (cycling the session key; every other session of the member ends, its
    auth hash no longer matches). ``how`` (``invite``, ``reset``, ``initial``, ``change``) is
    written to the audit log. With ``notify``, a "your password was changed" notice is
    emailed; if it cannot be sent the password is set all the same."""
    email = email_of(user)
    now = timezone.now()
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        profile = profile_of(user)
        profile.must_change_password = False
        if how == "invite" and profile.invited_at is None:
            profile.invited_at = now
        if accept_terms and app_settings.TERMS_URL and profile.terms_accepted_at is None:
            profile.terms_accepted_at = now
        profile.save()
        # A new password ends a run of failed sign-ins (its setter proved the mailbox or the
        # current password): this is how a member whose password sign-in paused gets it back.
        clear_password_failures(user)
        log(
            instance=user,
            action=log_actions.PASSWORD_CHANGED,
            user=user,
            data={"email": mask_email(email), "how": how},
        )
    if request.user.is_authenticated and request.user.pk == user.pk:
        old_key = request.session.session_key
        update_session_auth_hash(request, user)  # a new session key for this browser
        MemberSession.objects.filter(session_key=old_key).update(
            session_key=request.session.session_key
        )
    else:
        sign_in_member(request, email)
    # The other sessions ended with the old password's auth hash: forget them.
    MemberSession.objects.filter(user=user).exclude(
        session_key=request.session.session_key or ""
    ).delete()
    request.session.pop(PENDING_SESSION_KEY, None)
    logger.info("%s set a new password (%s).", mask_email(email), how)
    if notify:
        _notify_changed(email, site or sites.default_site())
