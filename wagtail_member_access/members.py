"""One identity: a proven email is the Django user with that email.

Every flow that proves an email (code, link, invitation, password reset) signs the visitor in
through :func:`sign_in_member`, so the rules live here once: emails are normalised the same
way, staff are never signed in by email proof, accounts are created on first proof with an
unusable password, and the session key is cycled (Django's ``login()``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.crypto import get_random_string

from .conf import app_settings
from .models import MemberProfile

__all__ = [
    "NotAllowed",
    "find_email_member",
    "get_or_create_member",
    "is_privileged",
    "mask_email",
    "member_who_may_sign_in",
    "normalize_email",
    "remember_language",
    "sign_in_address",
    "sign_in_member",
]

logger = logging.getLogger("wagtail_member_access")

MAX_EMAIL_LENGTH = 254


class NotAllowed(Exception):
    """The email belongs to an account that must not be signed in by email proof."""


def normalize_email(value: str) -> str:
    """The form grants are keyed by: stripped and lower-cased.

    Raises ``ValidationError`` for anything that is not one plain email address (overlong
    input, header-injecting newlines, two addresses). Lookups compare normalised values exactly,
    and mail goes to the stored address, never to what was typed (Django CVE-2019-19844).
    """
    if not isinstance(value, str):
        raise ValidationError("Enter a valid email address.", code="invalid")
    email = value.strip()
    if len(email) > MAX_EMAIL_LENGTH or any(c in email for c in "\r\n\x00,;<>"):
        raise ValidationError("Enter a valid email address.", code="invalid")
    validate_email(email)
    return email.lower()


def mask_email(email: str) -> str:
    """``ana@example.com`` → ``a**@example.com``: what our logs may contain."""
    local, _, domain = (email or "").partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}{'*' * max(len(local) - 1, 2)}@{domain}"


def is_privileged(user) -> bool:
    """Staff, superusers and anyone with Wagtail admin access: never signed in by a code or
    link (docs/security.md#staff-never-by-email); they sign in with their password."""
    return bool(user.is_staff or user.is_superuser or user.has_perm("wagtailadmin.access_admin"))


def _normalized(value) -> str:
    try:
        return normalize_email(value or "")
    except ValidationError:
        return ""


def find_member(email: str):
    """The active or inactive user whose email is ``email`` (case-insensitively), or None.

    Raises ``NotAllowed`` when several accounts share the address: we cannot know which one
    the visitor is, so none is signed in.
    """
    User = get_user_model()
    email_field = User.get_email_field_name()
    # ``iexact`` finds the candidates with an index-friendly query; the exact comparison of
    # normalised addresses then drops look-alikes that a database's case folding matches
    # (PostgreSQL's UPPER() turns "ı" into "I", so "mıke@…" would find "mike@…" and get a
    # fresh set of per-address rate limits).
    candidates = User._default_manager.filter(**{f"{email_field}__iexact": email})[:10]
    wanted = _normalized(email)
    users = [u for u in candidates if wanted and _normalized(getattr(u, email_field)) == wanted]
    if len(users) > 1:
        logger.warning("Several accounts share %s; none is signed in by email.", mask_email(email))
        raise NotAllowed("ambiguous")
    return users[0] if users else None


def find_email_member(email: str):
    """:func:`find_member` for a proof by email: the active user whose email is ``email``, or
    None when there is none. Raises ``NotAllowed`` for a staff or inactive account, who is
    never signed in by email (docs/security.md#staff-never-by-email), and for an address
    several accounts share."""
    user = find_member(email)
    if user is not None and (not user.is_active or is_privileged(user)):
        raise NotAllowed("privileged or inactive")
    return user


def sign_in_address(email: str) -> str | None:
    """The address to send a sign-in code or link to, if ``email`` may sign in by email: an
    active member account (never staff), or an active grant on any list (the account is then
    created on first sign-in). None otherwise."""
    from .models import Grant

    try:
        user = find_email_member(email)
    except NotAllowed:
        return None
    if user is not None:
        return normalize_email(getattr(user, user.get_email_field_name()))
    grant = Grant.objects.active().filter(email=email).values_list("email", flat=True).first()
    return grant


def _create_member(email: str):
    User = get_user_model()
    email_field = User.get_email_field_name()
    fields = {email_field: email}
    username_field = User.USERNAME_FIELD
    if username_field != email_field:
        max_length = User._meta.get_field(username_field).max_length or 150
        username = email[:max_length]
        while User._default_manager.filter(**{username_field: username}).exists():
            suffix = "-" + get_random_string(6, "abcdefghijklmnopqrstuvwxyz0123456789")
            username = email[: max_length - len(suffix)] + suffix
        fields[username_field] = username
    user = User._default_manager.create_user(**fields, password=None)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


def get_or_create_member(email: str):
    """The member account for a proven ``email``, created on first proof.

    Raises ``NotAllowed`` for privileged or inactive accounts and for addresses shared by
    several accounts.
    """
    user = find_member(email)
    if user is None:
        try:
            with transaction.atomic():
                user = _create_member(email)
        except IntegrityError:  # created by a concurrent request a moment ago
            user = find_member(email)
            if user is None:
                raise
    if not user.is_active or is_privileged(user):
        raise NotAllowed("privileged or inactive")
    return user


def member_who_may_sign_in(email: str):
    """The member account for a proven ``email`` that may sign in by email now (an active
    account, or an active grant: the account is then created). Raises ``NotAllowed`` when
    it may not: no account and no active grant, staff, inactive, or a shared address."""
    if sign_in_address(email) is None:
        raise NotAllowed("may not sign in")
    return get_or_create_member(email)


def _backend_path() -> str:
    if app_settings.AUTHENTICATION_BACKEND:
        return app_settings.AUTHENTICATION_BACKEND
    return settings.AUTHENTICATION_BACKENDS[0]


def sign_in_member(request, email: str):
    """Sign the visitor in as the member for the proven ``email`` and return the user.

    Uses Django's ``login()``, which cycles the session key. Raises ``NotAllowed`` (and signs
    nobody in) for staff, superusers, admin users, inactive and ambiguous accounts.
    """
    user = get_or_create_member(email)
    login(request, user, backend=_backend_path())
    remember_language(user, translation.get_language())
    return user


def remember_language(user, language: str | None) -> None:
    """Store ``language`` (the one the member is using the site in) on their profile: their
    emails are written in it (docs/editing-emails.md#language)."""
    if language:
        MemberProfile.objects.update_or_create(user=user, defaults={"language": language[:16]})
