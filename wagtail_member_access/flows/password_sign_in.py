"""Sign in with a password (email or an editor's username), on the member sign-in page and
in the change-password form's check of the current password.

Three counters guard every password check, in the rate-limit cache (see below). Staff and
editors who sign in here with their password are signed in as in the admin's login; members
who signed in with an initial password must choose their own first.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from dataclasses import dataclass, field

from django.contrib.auth import authenticate, get_user_model, login
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

# The client IP exactly as the other limits see it (RATELIMIT_IP_META_KEY, IPv6 masking).
from django_ratelimit.core import _get_ip as client_ip

from ..conf import app_settings, split_rate
from ..members import (
    NotAllowed,
    find_member,
    is_privileged,
    mask_email,
    normalize_email,
    remember_language,
)
from ..models import MemberProfile
from ..ratelimits import cache_guard
from . import common

__all__ = [
    "UNKNOWN_NAME_FAILURES_TTL",
    "PasswordAttempt",
    "PasswordSignIn",
    "SignInResult",
    "authenticate_password",
    "clear_password_failures_on_login",
    "complete_password_sign_in",
    "password_attempt",
]

logger = logging.getLogger("wagtail_member_access")

# --- password sign-in -------------------------------------------------------------------------
#
# Three counters guard every password check (docs/security.md#password-guessing), in the
# rate-limit cache (``RATELIMIT_USE_CACHE``): failures per account and per client IP in a
# fixed window (``RATE_PASSWORD_PER_ACCOUNT``, ``RATE_PASSWORD_PER_IP``: they slow guessing
# down), and the account's failures in a row (``PASSWORD_MAX_FAILURES``: they cap it, as
# NIST SP 800-63B §5.2.2 asks; a window alone allows 10 every 15 minutes, 960 a day, forever).
#
# The account is the user the identifier names (its primary key), so its username and its
# email share one allowance; an identifier that names no account is counted under its
# normalised text, the same way and with the same answers (no enumeration).
#
# Counting is atomic: each attempt is counted *before* the password is checked, with the
# cache's own increment (Redis INCR, Memcached incr, a lock in local memory), and the
# attempt goes on only when its own count is within the limit. Reading the count first and
# adding a failure after the check would let parallel requests all read the same count and
# all be checked. A successful attempt then takes its count back (the window counters are
# decremented, the failures in a row start again at zero), so only failures use the
# allowance. django-ratelimit cannot take a count back (it does not expose its keys), so
# these three counters are kept here with the same cache, the same fail-closed rule and the
# same ``RATELIMIT_ENABLE`` switch; their windows follow ``timezone.now()``.


def _account_key(identifier: str) -> str:
    return " ".join((identifier or "").split()).lower()[:254]


def _incr(key: str, timeout) -> int | None:
    """Add one to ``key`` (created at 0 with ``timeout``) atomically; None if the cache
    failed (the key vanished between ``add`` and ``incr``, or the cache refused)."""
    cache = common.ratelimit_cache()
    try:
        with cache_guard():  # unreachable: 503, docs/security.md#cache-down
            cache.add(key, 0, timeout)
            return cache.incr(key)
    except ValueError:
        return None


# How long failures in a row are remembered for a name that names no account.
UNKNOWN_NAME_FAILURES_TTL = 24 * 3600


def _user_by_email(identifier: str):
    """The account whose email is ``identifier`` (if it is a well-formed address that names
    exactly one account), or None: a password sign-in by email resolves it this way first."""
    try:
        email = normalize_email(identifier)
    except ValidationError:
        return None
    try:
        return find_member(email) if email else None
    except NotAllowed:
        return None


def _account_for(identifier: str):
    """The user a password for ``identifier`` would be checked against (as
    :func:`authenticate_password` resolves it), or None."""
    user = _user_by_email(identifier)
    if user is not None:
        return user
    User = get_user_model()
    try:
        return User._default_manager.get_by_natural_key(identifier)
    except (User.DoesNotExist, ValueError, TypeError):
        return None


@dataclass
class PasswordAttempt:
    """One counted password check (:func:`password_attempt`). ``limited``: refuse it (429)
    without checking the password. A failed check needs nothing more (it is counted
    already); a successful one calls :meth:`succeeded`."""

    limited: bool
    _window_keys: list[str] = field(default_factory=list, repr=False)
    _failures_key: str | None = field(default=None, repr=False)

    def succeeded(self) -> None:
        """Take this attempt's count back: only failures use the allowance."""
        cache = common.ratelimit_cache()
        with cache_guard():
            for key in self._window_keys:
                # ValueError: the window ended meanwhile, nothing is left to take back.
                with contextlib.suppress(ValueError):
                    cache.decr(key)
            if self._failures_key:
                cache.delete(self._failures_key)


