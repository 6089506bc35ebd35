"""What a signed-in member does on their account page (docs/member-accounts.md): a new email
address, proven by a code sent to it; deleting the account, confirmed by a code sent to the
current address; and a copy of their data.

Like every emailed code, the request is recorded in the web process and the code sent by
the task (``tasks.deliver_challenge`` → ``flows.account_codes.deliver_code``); the code is
bound to this browser's session and redeemed through :mod:`wagtail_member_access.tokens`.
"""

from __future__ import annotations

import logging

from django.contrib.auth import logout
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from wagtail.log_actions import log
from wagtail.models import ModelLogEntry, PageLogEntry, Site

from .. import emails, grants, log_actions, moments, sites, tokens
from ..members import mask_email
from ..models import EmailChallenge, EmailThrottle, Grant, GrantReference, MemberProfile
from ..tokens import Outcome, Redemption
from . import common, pending, sessions

__all__ = [
    "CHANGE_KEY",
    "DELETE_KEY",
    "confirm_deletion",
    "confirm_email_change",
    "export",
    "request_deletion",
    "request_email_change",
]

logger = logging.getLogger("wagtail_member_access")

Purpose = EmailChallenge.Purpose
#: This browser's pending change of address / deletion: ``{"id", "email", "at"}``.
CHANGE_KEY = "wagtail_member_access.change_email"
DELETE_KEY = "wagtail_member_access.delete_account"


def _start(request, key: str, purpose, email: str) -> EmailChallenge | None:
    if pending.is_waiting(pending.get(request, key), email):
        return None
    challenge = tokens.start_challenge(
        email,
        None,
        purpose=purpose,
        language=translation.get_language() or "",
        site=Site.find_for_request(request),
    )
    pending.remember(request, key, challenge, email, user=request.user.pk)
    return challenge


def request_email_change(request, new_email: str) -> EmailChallenge | None:
    """Record the signed-in member's wish to use ``new_email`` (normalised); return the
    challenge whose code the caller enqueues, or None within ``RESEND_COOLDOWN`` of the same
    request. Raises ``ValidationError`` when it is their address already. Whether another
    account uses it is checked after the code proves the address (no enumeration)."""
    if new_email == common.email_of(request.user):
        raise ValidationError("This is your email address already.", code="same")
    return _start(request, CHANGE_KEY, Purpose.CHANGE_EMAIL, new_email)


def request_deletion(request) -> EmailChallenge | None:
    """Record the signed-in member's request to delete their account; the code goes to their
    address. None within ``RESEND_COOLDOWN`` of the same request."""
    return _start(request, DELETE_KEY, Purpose.DELETE_ACCOUNT, common.email_of(request.user))


def _redeem(request, key: str, purpose, code: str) -> Redemption:
    state = pending.get(request, key)
    if state is None or state.get("user") != request.user.pk:
        return Redemption(Outcome.MISSING)
    result = tokens.redeem_code(state["id"], None, code, purpose=purpose)
    if result.outcome is Outcome.WRONG and tokens.replaced_code(state.get("replaced", ()), code):
        return Redemption(Outcome.REPLACED, result.challenge, retry_at=result.retry_at)
    return result


def confirm_email_change(request, code: str) -> Redemption:
    """Redeem the code sent to the new address and switch the account to it: the grants move
    (``grants.move_email``), the account's address changes, codes and links still pending
    for the old address stop working, and both addresses get a notice. Raises
    ``ValidationError`` (``taken``) and changes nothing (the code stays used) when another
    account has the address meanwhile."""
    result = _redeem(request, CHANGE_KEY, Purpose.CHANGE_EMAIL, code)
    if not result.ok:
        return result
    pending.clear(request, CHANGE_KEY)
    user, new = request.user, result.challenge.email
    old = common.email_of(user)
    with transaction.atomic():
        grants.move_email(old, new, by=user)
        field = user.get_email_field_name()
        setattr(user, field, new)
        fields = [field]
        if field != user.USERNAME_FIELD and user.get_username() == old:
            setattr(user, user.USERNAME_FIELD, new)  # created from the address: follows it
            fields.append(user.USERNAME_FIELD)
        user.save(update_fields=fields)
        EmailChallenge.objects.filter(
            email=old, redeemed_at__isnull=True, cancelled_at__isnull=True
        ).update(
            cancelled_at=timezone.now(), cancel_reason=EmailChallenge.CancelReason.EMAIL_CHANGED
        )
        log(
            instance=user,
            action=log_actions.EMAIL_CHANGED,
            user=user,
            data={"email": mask_email(new), "old_email": mask_email(old)},
        )
    logger.info("%s changed their address to %s.", mask_email(old), mask_email(new))
    site = result.challenge.site or sites.default_site()
    context = {
        "old_email": old,
        "new_email": new,
        "site_name": sites.site_name(site),
        "changed_at": moments.moment_lazy(timezone.now(), timezone.get_default_timezone()),
    }
    for to in (old, new):
        emails.deliver("email_changed", to, context, language=translation.get_language())
    return result


