"""The rules a member's new password must follow (docs/security.md#password-rules).

The site's ``AUTH_PASSWORD_VALIDATORS`` when it has any; otherwise Django's minimum length
(10 characters), common-password and numeric validators, so that a site without validators
does not accept "abc". A system check (``wagtail_member_access.I001``) says which apply.
"""

from __future__ import annotations

from django.contrib.auth import password_validation

__all__ = [
    "FALLBACK_VALIDATORS",
    "describe",
    "help_text_html",
    "uses_fallback",
    "validate",
    "validators",
]

_PV = "django.contrib.auth.password_validation"

#: What applies when the site configures no validators of its own.
FALLBACK_VALIDATORS = [
    {"NAME": f"{_PV}.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": f"{_PV}.CommonPasswordValidator"},
    {"NAME": f"{_PV}.NumericPasswordValidator"},
]


def uses_fallback() -> bool:
    """True when the site has no ``AUTH_PASSWORD_VALIDATORS`` (the package's rules apply)."""
    return not password_validation.get_default_password_validators()


def validators() -> list:
    """The validator instances that check a member's new password."""
    if uses_fallback():
        return password_validation.get_password_validators(FALLBACK_VALIDATORS)
    return password_validation.get_default_password_validators()


def validate(password: str, user=None) -> None:
    """Raise ``ValidationError`` (every failed rule's message) when ``password`` breaks a
    rule of :func:`validators`; return None when it passes."""
    password_validation.validate_password(password, user, password_validators=validators())


def help_text_html() -> str:
    """The rules as an HTML list, for the new-password field."""
    return password_validation.password_validators_help_text_html(validators())


def describe() -> str:
    """The validators' class names, for the system check's message."""
    return ", ".join(type(v).__name__ for v in validators())
