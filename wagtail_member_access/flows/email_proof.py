"""Prove an email by a code or a magic link, then be signed in.

One journey serves three targets: unlocking a page or a document (``page`` given: a page or
a document, see ``targets``) and the member sign-in (``page=None``). Three steps, each one
function that views and tasks call:

1. :func:`request_email` (web process): the same work whether or not the email has access;
2. :func:`deliver` (background task): decides, issues the code and/or link, sends the email;
3. :func:`verify_code` or :func:`confirm_link` (web process): redeems, signs in.

Staff and the bulk sender also send a single-use sign-in link (:func:`send_sign_in_link`),
used through :func:`confirm_link` like any other. Opening a link changes nothing
(``tokens.peek_link``); views only parse input and render.
"""

from __future__ import annotations

import logging

from django.utils import translation
from wagtail.log_actions import log
from wagtail.models import Site

from .. import access, durations, emails, log_actions, seats, sites, targets, tokens
from ..conf import app_settings
from ..members import NotAllowed, mask_email, normalize_email, sign_in_address, sign_in_member
from ..models import EmailChallenge, PageAccessRestriction
from ..signals import member_unlocked
from ..tokens import Outcome, Redemption
from . import common, pending

__all__ = [
    "SESSION_KEY",
    "clear_challenge",
    "confirm_link",
    "deliver",
    "landing_url",
    "pending_challenge",
    "request_email",
    "send_sign_in_link",
    "verify_code",
]

logger = logging.getLogger("wagtail_member_access")

#: This browser's pending request: ``{"id", "page", "email", "at"}`` (``page``: None for
#: the sign-in).
SESSION_KEY = "wagtail_member_access.challenge"
Mode = PageAccessRestriction.Mode
Purpose = EmailChallenge.Purpose


# --- the visitor's session --------------------------------------------------------------------


def pending_challenge(request, page) -> dict | None:
    """The request this browser made for ``page`` (None: sign-in), if any:
    ``{"id", "page", "email", "at"}`` (``at`` is a POSIX timestamp)."""
    state = pending.get(request, SESSION_KEY)
    if not state or state.get("page") != targets.session_key(page):
        return None
    return state


def clear_challenge(request) -> None:
    """Forget this browser's request ("use a different email", or after signing in)."""
    pending.clear(request, SESSION_KEY)


# --- 1. request (web process) ------------------------------------------------------------------


def request_email(request, email: str, page=None, *, next_url: str = "") -> EmailChallenge | None:
    """Record that this browser asked for an email to ``email`` for ``page`` (None: sign-in).

    Returns the challenge whose email the caller must enqueue (``tasks.deliver_challenge``),
    or None when the same browser asked for the same email within ``RESEND_COOLDOWN``
    (nothing new is sent; ``pending.start_cooldown``, atomic under parallel requests).
    Whether the email has access is *not* looked at here: the response must not depend on
    it (docs/security.md#no-enumeration).
    """
    if not pending.start_cooldown(request, f"{SESSION_KEY}:{targets.session_key(page)}", email):
        return None
    challenge = tokens.start_challenge(
        email,
        page,
        purpose=Purpose.UNLOCK if page is not None else Purpose.SIGN_IN,
        language=translation.get_language() or "",
        site=Site.find_for_request(request),
        next_url=next_url,
    )
    pending.remember(request, SESSION_KEY, challenge, email, page=targets.session_key(page))
    return challenge


# --- 2. deliver (background task) -----------------------------------------------------------


def _recipient(challenge: EmailChallenge):
    """``(address, mode, site, page, context)`` of an unlock or sign-in email; the address
    is None when the email has no access."""
    if challenge.purpose != Purpose.UNLOCK:
        site = challenge.site or sites.default_site()
        # The sign-in sends both a code and a link: the "sign_in" email.
        return sign_in_address(challenge.email), None, site, None, {}
    page = targets.of_challenge(challenge)
    rules = access.rules_for(page)
    # A domain grant with a free seat counts: the seat is taken when the code or link is
    # used (docs/courses-and-teams.md#domain-grants-and-seats); a full one sends nothing.
    recipient = access.email_may_view(challenge.email, page, rules=rules, taking_seat=True)
    mode = access.email_mode(rules)
    site = challenge.site if targets.is_document(page) else page.get_site()
    context = {"page_title": page.title, "page_url": targets.full_url(page, site)}
    return recipient, Mode(mode) if mode else None, site, page, context


def deliver(challenge: EmailChallenge) -> bool:
    """Send the code and/or link of an unlock or sign-in ``challenge`` (one loaded by
    ``sends.claim``) if its email may have access, and return whether it was sent.
    Otherwise the challenge is cancelled quietly. A mail server failure is recorded on the
    challenge (``emails.record_failure``: the task tries again with back-off, and "send
    again" works at once, docs/security.md#mail-retries). Nothing happens for an unlock whose
    page or document was deleted meanwhile."""
    if challenge.purpose == Purpose.UNLOCK and targets.of_challenge(challenge) is None:
        return False
    recipient, mode, site, page, context = _recipient(challenge)
    if recipient is None or (page is not None and mode is None):
        tokens.cancel(challenge, EmailChallenge.CancelReason.NOT_ELIGIBLE)
        logger.info(
            "No %s email sent to %s: no access.", challenge.purpose, mask_email(challenge.email)
        )
        return False
    send_code, send_link = (mode.sends_code, mode.sends_link) if mode else (True, True)
    issued = tokens.issue(challenge, code=send_code, link=send_link)
    if issued is None:
        return False
    context |= {
        "code": issued.code,
        "link": sites.link_url(site, issued.link_token) if send_link else "",
        "minutes": durations.minutes(app_settings.CODE_VALIDITY),
        "link_minutes": durations.minutes(app_settings.LINK_VALIDITY),
        "site_name": sites.site_name(site),
        "email": recipient,
    }
    kind = mode.email_kind if mode else "sign_in"
    return bool(
        emails.deliver(
            kind,
            recipient,
            context,
            language=challenge.language,
            about=page,
            challenge=challenge,
        )
    )


