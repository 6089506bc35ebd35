"""The visitor's journeys, each a few functions that views and tasks call.

Unlock by code: :func:`request_code` (in the request; the same work whether or not the email
is listed) → :func:`deliver_unlock_code` (in the background task: decides, issues, sends) →
:func:`verify_code` (in the request: redeems, signs in). Views only parse input and render.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.utils import timezone, translation
from wagtail.log_actions import log
from wagtail.models import Site

from . import access, emails, log_actions, tokens
from .conf import app_settings
from .members import NotAllowed, mask_email, sign_in_member
from .models import EmailChallenge, Grant
from .signals import member_unlocked
from .tokens import Outcome, Redemption

__all__ = [
    "clear_challenge",
    "deliver_access_ready",
    "deliver_unlock_code",
    "pending_challenge",
    "request_code",
    "send_access_ready",
    "verify_code",
]

logger = logging.getLogger("wagtail_member_access")

SESSION_KEY = "wagtail_member_access.challenge"


# --- the visitor's session --------------------------------------------------------------------


def pending_challenge(request, page) -> dict | None:
    """The code request this browser made for ``page``, if any:
    ``{"id", "page", "email", "at"}`` (``at`` is a POSIX timestamp)."""
    state = request.session.get(SESSION_KEY)
    if not state or state.get("page") != page.pk:
        return None
    return state


def clear_challenge(request) -> None:
    request.session.pop(SESSION_KEY, None)


def resend_available_at(state: dict) -> datetime:
    sent = datetime.fromtimestamp(state["at"], tz=UTC)
    return sent + app_settings.RESEND_COOLDOWN


# --- 1. request (web process) ------------------------------------------------------------------


def request_code(request, page, email: str) -> EmailChallenge | None:
    """Record that this browser asked for a code for ``email`` on ``page``.

    Returns the challenge whose email the caller must enqueue, or None when the same browser
    asked for the same email within ``RESEND_COOLDOWN`` (nothing new is sent). Whether the
    email is listed is *not* looked at here: the response must not depend on it.
    """
    state = pending_challenge(request, page)
    now = timezone.now()
    if state and state["email"] == email and now < resend_available_at(state):
        return None
    challenge = tokens.start_challenge(email, page, language=translation.get_language() or "")
    request.session[SESSION_KEY] = {
        "id": challenge.pk,
        "page": page.pk,
        "email": email,
        "at": now.timestamp(),
    }
    return challenge


# --- 2. deliver (background task) -----------------------------------------------------------


def _site_name(page) -> str:
    site = page.get_site()
    return (site.site_name or site.hostname) if site else ""


def deliver_unlock_code(challenge_id: int) -> None:
    """Send the code for a challenge, if its email may view its page; otherwise cancel the
    challenge quietly. A mail server failure is recorded on the challenge (``send_error``)
    and the challenge cancelled, so the visitor's "send again" makes a fresh attempt."""
    challenge = EmailChallenge.objects.select_related("page").filter(pk=challenge_id).first()
    if challenge is None or challenge.cancelled_at or challenge.code_hash or not challenge.page:
        return
    page = challenge.page.specific
    recipient = access.email_may_view(challenge.email, page)
    if recipient is None:
        tokens.cancel(challenge, EmailChallenge.CancelReason.NOT_ELIGIBLE)
        logger.info(
            "No code sent to %s for page %s: no access.", mask_email(challenge.email), page.pk
        )
        return
    code = tokens.issue_code(challenge)
    if code is None:
        return
    context = {
        "code": code,
        "minutes": int(app_settings.CODE_VALIDITY.total_seconds() // 60),
        "page_title": page.title,
        "page_url": page.get_full_url() or "",
        "site_name": _site_name(page),
        "email": recipient,
    }
    try:
        emails.send_email("unlock_code", recipient, context, language=challenge.language or None)
    except Exception as exc:  # any mail backend error: record it, never lose the request
        EmailChallenge.objects.filter(pk=challenge.pk).update(
            send_error=f"{type(exc).__name__}: {exc}"[:1000]
        )
        tokens.cancel(challenge, EmailChallenge.CancelReason.SEND_FAILED)
        logger.error("Could not send a code to %s (%s).", mask_email(recipient), type(exc).__name__)


# --- 3. verify (web process) ----------------------------------------------------------------


def _log_failure(page, email: str, reason: str) -> None:
    log(
        instance=page,
        action=log_actions.UNLOCK_FAILED,
        data={"email": mask_email(email), "reason": reason},
    )


def verify_code(request, page, code: str) -> Redemption:
    """Redeem ``code`` for the challenge this browser holds for ``page``; on success sign the
    visitor in as the member for that email (Django's ``login()``: a new session key).

    Returns the :class:`~wagtail_member_access.tokens.Redemption`; its outcome is
    ``NO_ACCESS`` when the code was right but the email lost access or belongs to an account
    that may not sign in by email (staff): nobody is signed in then.
    """
    state = pending_challenge(request, page)
    if state is None:
        return Redemption(Outcome.MISSING)
    result = tokens.redeem_code(state["id"], page, code)
    email = state["email"]
    if not result.ok:
        logger.info(
            "Code refused for %s on page %s: %s.", mask_email(email), page.pk, result.outcome.value
        )
        _log_failure(page, email, result.outcome.value)
        return result
    try:
        if access.email_may_view(email, page) is None:
            raise NotAllowed("no access")
        user = sign_in_member(request, email)
    except NotAllowed as exc:
        logger.warning("Right code for %s on page %s but %s.", mask_email(email), page.pk, exc)
        _log_failure(page, email, "no_access")
        return Redemption(Outcome.NO_ACCESS, result.challenge)
    clear_challenge(request)
    log(
        instance=page,
        action=log_actions.UNLOCK,
        user=user,
        data={"email": mask_email(email), "method": "code"},
    )
    member_unlocked.send(sender=type(page), request=request, user=user, page=page, method="code")
    logger.info("%s unlocked page %s with a code.", mask_email(email), page.pk)
    return result


# --- "your access is ready" -------------------------------------------------------------------


def send_access_ready(grant: Grant) -> None:
    """Enqueue the "your access is ready" email for ``grant`` (``grant_access(notify=True)``)."""
    from .tasks import deliver_access_ready as task
    from .tasks import enqueue

    enqueue(task, grant.pk)


def deliver_access_ready(grant_id: int) -> None:
    """Send the "your access is ready" email: the pages the grant's list opens, with links.
    Not sent for a revoked or vanished grant."""
    grant = Grant.objects.select_related("access_list").filter(pk=grant_id).first()
    if grant is None or grant.revoked_at is not None:
        return
    restrictions = grant.access_list.restrictions.select_related("page")
    pages = [r.page.specific for r in restrictions]
    site = pages[0].get_site() if pages else Site.objects.filter(is_default_site=True).first()
    context = {
        "name": grant.name,
        "email": grant.email,
        "list_name": grant.access_list.name,
        "pages": [{"title": p.title, "url": p.get_full_url() or ""} for p in pages],
        "site_name": (site.site_name or site.hostname) if site else "",
        "expires": timezone.localtime(grant.expires_at).strftime("%Y-%m-%d %H:%M")
        if grant.expires_at
        else "",
    }
    emails.send_email("access_ready", grant.email, context)


def cooldown_seconds_left(state: dict) -> int:
    left = resend_available_at(state) - timezone.now()
    return max(0, int(left / timedelta(seconds=1)) + (1 if left.microseconds else 0))
