"""Helpers of the webhook tests: a shop's signed POST, a purchase event, a Stripe event, and
everything a call could change (to prove that a refusal changes nothing)."""

from __future__ import annotations

import json
from datetime import datetime

from django.test import Client
from wagtail.models import ModelLogEntry

from wagtail_member_access import webhooks
from wagtail_member_access.models import Grant, GrantReference

SECRET = "global-webhook-secret-0123456789abcdef"
LIST_SECRET = "course-a-own-secret-0123456789abcdef"
STRIPE_SECRET = "whsec_stripe-endpoint-secret-0123456789"
URL = "/access/webhooks/purchase/"
STRIPE_URL = "/access/webhooks/stripe/"
GRANT = "wagtail_member_access.grant"
REVOKE = "wagtail_member_access.revoke"
BAD_SIGNATURE = (
    'The signature does not match: sign "<timestamp>.<raw body>" with HMAC-SHA256 and the '
    "secret configured for this list, exactly the bytes you send."
)
HEX = "a" * 64


def post(
    payload=None,
    *,
    body: bytes | None = None,
    secret: str = SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
    content_type: str = "application/json",
    url: str = URL,
    header: str = webhooks.SIGNATURE_HEADER,
    ip: str = "192.0.2.10",
    client: Client | None = None,
):
    """POST ``payload`` (or raw ``body``) signed with ``secret`` the way a shop does."""
    if body is None:
        body = json.dumps(payload).encode()
    if signature is None:
        signature = webhooks.sign(body, secret, timestamp=timestamp)
    headers = {header: signature} if signature else {}
    return (client or Client()).post(
        url, body, content_type=content_type, headers=headers, REMOTE_ADDR=ip
    )


def purchase(**overrides) -> dict:
    return {
        "email": "Ana@Example.com",
        "name": "Ana Lima",
        "list": "course-a",
        "reference": "order-1001",
        "duration_days": 30,
    } | overrides


def state() -> list[tuple]:
    """Everything a webhook call could change: every grant's fields and the audit log."""
    return [
        *Grant.objects.order_by("pk").values_list(),
        *GrantReference.objects.order_by("pk").values_list(),
        ("log entries", ModelLogEntry.objects.count()),
    ]


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def refund(reference):
    return post({"event": "revoke", "list": "course-a", "reference": reference})


def ours(caplog) -> list[tuple[str, str]]:
    """Our log lines (Django's own "Unauthorized: /access/…" lines are left as they are)."""
    return [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "wagtail_member_access"
    ]


def stripe_event(
    *, type="checkout.session.completed", payment_status="paid", metadata=None, **session
) -> dict:
    return {
        "id": "evt_1Q2w3E4r5T6y",
        "object": "event",
        "type": type,
        "livemode": False,
        "data": {
            "object": {
                "id": "cs_test_a1B2c3D4",
                "object": "checkout.session",
                "mode": "payment",
                "payment_status": payment_status,
                "status": "complete",
                "customer_details": {"email": "Ana@Example.com", "name": "Ana Lima"},
                "metadata": {"list": "course-a"} if metadata is None else metadata,
            }
            | session
        },
    }


def stripe_post(event: dict, **kwargs):
    return post(event, secret=STRIPE_SECRET, url=STRIPE_URL, header="Stripe-Signature", **kwargs)