def send_sign_in_link(email: str, *, by=None, language: str | None = None, site=None) -> bool:
    """Email ``email`` a single-use sign-in link (no code: nobody's browser is waiting for
    one), valid ``NOTIFY_LINK_VALIDITY``; return True if it was sent.

    Sent to the same addresses the sign-in page would write to (an active member account or
    an active grant), never to staff (docs/security.md#staff-never-by-email). Returns False
    (nothing sent) otherwise and when the mail server fails. Raises ``ValidationError`` for
    a malformed address.
    """
    email = normalize_email(email)
    recipient = sign_in_address(email)
    if recipient is None:
        logger.info("No sign-in link sent to %s: may not sign in.", mask_email(email))
        return False
    site = site or sites.default_site()
    language = language or translation.get_language() or ""
    challenge, issued = common.issue_link(
        recipient,
        Purpose.SIGN_IN,
        site=site,
        language=language,
        validity=app_settings.NOTIFY_LINK_VALIDITY,
    )
    context = {
        "link": sites.link_url(site, issued.link_token),
        "link_hours": durations.hours(app_settings.NOTIFY_LINK_VALIDITY),
        "site_name": sites.site_name(site),
        "email": recipient,
    }
    return bool(
        emails.deliver("sign_in_link", recipient, context, language=language, challenge=challenge)
    )


# --- 3. redeem (web process) ----------------------------------------------------------------


def _log_failure(page, email: str, reason: str) -> None:
    if page is not None:
        log(
            instance=page,
            action=log_actions.UNLOCK_FAILED,
            data={"email": mask_email(email), "reason": reason},
        )


def _may_view_taking_seat(email: str, page) -> str | None:
    """:func:`access.email_may_view` for a proven ``email``, after taking a seat on the
    domain grants that would let it in (docs/courses-and-teams.md#domain-grants-and-seats).
    A member who needs no seat takes none; one whose seat went to someone else meanwhile gets
    None, as an address that lost its access does."""
    rules = access.rules_for(page)
    address = access.email_may_view(email, page, rules=rules)
    if address is None and access.email_may_view(email, page, rules=rules, taking_seat=True):
        seats.claim(email, set().union(*(rule.list_ids for rule in rules)))
        address = access.email_may_view(email, page, rules=rules)
    return address


def _complete(request, challenge: EmailChallenge, result: Redemption, method: str):
    """Sign in the member for a redeemed challenge, if the email (still) may have access."""
    email = challenge.email
    page = targets.of_challenge(challenge)
    if page is None and challenge.purpose == Purpose.UNLOCK:  # its document was deleted
        return Redemption(Outcome.NO_ACCESS, challenge)
    try:
        if page is not None and _may_view_taking_seat(email, page) is None:
            raise NotAllowed("no access")
        if page is None and sign_in_address(email) is None:
            raise NotAllowed("no account or access")
        user = sign_in_member(request, email)
    except NotAllowed as exc:
        logger.warning("Right %s for %s but %s.", method, mask_email(email), exc)
        _log_failure(page, email, "no_access")
        return Redemption(Outcome.NO_ACCESS, challenge)
    clear_challenge(request)
    if page is None:
        logger.info("%s signed in with a %s.", mask_email(email), method)
        return result
    log(
        instance=page,
        action=log_actions.UNLOCK,
        user=user,
        data={"email": mask_email(email), "method": method},
    )
    member_unlocked.send(sender=type(page), request=request, user=user, page=page, method=method)
    kind = "document" if targets.is_document(page) else "page"
    logger.info("%s unlocked %s %s with a %s.", mask_email(email), kind, page.pk, method)
    return result


def verify_code(request, page, code: str) -> Redemption:
    """Redeem ``code`` for the request this browser holds for ``page`` (None: sign-in); on
    success sign the visitor in as the member for that email (Django's ``login()``).

    The outcome is ``NO_ACCESS`` when the code was right but the email lost access or
    belongs to an account that may not sign in by email (staff): nobody is signed in then.
    """
    state = pending_challenge(request, page)
    if state is None:
        return Redemption(Outcome.MISSING)
    result = tokens.redeem_code(state["id"], page, code)
    if result.outcome is Outcome.WRONG and tokens.replaced_code(state.get("replaced", ()), code):
        result = Redemption(Outcome.REPLACED, result.challenge, retry_at=result.retry_at)
    if not result.ok:
        logger.info("Code refused for %s: %s.", mask_email(state["email"]), result.outcome.value)
        _log_failure(page, state["email"], result.outcome.value)
        return result
    return _complete(request, result.challenge, result, "code")


def confirm_link(request, token: str) -> Redemption:
    """Use a magic link (the confirm POST) and sign in, in whatever browser it is used
    (docs/security.md#link-other-device). Outcomes other than OK sign nobody in."""
    result = tokens.redeem_link(token)
    if not result.ok:
        if result.challenge is not None:
            target = targets.of_challenge(result.challenge)
            _log_failure(target, result.challenge.email, result.outcome.value)
        return result
    return _complete(request, result.challenge, result, "link")


def landing_url(challenge: EmailChallenge, request=None) -> str:
    """Where a redeemed challenge leads: its return URL, its page, or the sign-in default."""
    if challenge.next_url:
        return challenge.next_url
    target = targets.of_challenge(challenge)
    if target is not None:
        return targets.url(target, request)
    return app_settings.SIGN_IN_REDIRECT_URL
