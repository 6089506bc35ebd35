"""The signature and its timestamp (webhooks/signatures.py): forged, replayed or malformed
signatures are refused with their exact reason and change nothing
(docs/security.md#webhook-signature)."""

from __future__ import annotations

import json

import pytest

from tests.test_webhooks.support import (
    BAD_SIGNATURE,
    HEX,
    SECRET,
    post,
    purchase,
    state,
)
from wagtail_member_access import webhooks
from wagtail_member_access.models import Grant

pytestmark = pytest.mark.django_db


TOLERANCE = (
    "at most 300 seconds either way are accepted. Sign each delivery when you send it, with a "
    "correct clock."
)


def test_a_signed_body_replayed_after_five_minutes_is_refused(course, clock):
    body = json.dumps(purchase()).encode()
    signature = webhooks.sign(body, SECRET)
    clock.advance(seconds=301)
    response = post(body=body, signature=signature)
    assert response.status_code == 401
    assert response.json() == {
        "error": "timestamp_outside_tolerance",
        "detail": f"The signature's timestamp is 301 seconds old; {TOLERANCE}",
    }
    assert Grant.objects.count() == 0


def test_a_signature_exactly_five_minutes_old_is_accepted(course, clock):
    body = json.dumps(purchase()).encode()
    signature = webhooks.sign(body, SECRET)
    clock.advance(seconds=300)
    assert post(body=body, signature=signature).status_code == 200


def test_a_revoke_replayed_after_a_re_purchase_is_refused(course, clock):
    """The case the timestamp exists for: an old refund replayed must not end new access."""
    post(purchase())
    revoke = json.dumps({"event": "revoke", "list": "course-a", "reference": "order-1001"}).encode()
    signature = webhooks.sign(revoke, SECRET)
    assert post(body=revoke, signature=signature).json()["status"] == "revoked"
    clock.advance(minutes=10)
    post(purchase(reference="order-1001-renewal"))
    before = state()
    response = post(body=revoke, signature=signature)
    assert response.json()["error"] == "timestamp_outside_tolerance"
    assert state() == before


@pytest.mark.parametrize(("offset", "status"), [(300, 200), (301, 401)])
def test_future_timestamps_beyond_the_tolerance_are_refused(course, clock, offset, status):
    response = post(purchase(), timestamp=int(clock.now.timestamp()) + offset)
    assert response.status_code == status
    if status == 401:
        assert response.json() == {
            "error": "timestamp_outside_tolerance",
            "detail": f"The signature's timestamp is 301 seconds in the future; {TOLERANCE}",
        }
        assert Grant.objects.count() == 0


def test_the_tolerance_is_a_setting(settings, course, clock):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_TOLERANCE = 60
    body = json.dumps(purchase()).encode()
    signature = webhooks.sign(body, SECRET)
    clock.advance(seconds=61)
    assert (
        post(body=body, signature=signature)
        .json()["detail"]
        .startswith("The signature's timestamp is 61 seconds old; at most 60 seconds")
    )


MALFORMED = (
    "The X-Member-Access-Signature header must be t=<unix timestamp>,v1=<64 hex digits of the "
    'HMAC-SHA256 of "<timestamp>.<body>">.'
)


@pytest.mark.parametrize(
    ("signature", "status", "error", "detail"),
    [
        ("", 400, "missing_signature", "The X-Member-Access-Signature header is missing."),
        ("sha256=" + HEX, 400, "malformed_signature", MALFORMED),
        ("t=now,v1=" + HEX, 400, "malformed_signature", MALFORMED),
        ("t=1700000000", 400, "malformed_signature", MALFORMED),
        ("v1=" + HEX, 400, "malformed_signature", MALFORMED),
        ("t=1700000000,v1=xyz", 400, "malformed_signature", MALFORMED),
        ("t=1700000000,v1=" + "a" * 63, 400, "malformed_signature", MALFORMED),
        ("t=1700000000,v0=" + HEX, 400, "malformed_signature", MALFORMED),
        (
            "t=1700000000,v1=" + ",v1=".join([HEX] * 20),
            400,
            "malformed_signature",
            "The X-Member-Access-Signature header is too long.",
        ),
    ],
)
def test_missing_or_malformed_signature_headers(course, signature, status, error, detail):
    before = state()
    response = post(purchase(), signature=signature or "")
    assert (response.status_code, response.json()) == (status, {"error": error, "detail": detail})
    assert state() == before


def test_a_wrong_secret_is_refused(course):
    response = post(purchase(), secret="some-other-secret-0123456789")
    assert (response.status_code, response.json()) == (
        401,
        {"error": "invalid_signature", "detail": BAD_SIGNATURE},
    )
    assert Grant.objects.count() == 0


def test_a_body_changed_after_signing_is_refused(course, clock):
    signed = json.dumps(purchase()).encode()
    signature = webhooks.sign(signed, SECRET)
    forged = json.dumps(purchase(duration_days=3650)).encode()
    response = post(body=forged, signature=signature)
    assert (response.status_code, response.json()["error"]) == (401, "invalid_signature")
    assert Grant.objects.count() == 0


def test_a_signature_with_a_changed_timestamp_is_refused(course, clock):
    body = json.dumps(purchase()).encode()
    t = int(clock.now.timestamp())
    digest = webhooks.sign(body, SECRET, timestamp=t - 100).split("v1=")[1]
    response = post(body=body, signature=f"t={t},v1={digest}")
    assert (response.status_code, response.json()["error"]) == (401, "invalid_signature")


def test_any_one_matching_v1_signature_is_enough(course, clock):
    body = json.dumps(purchase()).encode()
    good = webhooks.sign(body, SECRET)
    t, digest = good.split(",v1=")
    signature = f"{t},v1={HEX},v1={digest.upper()},v0=ignored"
    assert post(body=body, signature=signature).status_code == 200


def test_rotating_secrets_accepts_each(settings, course):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_SECRET = [SECRET, "the-new-secret-0123456789abcdef"]
    assert post(purchase(reference="1")).status_code == 200
    assert (
        post(purchase(reference="2"), secret="the-new-secret-0123456789abcdef").status_code == 200
    )
