"""The visitor's journeys: prove an email by code or magic link, then be signed in.

One journey serves two targets: unlocking a page (``page`` given) and the member sign-in
(``page=None``). Three steps, each one function that views and tasks call:

1. :func:`request_email` (web process): the same work whether or not the email has access;
2. :func:`deliver` (background task): decides, issues the code and/or link, sends the email;
3. :func:`verify_code` or :func:`confirm_link` (web process): redeems, signs in.

Views only parse input and render.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from wagtail.log_actions import log
from wagtail.models import Site

from . import access, emails, log_actions, tokens
from .conf import app_settings
from .members import NotAllowed, mask_email, sign_in_address, sign_in_member
from .models import EmailChallenge, Grant, PageAccessRestriction
from .signals import member_unlocked
from .tokens import Outcome, Redemption

__all__ = [
    "clear_challenge",
    "confirm_link",
    "deliver",
    "deliver_access_ready",
    "landing_url",
    "pending_challenge",
    "request_email",
    "send_access_ready",
    "verify_code",
]

logger = logging.getLogger("wagtail_member_access")

SESSION_KEY = "wagtail_member_access.challenge"
Mode = PageAccessRestriction.Mode
Purpose = EmailChallenge.Purpose

#: (sends a code, sends a link, email kind) per page mode; the sign-in sends both.
_DELIVERY = {
    Mode.CODE: (True, False, "unlock_code"),
    Mode.LINK: (False, True, "unlock_link"),
    Mode.CODE_OR_LINK: (True, True, "unlock_code_or_link"),
}
_SIGN_IN_DELIVERY = (True, True, "sign_in")


# --- the visitor's session --------------------------------------------------------------------


def _target(page) -> int | None:
    return page.pk if page is not None else None


def pending_challenge(request, page) -> dict | None:
    """The request this browser made for ``page`` (None: sign-in), if any:
    ``{"id", "page", "email", "at"}`` (``at`` is a POSIX timestamp)."""
    state = request.session.get(SESSION_KEY)
    if not state or state.get("page") != _target(page):
        return None
    return state


def clear_challenge(request) -> None:
    request.session.pop(SESSION_KEY, None)


def resend_available_at(state: dict) -> datetime:
    sent = datetime.fromtimestamp(state["at"], tz=UTC)
    return sent + app_settings.RESEND_COOLDOWN


def cooldown_seconds_left(state: dict) -> int:
    left = resend_available_at(state) - timezone.now()
    return max(0, int(left / timedelta(seconds=1)) + (1 if left.microseconds else 0))


# --- 1. request (web process) ------------------------------------------------------------------


def request_email(request, email: str, page=None, *, next_url: str = "") -> EmailChallenge | None:
    """Record that this browser asked for an email to ``email`` for ``page`` (None: sign-in).

    Returns the challenge whose email the caller must enqueue, or None when the same browser
    asked for the same email within ``RESEND_COOLDOWN`` (nothing new is sent). Whether the
    email has access is *not* looked at here: the response must not depend on it.
    """
    state = pending_challenge(request, page)
    now = timezone.now()
    if state and state["email"] == email and now < resend_available_at(state):
        return None
    challenge = tokens.start_challenge(
        email,
        page,
        purpose=Purpose.UNLOCK if page is not None else Purpose.SIGN_IN,
        language=translation.get_language() or "",
        site=Site.find_for_request(request),
        next_url=next_url,
    )
    request.session[SESSION_KEY] = {
        "id": challenge.pk,
        "page": _target(page),
        "email": email,
        "at": now.timestamp(),
    }
    return challenge


# --- 2. deliver (background task) -----------------------------------------------------------


def _site_name(site) -> str:
    return (site.site_name or site.hostname) if site else ""


def _absolute(site, path: str) -> str:
    """A full URL from the *configured* site address, never from a request's Host header."""
    if site is not None:
        return site.root_url.rstrip("/") + path
    base = getattr(settings, "WAGTAILADMIN_BASE_URL", "") or ""
    return base.rstrip("/") + path