def password_attempt(request, identifier: str = "", *, user=None) -> PasswordAttempt:
    """Count a password check for ``user`` (the change-password form) or for the account
    ``identifier`` names (the sign-in form), and for the client IP, before the password is
    checked. ``limited`` when the account or the IP used up its failures in the window, or
    the account failed ``PASSWORD_MAX_FAILURES`` times in a row (until a successful check,
    or a password set from a reset or invitation link)."""
    if not app_settings.RATELIMIT_ENABLE:
        return PasswordAttempt(False)
    if user is None:
        user = _account_for(identifier)
    account = f"user:{user.pk}" if user is not None else f"name:{_account_key(identifier)}"
    ip = client_ip(request)
    now = int(timezone.now().timestamp())
    attempt = PasswordAttempt(False)
    for name, value, rate in (
        ("account", account, app_settings.RATE_PASSWORD_PER_ACCOUNT),
        ("ip", ip, app_settings.RATE_PASSWORD_PER_IP),
    ):
        limit, period = split_rate(f"RATE_PASSWORD_PER_{name.upper()}", rate)
        key = (
            f"wagtail_member_access:password.{name}:{period}:{now // period}:{common.digest(value)}"
        )
        count = _incr(key, period + 60)
        attempt._window_keys.append(key)
        # None: the cache failed; refuse, as django-ratelimit fails closed.
        if count is None or count > limit:
            attempt.limited = True
    if attempt.limited:
        # Refused before the password is checked: not a failure in a row (else one burst
        # would lock the account's password sign-in at once).
        return attempt
    attempt._failures_key = common.failures_key(account)
    # For an account, no expiry: only a success ends a run of failures, however slow. A name
    # that names no account can never succeed: its count expires, so typing made-up names
    # cannot fill the cache with keys that never go (and push real accounts' counts out).
    count = _incr(attempt._failures_key, None if user is not None else UNKNOWN_NAME_FAILURES_TTL)
    limit = app_settings.PASSWORD_MAX_FAILURES
    if count is None or count > limit:
        attempt.limited = True
        if count == limit + 1:
            logger.warning("Password sign-in paused for an account: %s failures in a row.", limit)
    return attempt


def clear_password_failures_on_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in`` receiver: any sign-in, anywhere (the Wagtail admin's login, an
    emailed code or link), proves the owner is back and ends a run of failures, so an
    editor paused on the member sign-in page is not paused there for ever."""
    if user is not None and user.pk is not None:
        common.clear_password_failures(user)


def authenticate_password(request, identifier: str, password: str):
    """The active user whose email (case-insensitively) or ``USERNAME_FIELD`` is
    ``identifier`` and whose password is ``password``, through Django's authentication
    backends (so their signals and checks apply); None otherwise. An unknown address costs a
    password hash too (the backend hashes for unknown users), so timing tells nothing."""
    User = get_user_model()
    user = _user_by_email(identifier)
    username = identifier if user is None else getattr(user, User.USERNAME_FIELD)
    return authenticate(request, **{User.USERNAME_FIELD: username, "password": password})


class PasswordSignIn(enum.Enum):
    MEMBER = "member"
    STAFF = "staff"
    MUST_CHANGE = "must_change"


@dataclass(frozen=True)
class SignInResult:
    kind: PasswordSignIn
    user: object = field(repr=False)


def complete_password_sign_in(request, user) -> SignInResult:
    """Sign in ``user`` (authenticated by :func:`authenticate_password`; Django's ``login()``
    cycles the session key). Staff and editors sign in like in the admin's login. A member
    who signed in with an initial password: that password stops working now (it is made
    unusable) and they must choose their own before any member page opens."""
    if is_privileged(user):
        login(request, user)
        logger.info("Editor %s signed in on the member sign-in page.", user.pk)
        return SignInResult(PasswordSignIn.STAFF, user)
    profile = MemberProfile.objects.filter(user=user).first()
    must_change = bool(profile and profile.must_change_password)
    if must_change:
        # Works once: whatever happens next, the initial password is gone.
        user.set_unusable_password()
        user.save(update_fields=["password"])
    login(request, user)
    remember_language(user, translation.get_language())
    logger.info("%s signed in with a password.", mask_email(common.email_of(user)))
    if must_change:
        request.session[common.PENDING_SESSION_KEY] = "password"
        return SignInResult(PasswordSignIn.MUST_CHANGE, user)
    return SignInResult(PasswordSignIn.MEMBER, user)
