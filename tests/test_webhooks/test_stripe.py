"""The Stripe Checkout adapter (webhooks/stripe.py): paid Checkout Sessions grant once, other
events are acknowledged and ignored, and Stripe's own signature scheme is checked."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.test_webhooks.support import (
    HEX,
    SECRET,
    STRIPE_SECRET,
    STRIPE_URL,
    post,
    state,
    stripe_event,
    stripe_post,
)
from wagtail_member_access import webhooks
from wagtail_member_access.models import Grant

pytestmark = pytest.mark.django_db


def test_stripe_checkout_completed_grants_access(course, clock):
    response = stripe_post(stripe_event(metadata={"list": "course-a", "duration_days": "365"}))
    grant = Grant.objects.get()
    assert response.status_code == 200
    assert response.json()["status"] == "granted"
    assert (grant.email, grant.name, grant.source, grant.reference, grant.expires_at) == (
        "ana@example.com",
        "Ana Lima",
        "purchase",
        "cs_test_a1B2c3D4",
        clock.now + timedelta(days=365),
    )


def test_stripe_delivers_twice_and_grants_once(course):
    assert stripe_post(stripe_event()).json()["status"] == "granted"
    before = state()
    assert stripe_post(stripe_event()).json()["status"] == "already_granted"
    assert state() == before


def test_stripe_unlimited_when_no_period_in_metadata_and_no_default(course):
    stripe_post(stripe_event())
    assert Grant.objects.get().expires_at is None


def test_stripe_customer_email_is_the_fallback(course):
    stripe_post(stripe_event(customer_details=None, customer_email="bob@example.com"))
    assert Grant.objects.get().email == "bob@example.com"


def test_stripe_delayed_payment_grants_on_async_payment_succeeded(course):
    first = stripe_post(stripe_event(payment_status="unpaid"))
    assert (first.status_code, first.json()) == (
        200,
        {
            "status": "ignored",
            "detail": "payment_status is 'unpaid': access is granted when the payment succeeds "
            "(checkout.session.async_payment_succeeded).",
        },
    )
    assert Grant.objects.count() == 0
    paid = stripe_post(stripe_event(type="checkout.session.async_payment_succeeded"))
    assert paid.json()["status"] == "granted"


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        (
            stripe_event(type="payment_intent.succeeded"),
            "Event type 'payment_intent.succeeded' is not handled.",
        ),
        (
            stripe_event(metadata={}),
            "The Checkout Session has no metadata 'list': not an access purchase.",
        ),
    ],
)
def test_stripe_events_that_are_not_access_purchases_are_acknowledged(course, event, detail):
    """Stripe retries every non-2xx delivery for days, so these get 200 and change nothing."""
    response = stripe_post(event)
    assert (response.status_code, response.json()) == (200, {"status": "ignored", "detail": detail})
    assert Grant.objects.count() == 0


@pytest.mark.parametrize(
    ("event", "status", "error", "detail"),
    [
        (
            stripe_event(metadata={"list": "nope"}),
            404,
            "unknown_list",
            "There is no access list 'nope'.",
        ),
        (
            stripe_event(customer_details={"email": None}),
            422,
            "missing_email",
            "'email' is required.",
        ),
        (
            stripe_event(metadata={"list": "course-a", "duration_days": "a year"}),
            422,
            "invalid_duration_days",
            "'duration_days' must be a whole number of days from 1 to 36500; for unlimited "
            'access send "expires_at": null.',
        ),
        (
            {"type": "checkout.session.completed", "data": {"object": []}},
            422,
            "invalid_event",
            "data.object must be a Checkout Session with an id.",
        ),
    ],
)
def test_stripe_refusals(course, event, status, error, detail):
    response = stripe_post(event)
    assert (response.status_code, response.json()) == (status, {"error": error, "detail": detail})
    assert Grant.objects.count() == 0


def test_stripe_signature_is_checked_with_the_stripe_secret(course):
    response = post(stripe_event(), secret=SECRET, url=STRIPE_URL, header="Stripe-Signature")
    assert (response.status_code, response.json()["error"]) == (401, "invalid_signature")
    missing = post(stripe_event(), url=STRIPE_URL)  # our header, not Stripe's
    assert missing.json() == {
        "error": "missing_signature",
        "detail": "The Stripe-Signature header is missing.",
    }
    assert Grant.objects.count() == 0


def test_stripe_header_with_v0_and_several_v1_signatures(course, clock):
    """Stripe sends one v1 per active secret while a secret is rolled, plus a v0 in test mode."""
    body = json.dumps(stripe_event()).encode()
    t, v1 = webhooks.sign(body, STRIPE_SECRET).split(",")
    header = f"{t},v1={HEX},{v1},v0={HEX}"
    response = post(body=body, signature=header, url=STRIPE_URL, header="Stripe-Signature")
    assert response.json()["status"] == "granted"


def test_a_replayed_stripe_event_is_refused(course, clock):
    body = json.dumps(stripe_event()).encode()
    signature = webhooks.sign(body, STRIPE_SECRET)
    clock.advance(minutes=6)
    response = post(body=body, signature=signature, url=STRIPE_URL, header="Stripe-Signature")
    assert response.json()["error"] == "timestamp_outside_tolerance"
    assert Grant.objects.count() == 0


def test_stripe_adapter_is_off_without_its_secret(settings, course):
    settings.WAGTAIL_MEMBER_ACCESS_STRIPE_WEBHOOK_SECRET = None
    response = stripe_post(stripe_event())
    assert (response.status_code, response.json()) == (
        404,
        {
            "error": "webhook_disabled",
            "detail": "The stripe webhook is off: set WAGTAIL_MEMBER_ACCESS_STRIPE_WEBHOOK_SECRET "
            "to enable it.",
        },
    )


def test_stripe_signature_matches_stripes_own_scheme():
    """The documented Stripe scheme: HMAC-SHA256 of "<t>.<payload>" keyed with the whole
    ``whsec_…`` string, hex encoded (stripe-python's ``WebhookSignature``)."""
    import hashlib
    import hmac

    payload = b'{"id": "evt_1"}'
    expected = hmac.new(STRIPE_SECRET.encode(), b"1700000000." + payload, hashlib.sha256)
    assert webhooks.sign(payload, STRIPE_SECRET, timestamp=1700000000) == (
        f"t=1700000000,v1={expected.hexdigest()}"
    )
