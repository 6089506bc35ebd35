"""Set or change a member's password: with an invitation or reset link, the forced change
after signing in with an initial password, or a change from "My access"; and the terms a
member accepts with their first password.

Invitation and reset links are :mod:`wagtail_member_access.tokens` challenges of purpose
``INVITE`` or ``RESET``: opening one changes nothing (``tokens.peek_link``); only setting the
password uses it. Members are signed in through
:func:`wagtail_member_access.members.sign_in_member`.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from wagtail.models import Site

from .. import tokens
from ..conf import app_settings
from ..members import (
    NotAllowed,
    find_member,
    mask_email,
    member_who_may_sign_in,
)
from ..models import EmailChallenge, MemberProfile
from ..tokens import Outcome, Redemption
from . import common

__all__ = [
    "change_password",
    "pending_step",
    "set_password_with_token",
    "terms_required",
    "transient_user",
    "user_for_email",
]

logger = logging.getLogger("wagtail_member_access")

Purpose = EmailChallenge.Purpose


def terms_required(user) -> bool:
    """Must ``user`` accept the terms (``TERMS_URL`` set and not accepted yet)? True for an
    unsaved user."""
    if not app_settings.TERMS_URL:
        return False
    if user is None or user.pk is None:
        return True
    return not MemberProfile.objects.filter(user=user, terms_accepted_at__isnull=False).exists()


def user_for_email(email: str):
    """The account of ``email`` for password validation, or an unsaved user that only has the
    email (so that validators compare against what the visitor typed either way, and their
    messages do not tell whether an account exists)."""
    try:
        user = find_member(email)
    except NotAllowed:
        user = None
    return user if user is not None else transient_user(email)


def transient_user(email: str):
    """An unsaved user that only has ``email``: what the forgotten-password code form
    validates the new password against, whether or not the address has an account (so the
    validators' messages cannot tell)."""
    User = get_user_model()
    return User(**{User.get_email_field_name(): email})


def set_password_with_token(
    request, token: str, purpose, password: str, *, accept_terms: bool = False
) -> Redemption:
    """Use an invitation or reset link (the set-password POST): set ``password`` (already
    validated by the form), sign the member in, end their other sessions. A "your password
    was changed" notice is emailed after a reset, and after an invitation that replaced a
    password the account already had (not for a member's first password). Outcomes other
    than OK change nothing: EXPIRED, USED (also when replaced by a newer link), MISSING,
    NO_ACCESS (the account may not sign in by email: staff, inactive, no access any more)."""
    state = tokens.peek_link(token, purposes=(purpose,))
    if not state.ok:
        return state
    email = state.challenge.email
    try:
        user = member_who_may_sign_in(email)
    except NotAllowed as exc:
        logger.warning("%s link for %s refused: %s.", purpose, mask_email(email), exc)
        return Redemption(Outcome.NO_ACCESS, state.challenge)
    result = tokens.redeem_link(token, purposes=(purpose,))
    if not result.ok:
        return result
    # An invitation used on an account that has a password replaces it: the owner is told,
    # as after a reset (docs/security.md#account-links). A member's first password needs no
    # notice, and the generated initial password of the same invitation is not one of theirs.
    had_password = user.has_usable_password() and not (
        MemberProfile.objects.filter(user=user, must_change_password=True).exists()
    )
    common.set_password(
        request,
        user,
        password,
        how="invite" if purpose == Purpose.INVITE else "reset",
        accept_terms=accept_terms,
        site=state.challenge.site,
        notify=purpose == Purpose.RESET or had_password,
    )
    return result


def change_password(request, password: str, *, accept_terms: bool = False) -> None:
    """The signed-in member's new password (validated by the form): the forced change after
    an initial password, or a change from "My access". Ends their other sessions, keeps this
    one, and emails a notice unless it was the forced first change."""
    forced = request.session.get(common.PENDING_SESSION_KEY) == "password"
    common.set_password(
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
    return request.session.get(common.PENDING_SESSION_KEY)
