"""The Stripe Checkout adapter: ``checkout.session.completed`` (and
``…async_payment_succeeded``) mapped onto the generic purchase event."""

from __future__ import annotations

from dataclasses import replace

from .purchase import Purchase, parse_purchase
from .results import Result, invalid, show

__all__ = ["STRIPE_EVENTS", "STRIPE_PAID", "stripe_purchase"]

#: Checkout events that mean "paid": the second one arrives for delayed payment methods
#: (SEPA debit, Sofort …) whose ``checkout.session.completed`` came with ``"unpaid"``.
STRIPE_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
STRIPE_PAID = ("paid", "no_payment_required")


def stripe_purchase(event: dict) -> Purchase | Result:
    """Map a Stripe ``checkout.session.completed`` (or ``…async_payment_succeeded``) event to
    a purchase: ``customer_details.email``/``name``, ``metadata.list`` (and optional
    ``metadata.duration_days``, ``metadata.expires_at``, ``metadata.notify``), the session id
    as the reference.

    Returns a 200 ``ignored`` :class:`Result` for what is not an access purchase (another event
    type, a session without ``metadata.list``, a payment not received yet), because Stripe
    retries every non-2xx delivery for days. Raises :class:`Refusal` for a malformed event.
    """
    event_type = event.get("type")
    if event_type not in STRIPE_EVENTS:
        return _ignored(f"Event type {show(event_type)} is not handled.")
    data = event.get("data")
    session = data.get("object") if isinstance(data, dict) else None
    if not isinstance(session, dict) or not isinstance(session.get("id"), str):
        raise invalid("invalid_event", "data.object must be a Checkout Session with an id.")
    metadata = session.get("metadata") or {}
    if not isinstance(metadata, dict) or not metadata.get("list"):
        return _ignored("The Checkout Session has no metadata 'list': not an access purchase.")
    payment_status = session.get("payment_status")
    if payment_status not in STRIPE_PAID:
        return _ignored(
            f"payment_status is {show(payment_status)}: access is granted when the payment "
            "succeeds (checkout.session.async_payment_succeeded)."
        )
    details = session.get("customer_details") or {}
    if not isinstance(details, dict):
        details = {}
    data = {
        "event": "grant",
        "list": metadata.get("list"),
        "reference": session["id"],
        "email": details.get("email") or session.get("customer_email"),
        "name": details.get("name"),
        "notify": str(metadata.get("notify", "")).lower() in ("1", "true", "yes"),
    }
    # Stripe metadata values are strings.
    duration = metadata.get("duration_days")
    if duration not in (None, ""):
        data["duration_days"] = (
            int(duration) if isinstance(duration, str) and duration.isdigit() else duration
        )
    if metadata.get("expires_at"):
        data["expires_at"] = metadata["expires_at"]
    return replace(parse_purchase(data), extra_log={"stripe_event": event.get("id")})


def _ignored(detail: str) -> Result:
    return Result(200, {"status": "ignored", "detail": detail})
