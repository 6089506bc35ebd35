"""The "your access is ready" email (``grant(..., notify=True)``, the grants listing's
"Resend access email", the bulk "Access email"): each page the grant's list opens, with a
magic link that signs the member in on it, and for a member without a password a
set-your-password link too (one email, not two).

Sent by the ``deliver_send`` task through an ``EmailSend`` (:func:`record`, one per request:
an editor's "Resend" is a new email): a failed send is retried with back-off and never sent
twice after a success (docs/security.md#mail-retries)."""

from __future__ import annotations

import logging
import uuid

from django.utils import timezone
from wagtail.log_actions import log

from .. import access, durations, emails, log_actions, moments, sends, sites, tokens
from ..conf import app_settings
from ..members import NotAllowed, get_or_create_member, mask_email
from ..models import EmailChallenge, EmailSend, Grant
from . import common

__all__ = ["deliver", "record", "send", "send_recorded"]

logger = logging.getLogger("wagtail_member_access")

Purpose = EmailChallenge.Purpose


def _page_link(grant: Grant, page, site) -> str:
    """A link valid ``NOTIFY_LINK_VALIDITY`` that signs ``grant``'s member in on ``page``:
    an unlock link for a page with an email mode, a member sign-in link that lands on the
    page for a members-only page; ``""`` when the grant does not open the page."""
    rules = access.rules_for_page(page)
    if access.email_may_view(grant.email, page, rules=rules) is not None:
        # Beside, not instead of, a code the member may be waiting for on this page.
        challenge = tokens.start_challenge(grant.email, page, site=site, replace_others=False)
    elif access.member_may_view(grant.email, page, rules=rules) is not None:
        challenge = tokens.start_challenge(
            grant.email,
            None,
            purpose=Purpose.SIGN_IN,
            site=site,
            next_url=page.get_url() or "",
            replace_others=False,
        )
    else:
        return ""
    issued = tokens.issue(
        challenge, code=False, link=True, link_validity=app_settings.NOTIFY_LINK_VALIDITY
    )
    return sites.link_url(site, issued.link_token)


def _invitation(email: str, site, language: str | None = None) -> dict:
    """The set-your-password part: for a member without a usable password, an invitation
    link (valid ``INVITATION_VALIDITY``; the account is created now and the invitation
    recorded). Empty values for members who have a password already, and for accounts that
    may not sign in by email."""
    none = {"set_password_link": "", "invite_days": ""}
    try:
        user = get_or_create_member(email)
    except NotAllowed:
        return none
    if user.has_usable_password():
        return none
    _, issued = common.issue_link(
        email,
        Purpose.INVITE,
        site=site,
        language=language or "",
        validity=app_settings.INVITATION_VALIDITY,
    )
    profile = common.profile_of(user)
    profile.invited_at = timezone.now()
    profile.save(update_fields=["invited_at"])
    log(instance=user, action=log_actions.INVITE, data={"email": mask_email(email)})
    return {
        "set_password_link": sites.invitation_url(site, issued.link_token),
        "invite_days": str(durations.days(app_settings.INVITATION_VALIDITY)),
    }


def send(grant_id: int) -> bool:
    """Send the "your access is ready" email of grant ``grant_id`` (as elopage's purchase
    confirmation does) and return whether it was sent. Not sent (False) for a revoked or
    vanished grant, nor when the mail server fails (written to the grant's history and the
    server log, docs/security.md#mail-failures)."""
    return bool(deliver(grant_id))


def record(grant_id: int) -> EmailSend | None:
    """Record a new access email to grant ``grant_id``'s member, for the ``deliver_send``
    task; None for a vanished grant."""
    grant = Grant.objects.filter(pk=grant_id).first()
    if grant is None or grant.is_domain:  # a domain grant has no address to write to
        return None
    key = f"access_ready:{grant.pk}:{uuid.uuid4().hex}"
    return sends.record(EmailSend.Kind.ACCESS_READY, key, grant.email, grant=grant)


def send_recorded(send: EmailSend) -> str:
    """Send the access email of ``send`` (for ``sends.attempt``): ``""`` when sent, else the
    mail server's error; ``sends.NotSending`` when its grant was revoked or deleted."""
    delivery = deliver(send.grant_id) if send.grant_id else None
    if delivery is None:
        raise sends.NotSending("the grant was revoked or deleted")
    return delivery.error if not delivery else ""


def deliver(grant_id: int) -> emails.Delivery | None:
    """Send grant ``grant_id``'s access email: the ``emails.Delivery``, or None when there is
    nothing to send (a revoked or vanished grant)."""
    grant = Grant.objects.select_related("access_list").filter(pk=grant_id).first()
    if grant is None or grant.revoked_at is not None or grant.is_domain:
        return None
    pages = []
    for restriction in grant.access_list.restrictions.select_related("page"):
        page = restriction.page.specific
        site = page.get_site()
        link = _page_link(grant, page, site)
        pages.append((page, {"title": page.title, "url": page.get_full_url() or "", "link": link}))
    site = pages[0][0].get_site() if pages else sites.default_site()
    context = _invitation(grant.email, site) | {
        "name": grant.name,
        "email": grant.email,
        "list_name": grant.access_list.name,
        "pages": [entry for _, entry in pages],
        "site_name": sites.site_name(site),
        "link_hours": durations.hours(app_settings.NOTIFY_LINK_VALIDITY),
        # Formatted in the email's language, in the site's time zone (docs/expiry.md#shown).
        "expires": moments.until_lazy(grant.expires_at, timezone.get_default_timezone()),
    }
    return emails.deliver("access_ready", grant.email, context, about=grant)
