"""Member accounts: invitations, passwords, forgotten passwords, forced change, terms, and
what a member has access to.

Three public entry points send one email each and return whether it was sent; the staff
actions in the admin and the bulk sender call them (from a request or a background task):

* :func:`send_invitation` — a single-use set-your-password link (and, with
  ``INVITATION_INITIAL_PASSWORD``, a generated initial password that works for one sign-in);
* :func:`send_password_reset` — a single-use link to choose a new password;
* :func:`send_sign_in_link` — a single-use sign-in link (no password).

The visitor's journeys (views call one function each):

* password sign-in: :func:`password_attempt` (counted before the password is checked),
  :func:`authenticate_password`, :func:`complete_password_sign_in`;
* forgotten password: :func:`request_password_reset` (the same work for every address; the
  email is sent by the background task through :func:`deliver_reset`), then either the code
  (:func:`reset_with_code`) or the link (:func:`set_password_with_token`);
* invitation: :func:`set_password_with_token` with ``purpose=INVITE``;
* forced change after an initial password: :func:`pending_step`, :func:`change_password`.

Links and codes are :mod:`wagtail_member_access.tokens` challenges of purpose ``INVITE`` or
``RESET``: 256-bit random tokens stored as HMACs, single use, expiring, built from the
configured site address. Opening a link changes nothing; only setting the password uses it.
Staff, superusers and admin users are never invited, reset or signed in by email (they use
the Wagtail admin's own password reset); members are signed in through
:func:`wagtail_member_access.members.sign_in_member`.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login, update_session_auth_hash
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import get_random_string

# The client IP exactly as the other limits see it (RATELIMIT_IP_META_KEY, IPv6 masking).
from django_ratelimit.core import _get_ip as client_ip
from wagtail.log_actions import log
from wagtail.models import Site

from . import emails, log_actions, tokens
from .conf import app_settings
from .members import (
    NotAllowed,
    find_member,
    get_or_create_member,
    is_privileged,
    mask_email,
    normalize_email,
    sign_in_address,
    sign_in_member,
)
from .models import EmailChallenge, Grant, MemberProfile
from .tokens import Outcome, Redemption

__all__ = [
    "AccessEntry",
    "PasswordAttempt",
    "PasswordSignIn",
    "SignInResult",
    "access_ready_invitation",
    "authenticate_password",
    "change_password",
    "clear_password_failures",
    "clear_reset",
    "complete_password_sign_in",
    "deliver_reset",
    "member_access",
    "password_attempt",
    "pending_reset",
    "pending_step",
    "request_password_reset",
    "reset_cooldown_left",
    "reset_with_code",
    "send_invitation",
    "send_password_reset",
    "send_sign_in_link",
    "set_password_with_token",
    "terms_required",
    "token_state",
    "transient_user",
    "user_for_email",
]

logger = logging.getLogger("wagtail_member_access")

Purpose = EmailChallenge.Purpose

#: The browser's pending forgotten-password request: ``{"id", "email", "at"}``.
RESET_SESSION_KEY = "wagtail_member_access.reset"
#: What a signed-in member must do before any member page: ``"password"`` (choose a
#: password after signing in with an initial one).
PENDING_SESSION_KEY = "wagtail_member_access.pending"

#: Initial passwords: lower case without look-alikes (0/o, 1/l/i), as seed 004 recommends
#: for credentials typed from an email. 12 of 31 characters: about 59 bits.
_INITIAL_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_INITIAL_LENGTH = 12


# --- helpers ----------------------------------------------------------------------------------


def _default_site():
    return Site.objects.filter(is_default_site=True).first()


def _site_name(site) -> str:
    return (site.site_name or site.hostname) if site else ""


def _absolute(site, path: str) -> str:
    # The configured site address, never a request's Host header (SECURITY 22).
    from .flows import _absolute as absolute

    return absolute(site, path)


def _profile(user) -> MemberProfile:
    profile, _ = MemberProfile.objects.get_or_create(user=user)
    return profile


def _email_of(user) -> str:
    return normalize_email(getattr(user, user.get_email_field_name()) or "")


def _hours(delta) -> int:
    return max(1, int(delta.total_seconds() // 3600))


def _minutes(delta) -> int:
    return int(delta.total_seconds() // 60)


def terms_required(user) -> bool:
    """Must ``user`` accept the terms (``TERMS_URL`` set and not accepted yet)?"""
    if not app_settings.TERMS_URL:
        return False
    if user is None or user.pk is None:
        return True
    return not MemberProfile.objects.filter(user=user, terms_accepted_at__isnull=False).exists()


def user_for_email(email: str):
    """The account of ``email`` for password validation, or an unsaved user that only has the
    email (so that validators compare against what the visitor typed either way, and their
    messages do not tell whether an account exists)."""
    User = get_user_model()
    try:
        user = find_member(email)
    except NotAllowed:
        user = None
    return user if user is not None else User(**{User.get_email_field_name(): email})


def transient_user(email: str):
    """An unsaved user that only has ``email``: what the forgotten-password code form
    validates the new password against, whether or not the address has an account (so the
    validators' messages cannot tell)."""
    User = get_user_model()
    return User(**{User.get_email_field_name(): email})


def _send(kind: str, to: str, context: dict, language: str | None, challenge=None) -> bool:
    """Send one email; on a mail failure record it on the challenge (and cancel it), log it
    with the address masked, and return False."""
    try:
        emails.send_email(kind, to, context, language=language or None)
    except Exception as exc:  # any mail backend error: record it, the caller reports False
        if challenge is not None:
            EmailChallenge.objects.filter(pk=challenge.pk).update(
                send_error=emails.describe_error(exc)
            )
            tokens.cancel(challenge, EmailChallenge.CancelReason.SEND_FAILED)
        logger.error(
            "Could not send the %s email to %s (%s).", kind, mask_email(to), type(exc).__name__
        )
        return False
    return True


def _send_failed(challenge) -> None:
    EmailChallenge.objects.filter(pk=challenge.pk).update(send_error="Sending failed.")
    tokens.cancel(challenge, EmailChallenge.CancelReason.SEND_FAILED)


def _issue_link(email: str, purpose, *, site, language: str, validity, code: bool = False):
    challenge = tokens.start_challenge(
        email, None, purpose=purpose, language=language or "", site=site
    )
    return challenge, tokens.issue(challenge, code=code, link=True, link_validity=validity)


def _invitation_url(site, token: str) -> str:
    return _absolute(site, reverse("wagtail_member_access:invitation", args=[token]))


def _reset_url(site, token: str) -> str:
    return _absolute(site, reverse("wagtail_member_access:password_reset_link", args=[token]))


# --- the three staff/bulk entry points --------------------------------------------------------


def send_invitation(
    email: str, *, by=None, language: str | None = None, site=None, name: str = ""
) -> bool:
    """Invite ``email`` to set a password; return True if the invitation email was sent.

    Creates the member account if there is none (with an unusable password) and records
    ``MemberProfile.invited_at``. The email carries a single-use set-your-password link valid
    ``INVITATION_VALIDITY``; a newer invitation cancels the older link. With
    ``INVITATION_INITIAL_PASSWORD`` it also carries a generated initial password, but only if
    the account has no password of its own yet (a member's own password is never replaced).
    Returns False, and sends nothing, for staff, superusers, admin users, inactive accounts and
    addresses shared by several accounts, and when the mail server fails (recorded on the
    challenge; the initial password is then not set). Raises ``ValidationError`` for a
    malformed address. Written to the audit log on the user (address masked).
    """
    email = normalize_email(email)
    try:
        user = get_or_create_member(email)
    except NotAllowed as exc:
        logger.info("No invitation sent to %s: %s.", mask_email(email), exc)
        return False
    site = site or _default_site()
    language = language or translation.get_language() or ""
    challenge, issued = _issue_link(
        email,
        Purpose.INVITE,
        site=site,
        language=language,
        validity=app_settings.INVITATION_VALIDITY,
    )
    profile = _profile(user)
    context = {
        "name": name or (getattr(user, "get_full_name", lambda: "")() or ""),
        "email": email,
        "link": _invitation_url(site, issued.link_token),
        "days": max(1, app_settings.INVITATION_VALIDITY.days),
        "site_name": _site_name(site),
        "sign_in_url": _absolute(site, reverse("wagtail_member_access:sign_in")),
        "password": "",
    }
    with transaction.atomic():
        if app_settings.INVITATION_INITIAL_PASSWORD and (
            not user.has_usable_password() or profile.must_change_password
        ):
            context["password"] = get_random_string(_INITIAL_LENGTH, _INITIAL_ALPHABET)
            user.set_password(context["password"])
            user.save(update_fields=["password"])
            profile.must_change_password = True
        profile.invited_at = timezone.now()
        profile.save()
        # Sent inside the transaction: if the mail server fails, no initial password that
        # nobody received is kept. The failure is recorded on the challenge afterwards.
        sent = _send("invitation", email, context, language)
        if not sent:
            transaction.set_rollback(True)
    if not sent:
        _send_failed(challenge)
    else:
        log(instance=user, action=log_actions.INVITE, user=by, data={"email": mask_email(email)})
        logger.info("Invitation sent to %s.", mask_email(email))
    return sent


def send_password_reset(user_or_email, *, by=None, language: str | None = None, site=None) -> bool:
    """Email a member a link to choose a new password (Shopify's "Reset password"); return
    True if it was sent.

    ``user_or_email`` is a user or an address. Sent to anyone who may sign in by email: an
    active member account, or an address with an active grant (its account is created now).
    The link works once within ``RESET_LINK_VALIDITY`` and cancels earlier reset links; the
    current password keeps working until the new one is set. Returns False (nothing sent) for
    staff, superusers, admin users (they use the admin's own reset), inactive or unknown
    addresses, and when the mail server fails. Raises ``ValidationError`` for a malformed
    address. Written to the audit log on the user.
    """
    if isinstance(user_or_email, str):
        email = normalize_email(user_or_email)
    else:
        email = _email_of(user_or_email)
    recipient = sign_in_address(email)
    if recipient is None:
        logger.info("No password reset sent to %s: may not sign in.", mask_email(email))
        return False
    challenge, issued = _issue_link(
        recipient,
        Purpose.RESET,
        site=site or _default_site(),
        language=language or translation.get_language() or "",
        validity=app_settings.RESET_LINK_VALIDITY,
    )
    return _deliver_reset(challenge, recipient, issued, by=by)


def send_sign_in_link(email: str, *, by=None, language: str | None = None, site=None) -> bool:
    """Email ``email`` a single-use sign-in link (no code: nobody's browser is waiting for
    one), valid ``NOTIFY_LINK_VALIDITY``; return True if it was sent.

    Sent to the same addresses the sign-in page would write to (an active member account or
    an active grant), never to staff. Returns False (nothing sent) otherwise and when the
    mail server fails. Raises ``ValidationError`` for a malformed address.
    """
    email = normalize_email(email)
    recipient = sign_in_address(email)
    if recipient is None:
        logger.info("No sign-in link sent to %s: may not sign in.", mask_email(email))
        return False
    site = site or _default_site()
    language = language or translation.get_language() or ""
    challenge, issued = _issue_link(
        recipient,
        Purpose.SIGN_IN,
        site=site,
        language=language,
        validity=app_settings.NOTIFY_LINK_VALIDITY,
    )
    from .flows import link_url

    context = {
        "link": link_url(site, issued.link_token),
        "link_hours": _hours(app_settings.NOTIFY_LINK_VALIDITY),
        "site_name": _site_name(site),
        "email": recipient,
    }
    return _send("sign_in_link", recipient, context, language, challenge)


def access_ready_invitation(email: str, site, language: str | None = None) -> dict:
    """The set-your-password part of the "your access is ready" email (``grant(...,
    notify=True)``): for a member without a usable password, an invitation link (valid
    ``INVITATION_VALIDITY``; the account is created now and the invitation recorded), so
    one email says both "your access is ready" and "choose a password". Empty values for
    members who have a password already, and for accounts that may not sign in by email."""
    none = {"set_password_link": "", "invite_days": ""}
    try:
        user = get_or_create_member(email)
    except NotAllowed:
        return none
    if user.has_usable_password():
        return none
    _, issued = _issue_link(
        email,
        Purpose.INVITE,
        site=site,
        language=language or "",
        validity=app_settings.INVITATION_VALIDITY,
    )
    profile = _profile(user)
    profile.invited_at = timezone.now()
    profile.save(update_fields=["invited_at"])
    log(instance=user, action=log_actions.INVITE, data={"email": mask_email(email)})
    return {
        "set_password_link": _invitation_url(site, issued.link_token),
        "invite_days": str(max(1, app_settings.INVITATION_VALIDITY.days)),
    }


# --- forgotten password (self-service) --------------------------------------------------------


def pending_reset(request) -> dict | None:
    """This browser's forgotten-password request, if any: ``{"id", "email", "at"}``."""
    return request.session.get(RESET_SESSION_KEY) or None


def clear_reset(request) -> None:
    request.session.pop(RESET_SESSION_KEY, None)


def reset_cooldown_left(state: dict) -> int:
    sent = datetime.fromtimestamp(state["at"], tz=UTC)
    left = sent + app_settings.RESEND_COOLDOWN - timezone.now()
    return max(0, int(left.total_seconds() + 0.999))


def request_password_reset(request, email: str) -> EmailChallenge | None:
    """Record this browser's request for a reset email to ``email`` (normalised); return the
    challenge the caller must enqueue (``tasks.deliver_challenge``), or None within
    ``RESEND_COOLDOWN`` of the same request. Whether the address has an account is not looked
    at here: the response must not depend on it (no enumeration)."""
    state = pending_reset(request)
    if state and state["email"] == email and reset_cooldown_left(state) > 0:
        return None
    challenge = tokens.start_challenge(
        email,
        None,
        purpose=Purpose.RESET,
        language=translation.get_language() or "",
        site=Site.find_for_request(request),
    )
    request.session[RESET_SESSION_KEY] = {
        "id": challenge.pk,
        "email": email,
        "at": timezone.now().timestamp(),
    }
    return challenge


def deliver_reset(challenge: EmailChallenge) -> None:
    """Background task (via ``flows.deliver``): send the reset code and link of a self-service
    request, if the address may sign in by email; otherwise cancel the challenge quietly."""
    recipient = sign_in_address(challenge.email)
    if recipient is None:
        tokens.cancel(challenge, EmailChallenge.CancelReason.NOT_ELIGIBLE)
        logger.info("No reset email sent to %s: may not sign in.", mask_email(challenge.email))
        return
    issued = tokens.issue(
        challenge, code=True, link=True, link_validity=app_settings.RESET_LINK_VALIDITY
    )
    if issued is not None:
        _deliver_reset(challenge, recipient, issued)


def _deliver_reset(challenge, recipient: str, issued, *, by=None) -> bool:
    try:
        user = get_or_create_member(recipient)
    except NotAllowed:
        tokens.cancel(challenge, EmailChallenge.CancelReason.NOT_ELIGIBLE)
        return False
    site = challenge.site or _default_site()
    context = {
        "code": issued.code,
        "minutes": _minutes(app_settings.CODE_VALIDITY) if issued.code else "",
        "link": _reset_url(site, issued.link_token),
        "link_hours": _hours(app_settings.RESET_LINK_VALIDITY),
        "site_name": _site_name(site),
        "email": recipient,
    }
    if not _send("password_reset", recipient, context, challenge.language, challenge):
        return False
    log(
        instance=user, action=log_actions.RESET_SENT, user=by, data={"email": mask_email(recipient)}
    )
    logger.info("Password reset sent to %s.", mask_email(recipient))
    return True


# --- setting a password -----------------------------------------------------------------------


def _notify_changed(user, email: str, site) -> None:
    context = {
        "email": email,
        "site_name": _site_name(site),
        "changed_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
        "reset_url": _absolute(site, reverse("wagtail_member_access:forgot_password")),
    }
    _send("password_changed", email, context, translation.get_language())


def _finish(request, user, password: str, *, how: str, accept_terms: bool, site, notify: bool):
    """Set ``password``, clear the forced change, record terms, sign in (cycling the session
    key; every other session of the member ends, its auth hash no longer matches)."""
    email = _email_of(user)
    now = timezone.now()
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        profile = _profile(user)
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
        update_session_auth_hash(request, user)
    else:
        sign_in_member(request, email)
    request.session.pop(PENDING_SESSION_KEY, None)
    logger.info("%s set a new password (%s).", mask_email(email), how)
    if notify:
        _notify_changed(user, email, site or _default_site())


def token_state(token: str, purpose) -> Redemption:
    """What an invitation or reset link is, without using it (GET, HEAD: email scanners).
    MISSING for a malformed token or one of another purpose."""
    return tokens.peek_link(token, purposes=(purpose,))


def set_password_with_token(
    request, token: str, purpose, password: str, *, accept_terms: bool = False
) -> Redemption:
    """Use an invitation or reset link (the set-password POST): set ``password`` (already
    validated by the form), sign the member in, end their other sessions. A "your password
    was changed" notice is emailed after a reset, and after an invitation that replaced a
    password the account already had (not for a member's first password). Outcomes other
    than OK change nothing: EXPIRED, USED (also when replaced by a newer link), MISSING,
    NO_ACCESS (the account may not sign in by email: staff, inactive, no access any more)."""
    state = token_state(token, purpose)
    if not state.ok:
        return state
    email = state.challenge.email
    try:
        if sign_in_address(email) is None:
            raise NotAllowed("may not sign in")
        user = get_or_create_member(email)
    except NotAllowed as exc:
        logger.warning("%s link for %s refused: %s.", purpose, mask_email(email), exc)
        return Redemption(Outcome.NO_ACCESS, state.challenge)
    result = tokens.redeem_link(token, purposes=(purpose,))
    if not result.ok:
        return result
    # An invitation used on an account that has a password replaces it: the owner is told,
    # as after a reset (SECURITY 22). A member's first password needs no notice, and the
    # generated initial password of the same invitation is not one of theirs.
    had_password = user.has_usable_password() and not (
        MemberProfile.objects.filter(user=user, must_change_password=True).exists()
    )
    _finish(
        request,
        user,
        password,
        how="invite" if purpose == Purpose.INVITE else "reset",
        accept_terms=accept_terms,
        site=state.challenge.site,
        notify=purpose == Purpose.RESET or had_password,
    )
    return result


def reset_with_code(request, code: str, password: str, *, accept_terms: bool = False) -> Redemption:
    """Redeem the code of this browser's forgotten-password request and set ``password``
    (already validated by the form; ``accept_terms``: the terms box was ticked). Wrong codes
    count as the sign-in codes do (per code and per address, with back-off). Outcomes other
    than OK change nothing."""
    state = pending_reset(request)
    if state is None:
        return Redemption(Outcome.MISSING)
    result = tokens.redeem_code(state["id"], None, code, purpose=Purpose.RESET)
    if not result.ok:
        logger.info("Reset code refused for %s: %s.", mask_email(state["email"]), result.outcome)
        return result
    email = result.challenge.email
    try:
        if sign_in_address(email) is None:
            raise NotAllowed("may not sign in")
        user = get_or_create_member(email)
    except NotAllowed:
        return Redemption(Outcome.NO_ACCESS, result.challenge)
    clear_reset(request)
    _finish(
        request,
        user,
        password,
        how="reset",
        accept_terms=accept_terms,
        site=result.challenge.site,
        notify=True,
    )
    return result


def change_password(request, password: str, *, accept_terms: bool = False) -> None:
    """The signed-in member's new password (validated by the form): the forced change after
    an initial password, or a change from "My access". Ends their other sessions, keeps this
    one, and emails a notice unless it was the forced first change."""
    forced = request.session.get(PENDING_SESSION_KEY) == "password"
    _finish(
        request,
        request.user,
        password,
        how="initial" if forced else "change",
        accept_terms=accept_terms,
        site=Site.find_for_request(request),
        notify=not forced,
    )


def pending_step(request) -> str | None:
    """What the signed-in member must do first (``"password"``), or None. Read from the
    session only: no query on member pages."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return request.session.get(PENDING_SESSION_KEY)


# --- password sign-in -------------------------------------------------------------------------
#
# Three counters guard every password check (SECURITY 23), in the rate-limit cache
# (``RATELIMIT_USE_CACHE``): failures per account and per client IP in a fixed window
# (``RATE_PASSWORD_PER_ACCOUNT``, ``RATE_PASSWORD_PER_IP``: they slow guessing down), and the
# account's failures in a row (``PASSWORD_MAX_FAILURES``: they cap it, as NIST SP 800-63B
# §5.2.2 asks; a window alone allows 10 every 15 minutes, 960 a day, forever).
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

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE_RE = re.compile(r"(\d+)/(\d*)([smhd])")


def _account_key(identifier: str) -> str:
    return " ".join((identifier or "").split()).lower()[:254]


def _split_rate(name: str, rate: str) -> tuple[int, int]:
    match = _RATE_RE.fullmatch(rate or "")
    if not match:
        raise ImproperlyConfigured(
            f'WAGTAIL_MEMBER_ACCESS_{name} must be a rate such as "10/15m", not {rate!r}.'
        )
    count, multiple, unit = match.groups()
    return int(count), _PERIODS[unit] * int(multiple or 1)


def _cache():
    return caches[app_settings.RATELIMIT_CACHE]


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _incr(key: str, timeout) -> int | None:
    """Add one to ``key`` (created at 0 with ``timeout``) atomically; None if the cache
    failed (the key vanished between ``add`` and ``incr``, or the cache refused)."""
    cache = _cache()
    try:
        cache.add(key, 0, timeout)
        return cache.incr(key)
    except ValueError:
        return None


# How long failures in a row are remembered for a name that names no account.
UNKNOWN_NAME_FAILURES_TTL = 24 * 3600


def _failures_key(account: str) -> str:
    return f"wagtail_member_access:password.failures:{_digest(account)}"


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
        cache = _cache()
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
    if not getattr(settings, "RATELIMIT_ENABLE", True):
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
        limit, period = _split_rate(f"RATE_PASSWORD_PER_{name.upper()}", rate)
        key = f"wagtail_member_access:password.{name}:{period}:{now // period}:{_digest(value)}"
        count = _incr(key, period + 60)
        attempt._window_keys.append(key)
        # None: the cache failed; refuse, as django-ratelimit fails closed.
        if count is None or count > limit:
            attempt.limited = True
    if attempt.limited:
        # Refused before the password is checked: not a failure in a row (else one burst
        # would lock the account's password sign-in at once).
        return attempt
    attempt._failures_key = _failures_key(account)
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


def clear_password_failures(user) -> None:
    """Start ``user``'s failures in a row again at zero (after a password was set)."""
    _cache().delete(_failures_key(f"user:{user.pk}"))


def clear_password_failures_on_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in`` receiver: any sign-in, anywhere (the Wagtail admin's login, an
    emailed code or link), proves the owner is back and ends a run of failures, so an
    editor paused on the member sign-in page is not paused there for ever."""
    if user is not None and user.pk is not None:
        clear_password_failures(user)


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
    logger.info("%s signed in with a password.", mask_email(_email_of(user)))
    if must_change:
        request.session[PENDING_SESSION_KEY] = "password"
        return SignInResult(PasswordSignIn.MUST_CHANGE, user)
    return SignInResult(PasswordSignIn.MEMBER, user)


# --- "My access" ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessEntry:
    """One access list a member is on, for "My access" and the no-access page."""

    list_name: str
    status: str  # "active", "upcoming" or "expired"
    starts_at: datetime | None
    expires_at: datetime | None
    pages: tuple[tuple[str, str], ...]  # (title, url)

    @property
    def active(self) -> bool:
        return self.status == "active"


def member_access(user, request=None) -> list[AccessEntry]:
    """Every access list ``user``'s email is on (active first, then upcoming, then expired;
    revoked grants are left out) with the live pages each opens. Three queries."""
    if user is None or not user.is_authenticated:
        return []
    try:
        email = _email_of(user)
    except ValidationError:
        return []
    now = timezone.now()
    grants = (
        Grant.objects.filter(email=email, revoked_at__isnull=True)
        .select_related("access_list")
        .prefetch_related("access_list__restrictions__page")
    )
    order = {"active": 0, "upcoming": 1, "expired": 2}
    entries = []
    for grant in grants:
        if grant.is_active(now):
            status = "active"
        elif grant.starts_at and grant.starts_at > now:
            status = "upcoming"
        else:
            status = "expired"
        pages = tuple(
            (r.page.title, r.page.get_url(request) or "")
            for r in grant.access_list.restrictions.all()
            if r.page.live
        )
        entries.append(
            AccessEntry(grant.access_list.name, status, grant.starts_at, grant.expires_at, pages)
        )
    entries.sort(key=lambda e: (order[e.status], e.list_name.lower()))
    return entries
