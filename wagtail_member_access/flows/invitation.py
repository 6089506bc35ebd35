"""Invite a member to set a password (the admin's "Send invitation", the bulk sender): a
single-use set-your-password link, and with ``INVITATION_INITIAL_PASSWORD`` a generated
initial password that works for one sign-in. The link is used through
:func:`wagtail_member_access.flows.set_password.set_password_with_token`."""

from __future__ import annotations

import logging

from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import get_random_string
from wagtail.log_actions import log

from .. import durations, emails, log_actions, sites
from ..conf import app_settings
from ..members import NotAllowed, get_or_create_member, mask_email, normalize_email
from ..models import EmailChallenge
from . import common

__all__ = ["send_invitation"]

logger = logging.getLogger("wagtail_member_access")

#: Initial passwords: lower case without look-alikes (0/o, 1/l/i), for credentials typed
#: from an email (docs/member-accounts.md). 12 of 31 characters: about 59 bits.
_INITIAL_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_INITIAL_LENGTH = 12


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
    site = site or sites.default_site()
    language = language or translation.get_language() or ""
    challenge, issued = common.issue_link(
        email,
        EmailChallenge.Purpose.INVITE,
        site=site,
        language=language,
        validity=app_settings.INVITATION_VALIDITY,
    )
    profile = common.profile_of(user)
    context = {
        "name": name or (getattr(user, "get_full_name", lambda: "")() or ""),
        "email": email,
        "link": sites.invitation_url(site, issued.link_token),
        "days": durations.days(app_settings.INVITATION_VALIDITY),
        "site_name": sites.site_name(site),
        "sign_in_url": sites.absolute_url(site, reverse("wagtail_member_access:sign_in")),
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
        # nobody received is kept. The failure is recorded on the challenge afterwards,
        # outside the transaction that is rolled back.
        delivery = emails.deliver("invitation", email, context, language=language)
        if not delivery:
            transaction.set_rollback(True)
    if not delivery:
        emails.record_failure(challenge, delivery.error)
        return False
    log(instance=user, action=log_actions.INVITE, user=by, data={"email": mask_email(email)})
    logger.info("Invitation sent to %s.", mask_email(email))
    return True
