"""Domain grants: the one place that turns a domain into the form a grant stores, and an
address into the domain it belongs to (docs/courses-and-teams.md#domain-grants-and-seats).

A domain grant's ``email`` is ``"@"`` followed by the domain in its canonical form: lower
case, internationalised labels as their ASCII ``xn--`` form (IDNA 2008 with the UTS 46
mapping, the ``idna`` package), no trailing dot. An address matches a domain grant only when
its own domain, brought into the same form, is *exactly* that domain: ``evil-school.example``,
``school.example.evil.com`` and ``sub.school.example`` do not match ``@school.example``.
"""

from __future__ import annotations

import idna
from django.core.exceptions import ValidationError

from .members import normalize_email

__all__ = [
    "PREFIX",
    "address_domain",
    "canonical_address",
    "is_domain",
    "normalize_domain",
    "normalize_grantee",
    "seat_keys",
]

#: What starts a domain grant's ``email``.
PREFIX = "@"

_MAX_DOMAIN_LENGTH = 253


def is_domain(value) -> bool:
    """True for a domain grant's key (``"@school.example"``), before or after normalising."""
    return isinstance(value, str) and value.strip().startswith(PREFIX)


def _ascii_domain(domain: str) -> str:
    """``domain`` in canonical ASCII form; raises ``ValueError`` when it is not a domain
    name of at least two labels."""
    if domain.endswith("."):
        domain = domain[:-1]  # the fully qualified form names the same domain
    if not domain or domain != domain.strip() or "@" in domain:
        raise ValueError("not a domain")
    try:
        ascii_domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(str(exc)) from exc
    labels = ascii_domain.split(".")
    if len(labels) < 2 or len(ascii_domain) > _MAX_DOMAIN_LENGTH:
        raise ValueError("not a domain")
    for label in labels:
        if not label or not all(c.isalnum() or c == "-" for c in label) or not label.isascii():
            raise ValueError("bad label")
    return ascii_domain.lower()


def normalize_domain(value: str) -> str:
    """The key a domain grant is stored under: ``"@"`` + the canonical domain.

    ``"@School.Example"``, ``"@school.example."`` and ``"school.example"`` all give
    ``"@school.example"``; ``"@Schüle.example"`` gives ``"@xn--schle-mva.example"``, as does
    its ``xn--`` form. Raises ``ValidationError`` (code ``"domain"``) for anything that is
    not one domain name of at least two labels: an address (``ana@school.example``), spaces,
    a single label, an invalid ``xn--`` label.
    """
    if not isinstance(value, str):
        raise ValidationError("Enter a domain such as @school.example.", code="domain")
    text = value.strip()
    domain = text[1:] if text.startswith(PREFIX) else text
    try:
        return PREFIX + _ascii_domain(domain)
    except ValueError:
        raise ValidationError(
            "“%(value)s” is not a domain: enter one such as @school.example.",
            code="domain",
            params={"value": value[:100]},
        ) from None


def address_domain(email: str) -> str:
    """The domain grant key an address belongs to (``"ana@Schüle.example"`` →
    ``"@xn--schle-mva.example"``), or ``""`` when the address has no valid domain."""
    _, at, domain = (email or "").rpartition("@")
    if not at:
        return ""
    try:
        return PREFIX + _ascii_domain(domain)
    except ValueError:
        return ""


def canonical_address(email: str) -> str:
    """A member's address as a seat stores it and as emails about a domain grant go to:
    normalised (:func:`~wagtail_member_access.members.normalize_email`), its domain in the
    grant's canonical form. ``""`` for an address without a valid domain."""
    try:
        email = normalize_email(email)
    except ValidationError:
        return ""
    domain = address_domain(email)
    if not domain:
        return ""
    return email.rpartition("@")[0] + domain


def normalize_grantee(value: str) -> str:
    """What a grant is keyed by, from what a caller gave: a domain (``"@school.example"``,
    :func:`normalize_domain`) or an address (:func:`~wagtail_member_access.members.
    normalize_email`). Raises ``ValidationError`` for anything else."""
    if is_domain(value):
        return normalize_domain(value)
    return normalize_email(value)


def seat_keys(email: str) -> tuple[str, str]:
    """``(domain grant key, seat address)`` of an already normalised address, for the access
    check's one query (on every protected page view: an ASCII domain, the common case, is
    only lower-cased; an internationalised one goes through :func:`address_domain`).
    ``("", "")`` when the address has no domain. A malformed ASCII domain gives a key no
    grant has (every grant's domain was normalised), so it matches nothing."""
    local, at, domain = email.rpartition("@")
    if not at or not domain:
        return "", ""
    if domain.isascii():
        key = PREFIX + domain.lower()
    else:
        key = address_domain(email)
        if not key:
            return "", ""
    return key, local.lower() + key
