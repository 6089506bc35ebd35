"""A new password by email: the visitor's forgotten-password request (a code for this browser
and a link, the same work for every address), and the reset staff send (Shopify's "Reset
password": a link only). The new password is set by :func:`reset_with_code` here, or through
the link by :func:`wagtail_member_access.flows.set_password.set_password_with_token`.
Staff, superusers and admin users never get one: they use the Wagtail admin's own reset
(docs/security.md#staff-never-by-email)."""

from __future__ import annotations

import logging

from django.utils import translation
from wagtail.log_actions import log
from wagtail.models import Site

from .. import durations, emails, log_actions, sites, tokens
from ..conf import app_settings
from ..members import (
    NotAllowed,
    get_or_create_member,
    mask_email,
    member_who_may_sign_in,
    normalize_email,
    sign_in_address,
)
from ..models import EmailChallenge
from ..tokens import Outcome, Redemption
from . import common, pending

__all__ = [
    "RESET_SESSION_KEY",
    "clear_reset",
    "deliver_reset",
    "pending_reset",
    "request_password_reset",
    "reset_with_code",
    "send_password_reset",
]

logger = logging.getLogger("wagtail_member_access")

Purpose = EmailChallenge.Purpose

#: The browser's pending forgotten-password request: ``{"id", "email", "at"}``.
RESET_SESSION_KEY = "wagtail_member_access.reset"


def pending_reset(request) -> dict | None:
    """This browser's forgotten-password request, if any: ``{"id", "email", "at"}``."""
    return pending.get(request, RESET_SESSION_KEY)


def clear_reset(request) -> None:
    """Forget this browser's forgotten-password request."""
    pending.clear(request, RESET_SESSION_KEY)


def request_password_reset(request, email: str, *, next_url: str = "") -> EmailChallenge | None:
    """Record this browser's request for a reset email to ``email`` (normalised), and where
    the member goes afterwards (``next_url``, a checked path: with the code or the link alike,
    as the challenge keeps it); return the
    challenge the caller must enqueue (``tasks.deliver_challenge``), or None within
    ``RESEND_COOLDOWN`` of the same request. Whether the address has an account is not looked
    at here: the response must not depend on it (docs/security.md#no-enumeration)."""
    if not pending.start_cooldown(request, RESET_SESSION_KEY, email):
        return None
    challenge = tokens.start_challenge(
        email,
        None,
        purpose=Purpose.RESET,
        language=translation.get_language() or "",
        site=Site.find_for_request(request),
        next_url=next_url,
    )
    pending.remember(request, RESET_SESSION_KEY, challenge, email, next=next_url)
    return challenge


def deliver_reset(challenge: EmailChallenge) -> bool:
    """Background task: send the reset code and link of a self-service request (one loaded
    by ``sends.claim``) if the address may sign in by email, and return whether
    it was sent; otherwise cancel the challenge quietly."""
    recipient = sign_in_address(challenge.email)
    if recipient is None:
        tokens.cancel(challenge, EmailChallenge.CancelReason.NOT_ELIGIBLE)
        logger.info("No reset email sent to %s: may not sign in.", mask_email(challenge.email))
        return False
    issued = tokens.issue(
        challenge, code=True, link=True, link_validity=app_settings.RESET_LINK_VALIDITY
    )
    return issued is not None and _send(challenge, recipient, issued)


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
        email = common.email_of(user_or_email)
    recipient = sign_in_address(email)
    if recipient is None:
        logger.info("No password reset sent to %s: may not sign in.", mask_email(email))
        return False
    challenge, issued = common.issue_link(
        recipient,
        Purpose.RESET,
        site=site or sites.default_site(),
        language=language or translation.get_language() or "",
        validity=app_settings.RESET_LINK_VALIDITY,
    )
    return _send(challenge, recipient, issued, by=by)


def _send(challenge, recipient: str, issued, *, by=None) -> bool:
    try:
        user = get_or_create_member(recipient)
    except NotAllowed:
        tokens.cancel(challenge, EmailChallenge.CancelReason.NOT_ELIGIBLE)
        return False
    site = challenge.site or sites.default_site()
    context = {
        "code": issued.code,
        "minutes": durations.minutes(app_settings.CODE_VALIDITY) if issued.code else "",
        "link": sites.reset_url(site, issued.link_token),
        "link_hours": durations.hours(app_settings.RESET_LINK_VALIDITY),
        "site_name": sites.site_name(site),
        "email": recipient,
    }
    sent = emails.deliver(
        "password_reset", recipient, context, language=challenge.language, challenge=challenge
    )
    if not sent:
        return False
    log(
        instance=user, action=log_actions.RESET_SENT, user=by, data={"email": mask_email(recipient)}
    )
    logger.info("Password reset sent to %s.", mask_email(recipient))
    return True


def reset_with_code(request, code: str, password: str, *, accept_terms: bool = False) -> Redemption:
    """Redeem the code of this browser's forgotten-password request and set ``password``
    (already validated by the form; ``accept_terms``: the terms box was ticked). Wrong codes
    count as the sign-in codes do (per code and per address, with back-off). Outcomes other
    than OK change nothing."""
    state = pending_reset(request)
    if state is None:
        return Redemption(Outcome.MISSING)
    result = tokens.redeem_code(state["id"], None, code, purpose=Purpose.RESET)
    if result.outcome is Outcome.WRONG and tokens.replaced_code(state.get("replaced", ()), code):
        result = Redemption(Outcome.REPLACED, result.challenge, retry_at=result.retry_at)
    if not result.ok:
        logger.info("Reset code refused for %s: %s.", mask_email(state["email"]), result.outcome)
        return result
    email = result.challenge.email
    try:
        user = member_who_may_sign_in(email)
    except NotAllowed:
        return Redemption(Outcome.NO_ACCESS, result.challenge)
    clear_reset(request)
    common.set_password(
        request,
        user,
        password,
        how="reset",
        accept_terms=accept_terms,
        site=result.challenge.site,
        notify=True,
    )
    return result
