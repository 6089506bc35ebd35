"""The signed purchase webhook: a shop or payment provider grants access after a purchase, and
takes it back after a refund or cancellation, by POSTing a small signed JSON event.

The signature scheme is Stripe's (``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``),
which many shops and relays can already produce, so that:

- a captured request is refused once its timestamp is more than ``WEBHOOK_TOLERANCE`` away
  from now, and within that window replaying it changes nothing, because every event carries
  an order reference and ``grants.grant`` grants one reference once;
- the secret is chosen from the list slug named in the body (its own secret, else the global
  one) *before* the database is read, so an unsigned caller learns nothing about which lists
  exist;
- every refusal is a 4xx JSON ``{"error": <code>, "detail": <message>}`` for the developer
  reading the shop's webhook log, and is logged with its reason and a masked email; neither
  the secret nor the signature is ever logged.

Access is granted and revoked through :mod:`grants` only (the one grant path). The Stripe
adapter maps Checkout's ``checkout.session.completed`` onto the same purchase event. See
docs/webhooks.md.
"""

from __future__ import annotations

from .endpoints import receive
from .granting import apply
from .purchase import Purchase, parse_purchase
from .results import Refusal, Result
from .signatures import (
    SIGNATURE_HEADER,
    STRIPE_SIGNATURE_HEADER,
    parse_signature,
    sign,
    verify_signature,
)
from .stripe import stripe_purchase

__all__ = [
    "SIGNATURE_HEADER",
    "STRIPE_SIGNATURE_HEADER",
    "Purchase",
    "Refusal",
    "Result",
    "apply",
    "parse_purchase",
    "parse_signature",
    "receive",
    "sign",
    "stripe_purchase",
    "verify_signature",
]
