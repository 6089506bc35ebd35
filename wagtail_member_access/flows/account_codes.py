"""The background half of the account page's codes (a new email address, deleting the
account): issue the code and send it. Kept apart from :mod:`.member_account`, whose
confirmations go through the grant path, which enqueues tasks: the task layer imports this
module only."""

from __future__ import annotations

from .. import durations, emails, sites, tokens
from ..conf import app_settings
from ..models import EmailChallenge

__all__ = ["deliver_code"]

Purpose = EmailChallenge.Purpose
_KIND = {Purpose.CHANGE_EMAIL: "email_change_code", Purpose.DELETE_ACCOUNT: "account_delete_code"}


def deliver_code(challenge: EmailChallenge) -> bool:
    """Background task: issue and send the code of a change-of-address or deletion request;
    return whether it was sent."""
    code = tokens.issue_code(challenge)
    if code is None:
        return False
    site = challenge.site or sites.default_site()
    context = {
        "code": code,
        "minutes": durations.minutes(app_settings.CODE_VALIDITY),
        "site_name": sites.site_name(site),
        "email": challenge.email,
    }
    kind = _KIND[challenge.purpose]
    return bool(
        emails.deliver(
            kind, challenge.email, context, language=challenge.language, challenge=challenge
        )
    )