def confirm_deletion(request, code: str) -> Redemption:
    """Redeem the deletion code and delete the signed-in member's account: their grants
    (``grants.forget_email``: order references stay, anonymised), code requests, failure
    counters, sessions, profile and the account itself; their audit-log entries lose the
    address. Signs the browser out and emails a last notice."""
    result = _redeem(request, DELETE_KEY, Purpose.DELETE_ACCOUNT, code)
    if not result.ok:
        return result
    user = request.user
    email = common.email_of(user)
    site = result.challenge.site or sites.default_site()
    with transaction.atomic():
        grants.forget_email(email)
        EmailChallenge.objects.filter(email=email).delete()
        EmailThrottle.objects.filter(email=email).delete()
        ModelLogEntry.objects.filter(
            object_id=str(user.pk), content_type__model=user._meta.model_name
        ).update(label="", data={})
        PageLogEntry.objects.filter(user=user).update(data={})
        sessions.end_all_sessions(user)
        user.delete()
    logout(request)
    logger.info("A member deleted their account.")
    emails.deliver(
        "account_deleted",
        email,
        {"email": email, "site_name": sites.site_name(site)},
        language=translation.get_language(),
    )
    return result


def _when(value) -> str | None:
    return value.isoformat() if value else None


def export(request) -> dict:
    """The signed-in member's data, for "Download my data": the account, grants with dates
    and sources, orders, recent unlocks, emails sent, sessions. Nothing secret: no password
    hash, codes, link hashes or session keys."""
    user = request.user
    email = common.email_of(user)
    profile = MemberProfile.objects.filter(user=user).first()
    grants_qs = Grant.objects.filter(email=email).select_related("access_list")
    return {
        "account": {
            "email": email,
            "username": user.get_username(),
            "date_joined": _when(getattr(user, "date_joined", None)),
            "last_login": _when(user.last_login),
            "has_password": user.has_usable_password(),
            "invited_at": _when(profile and profile.invited_at),
            "terms_accepted_at": _when(profile and profile.terms_accepted_at),
        },
        "grants": [
            {
                "list": g.access_list.name,
                "starts_at": _when(g.starts_at),
                "expires_at": _when(g.expires_at),
                "revoked_at": _when(g.revoked_at),
                "source": g.source,
                "created_at": _when(g.created_at),
                "last_access_at": _when(g.last_access_at),
            }
            for g in grants_qs
        ],
        "orders": [
            {
                "list": r.grant.access_list.name,
                "reference": r.reference,
                "expires_at": _when(r.expires_at),
                "revoked_at": _when(r.revoked_at),
                "created_at": _when(r.created_at),
            }
            for r in GrantReference.objects.filter(grant__email=email).select_related(
                "grant__access_list"
            )
        ],
        "unlocks": [
            {"page": e.label, "at": _when(e.timestamp), "method": (e.data or {}).get("method")}
            for e in PageLogEntry.objects.filter(user=user, action=log_actions.UNLOCK).order_by(
                "-timestamp"
            )[:100]
        ],
        "emails": [
            {
                "purpose": c.purpose,
                "requested_at": _when(c.created_at),
                "sent_at": _when(c.issued_at),
                "used_at": _when(c.redeemed_at),
            }
            for c in EmailChallenge.objects.filter(email=email).order_by("-created_at")[:100]
        ],
        "sessions": [
            {
                "device": s["device"],
                "signed_in_at": _when(s["created_at"]),
                "last_seen_at": _when(s["last_seen_at"]),
            }
            for s in sessions.active_sessions(request)
        ],
    }