def link_url(site, token: str) -> str:
    return _absolute(site, reverse("wagtail_member_access:link", args=[token]))


def deliver(challenge_id: int) -> None:
    """Send the code and/or link of a challenge, if its email may have access; otherwise
    cancel the challenge quietly. A mail server failure is recorded on the challenge
    (``send_error``) and the challenge cancelled, so "send again" makes a fresh attempt."""
    challenge = (
        EmailChallenge.objects.select_related("page", "site").filter(pk=challenge_id).first()
    )
    if challenge is None or challenge.cancelled_at or challenge.code_hash or challenge.link_hash:
        return
    if challenge.purpose == Purpose.RESET:  # a forgotten-password request
        from .accounts import deliver_reset

        deliver_reset(challenge)
        return
    if challenge.purpose == Purpose.UNLOCK:
        if challenge.page is None:
            return
        page = challenge.page.specific
        rules = access.rules_for_page(page)
        recipient = access.email_may_view(challenge.email, page, rules=rules)
        delivery = _DELIVERY.get(access.email_mode(rules))
        site = page.get_site()
        context = {"page_title": page.title, "page_url": page.get_full_url() or ""}
    else:
        page = None
        recipient = sign_in_address(challenge.email)
        delivery = _SIGN_IN_DELIVERY
        site = challenge.site or Site.objects.filter(is_default_site=True).first()
        context = {}
    if recipient is None or delivery is None:
        tokens.cancel(challenge, EmailChallenge.CancelReason.NOT_ELIGIBLE)
        logger.info(
            "No %s email sent to %s: no access.", challenge.purpose, mask_email(challenge.email)
        )
        return
    send_code, send_link, kind = delivery
    issued = tokens.issue(challenge, code=send_code, link=send_link)
    if issued is None:
        return
    context |= {
        "code": issued.code,
        "link": link_url(site, issued.link_token) if send_link else "",
        "minutes": int(app_settings.CODE_VALIDITY.total_seconds() // 60),
        "link_minutes": int(app_settings.LINK_VALIDITY.total_seconds() // 60),
        "site_name": _site_name(site),
        "email": recipient,
    }
    try:
        emails.send_email(kind, recipient, context, language=challenge.language or None, about=page)
    except Exception as exc:  # any mail backend error: record it, never lose the request
        EmailChallenge.objects.filter(pk=challenge.pk).update(send_error=emails.describe_error(exc))
        tokens.cancel(challenge, EmailChallenge.CancelReason.SEND_FAILED)
        logger.error(
            "Could not send the %s email to %s (%s).",
            kind,
            mask_email(recipient),
            type(exc).__name__,
        )


# --- 3. redeem (web process) ----------------------------------------------------------------


def _log_failure(page, email: str, reason: str) -> None:
    if page is not None:
        log(
            instance=page,
            action=log_actions.UNLOCK_FAILED,
            data={"email": mask_email(email), "reason": reason},
        )


def _complete(request, challenge: EmailChallenge, result: Redemption, method: str):
    """Sign in the member for a redeemed challenge, if the email (still) may have access."""
    email = challenge.email
    page = challenge.page.specific if challenge.page_id else None
    try:
        if page is not None and access.email_may_view(email, page) is None:
            raise NotAllowed("no access")
        if page is None and sign_in_address(email) is None:
            raise NotAllowed("no account or access")
        user = sign_in_member(request, email)
    except NotAllowed as exc:
        logger.warning("Right %s for %s but %s.", method, mask_email(email), exc)
        _log_failure(page, email, "no_access")
        return Redemption(Outcome.NO_ACCESS, challenge)
    clear_challenge(request)
    if page is not None:
        log(
            instance=page,
            action=log_actions.UNLOCK,
            user=user,
            data={"email": mask_email(email), "method": method},
        )
        member_unlocked.send(
            sender=type(page), request=request, user=user, page=page, method=method
        )
    if page is not None:
        logger.info("%s unlocked page %s with a %s.", mask_email(email), page.pk, method)
    else:
        logger.info("%s signed in with a %s.", mask_email(email), method)
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
    if not result.ok:
        logger.info("Code refused for %s: %s.", mask_email(state["email"]), result.outcome.value)
        _log_failure(page, state["email"], result.outcome.value)
        return result
    return _complete(request, result.challenge, result, "code")


def open_link(token: str) -> Redemption:
    """What a magic link is, for GET/HEAD: changes nothing (email scanners open links)."""
    return tokens.peek_link(token)


def confirm_link(request, token: str) -> Redemption:
    """Use a magic link (the confirm POST) and sign in, in whatever browser it is used."""
    result = tokens.redeem_link(token)
    if not result.ok:
        if result.challenge is not None:
            _log_failure(result.challenge.page, result.challenge.email, result.outcome.value)
        return result
    return _complete(request, result.challenge, result, "link")


def landing_url(challenge: EmailChallenge, request=None) -> str:
    """Where a redeemed challenge leads: its return URL, its page, or the sign-in default."""
    if challenge.next_url:
        return challenge.next_url
    if challenge.page_id:
        return challenge.page.specific.get_url(request) or "/"
    return app_settings.SIGN_IN_REDIRECT_URL


# --- "your access is ready" -------------------------------------------------------------------


def send_access_ready(grant: Grant) -> None:
    """Enqueue the "your access is ready" email for ``grant`` (``grant_access(notify=True)``)."""
    from .tasks import deliver_access_ready as task
    from .tasks import enqueue

    enqueue(task, grant.pk)


def deliver_access_ready(grant_id: int) -> None:
    """Send the "your access is ready" email: each page the grant's list opens, with a magic
    link valid ``NOTIFY_LINK_VALIDITY`` that signs the member in on it (as elopage's purchase
    confirmation does): an unlock link for a page with an email mode, a member sign-in link
    that lands on the page for a members-only page. Not sent for a revoked or vanished
    grant."""
    grant = Grant.objects.select_related("access_list").filter(pk=grant_id).first()
    if grant is None or grant.revoked_at is not None:
        return
    pages = []
    for restriction in grant.access_list.restrictions.select_related("page"):
        page = restriction.page.specific
        page_site = page.get_site()
        entry = {"title": page.title, "url": page.get_full_url() or "", "link": ""}
        rules = access.rules_for_page(page)
        if access.email_may_view(grant.email, page, rules=rules) is not None:
            # Beside, not instead of, a code the member may be waiting for on this page.
            challenge = tokens.start_challenge(
                grant.email, page, site=page_site, replace_others=False
            )
        elif access.member_may_view(grant.email, page, rules=rules) is not None:
            # A members-only page: a member sign-in link that lands on the page.
            challenge = tokens.start_challenge(
                grant.email,
                None,
                purpose=Purpose.SIGN_IN,
                site=page_site,
                next_url=page.get_url() or "",
                replace_others=False,
            )
        else:
            challenge = None
        if challenge is not None:
            issued = tokens.issue(
                challenge,
                code=False,
                link=True,
                link_validity=app_settings.NOTIFY_LINK_VALIDITY,
            )
            entry["link"] = link_url(page_site, issued.link_token)
        pages.append((page, entry))
    site = pages[0][0].get_site() if pages else Site.objects.filter(is_default_site=True).first()
    from .accounts import access_ready_invitation

    # Members without a password also get a set-your-password link: one email, not two.
    invitation = access_ready_invitation(grant.email, site)
    context = invitation | {
        "name": grant.name,
        "email": grant.email,
        "list_name": grant.access_list.name,
        "pages": [entry for _, entry in pages],
        "site_name": _site_name(site),
        "link_hours": int(app_settings.NOTIFY_LINK_VALIDITY.total_seconds() // 3600),
        "expires": timezone.localtime(grant.expires_at).strftime("%Y-%m-%d %H:%M")
        if grant.expires_at
        else "",
    }
    emails.send_email("access_ready", grant.email, context, about=grant)
