"""The webhook signature (Stripe's scheme): ``t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>">``, checked in constant time, and refused outside ``WEBHOOK_TOLERANCE`` so
that a captured request cannot be replayed later (docs/security.md#webhook-signature)."""

from __future__ import annotations

import hashlib
import hmac
import re

from django.utils import timezone
from django.utils.crypto import constant_time_compare

from ..conf import app_settings
from .results import Refusal

__all__ = [
    "MAX_HEADER_LENGTH",
    "SIGNATURE_HEADER",
    "STRIPE_SIGNATURE_HEADER",
    "check_timestamp",
    "parse_signature",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Member-Access-Signature"
STRIPE_SIGNATURE_HEADER = "Stripe-Signature"

#: Longest accepted signature header: a timestamp and a handful of signatures (rotation).
MAX_HEADER_LENGTH = 1024

_TIMESTAMP = re.compile(r"\d{1,12}")
_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


def _hmac(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The signature header value for ``body``: ``t=<timestamp>,v1=<hex HMAC-SHA256>`` of
    ``"<timestamp>.<body>"`` with ``secret``, timestamped now unless given. What a shop
    written in Python sends (and what the tests use)."""
    if timestamp is None:
        timestamp = int(timezone.now().timestamp())
    return f"t={timestamp},v1={_hmac(secret, timestamp, body)}"


def parse_signature(value: str | None, header: str = SIGNATURE_HEADER) -> tuple[int, list[str]]:
    """Split a ``t=…,v1=…[,v1=…]`` header into its timestamp and its ``v1`` signatures.

    Other schemes (Stripe's ``v0``) are ignored. Raises :class:`Refusal` (400) when the header
    is missing or is not of that form.
    """
    if not value:
        raise Refusal(400, "missing_signature", f"The {header} header is missing.")
    if len(value) > MAX_HEADER_LENGTH:
        raise Refusal(400, "malformed_signature", f"The {header} header is too long.")
    timestamp, signatures = None, []
    for item in value.split(","):
        key, sep, item_value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t" and _TIMESTAMP.fullmatch(item_value):
            timestamp = int(item_value)
        elif key == "v1" and _HEX_SIGNATURE.fullmatch(item_value):
            signatures.append(item_value.lower())
    if timestamp is None or not signatures:
        raise Refusal(
            400,
            "malformed_signature",
            f"The {header} header must be t=<unix timestamp>,v1=<64 hex digits of the "
            'HMAC-SHA256 of "<timestamp>.<body>">.',
        )
    return timestamp, signatures


def check_timestamp(timestamp: int) -> None:
    """Refuse (401) a timestamp more than ``WEBHOOK_TOLERANCE`` from now, either way: an old
    one is a replay (or a very late retry that the sender must sign afresh), a future one a
    wrong clock or a request prepared in advance."""
    tolerance = int(app_settings.WEBHOOK_TOLERANCE.total_seconds())
    offset = int(timezone.now().timestamp()) - timestamp
    if abs(offset) > tolerance:
        when = f"{offset} seconds old" if offset > 0 else f"{-offset} seconds in the future"
        raise Refusal(
            401,
            "timestamp_outside_tolerance",
            f"The signature's timestamp is {when}; at most {tolerance} seconds either way are "
            "accepted. Sign each delivery when you send it, with a correct clock.",
        )


def verify_signature(body: bytes, timestamp: int, signatures: list[str], secrets) -> None:
    """Refuse (401) unless one of ``signatures`` is the HMAC of ``timestamp`` and ``body``
    under one of ``secrets``; compared in constant time."""
    expected = [_hmac(secret, timestamp, body) for secret in secrets]
    if not any(constant_time_compare(e, s) for e in expected for s in signatures):
        raise Refusal(
            401,
            "invalid_signature",
            'The signature does not match: sign "<timestamp>.<raw body>" with HMAC-SHA256 '
            "and the secret configured for this list, exactly the bytes you send.",
        )
