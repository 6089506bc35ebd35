"""The generic purchase event (webhooks/purchase.py): every malformed field or body is a 4xx
with its exact reason and changes nothing."""

from __future__ import annotations

import pytest

from tests.test_webhooks.support import (
    post,
    purchase,
    state,
)
from wagtail_member_access.models import Grant

pytestmark = pytest.mark.django_db


# --- refusals: each with its reason, nothing changed --------------------------------------------

REFUSED_PAYLOADS = [
    (purchase(list="nope"), 404, "unknown_list", "There is no access list 'nope'."),
    (purchase(list=None), 422, "missing_list", "'list' is required."),
    (purchase(list=7), 422, "invalid_list", "'list' must be a non-empty string."),
    (purchase(reference=None), 422, "missing_reference", "'reference' is required."),
    (purchase(reference="  "), 422, "invalid_reference", "'reference' must be a non-empty string."),
    (purchase(reference=True), 422, "invalid_reference", "'reference' must be a non-empty string."),
    (
        purchase(reference="x" * 256),
        422,
        "invalid_reference",
        "'reference' must be at most 255 characters, without control characters.",
    ),
    (purchase(email=None), 422, "missing_email", "'email' is required."),
    (purchase(email="ana@"), 422, "invalid_email", "'email' is not a valid email address."),
    (
        purchase(email="ana@example.com\nBcc: x@evil.test"),
        422,
        "invalid_email",
        "'email' is not a valid email address.",
    ),
    (
        purchase(email=["ana@example.com"]),
        422,
        "invalid_email",
        "'email' is not a valid email address.",
    ),
    (purchase(event="refund"), 422, "invalid_event", '\'event\' must be "grant" or "revoke".'),
    (
        purchase(name="Ana\r\nLima"),
        422,
        "invalid_name",
        "'name' must be at most 255 characters, without control characters.",
    ),
    (
        purchase(name="A" * 256),
        422,
        "invalid_name",
        "'name' must be at most 255 characters, without control characters.",
    ),
    (purchase(name=42), 422, "invalid_name", "'name' must be a non-empty string."),
    (
        purchase(duration_days=0),
        422,
        "invalid_duration_days",
        "'duration_days' must be a whole number of days from 1 to 36500; for unlimited access "
        'send "expires_at": null.',
    ),
    (
        purchase(duration_days="30"),
        422,
        "invalid_duration_days",
        "'duration_days' must be a whole number of days from 1 to 36500; for unlimited access "
        'send "expires_at": null.',
    ),
    (
        purchase(duration_days=1.5),
        422,
        "invalid_duration_days",
        "'duration_days' must be a whole number of days from 1 to 36500; for unlimited access "
        'send "expires_at": null.',
    ),
    (
        purchase(duration_days=36501),
        422,
        "invalid_duration_days",
        "'duration_days' must be a whole number of days from 1 to 36500; for unlimited access "
        'send "expires_at": null.',
    ),
    (
        purchase(expires_at="2099-01-01T00:00:00Z"),
        422,
        "expires_at_and_duration",
        "Give either 'expires_at' or 'duration_days', not both.",
    ),
    (
        purchase(duration_days=None, expires_at="2000-01-01T00:00:00Z"),
        422,
        "expires_in_past",
        "'expires_at' '2000-01-01T00:00:00Z' is in the past: the access would already be over.",
    ),
    (
        purchase(duration_days=None, expires_at="2099-01-31"),
        422,
        "invalid_expires_at",
        "'expires_at' '2099-01-31' is a date without a time, which is ambiguous: give a date and "
        "time such as 2026-01-31T23:59:59+01:00.",
    ),
    (
        purchase(duration_days=None, expires_at="31.01.2099 12:00"),
        422,
        "invalid_expires_at",
        "'expires_at' '31.01.2099 12:00' is not an ISO 8601 date and time such as "
        "2026-01-31T23:59:59+01:00.",
    ),
    (
        purchase(duration_days=None, expires_at=4102444800),
        422,
        "invalid_expires_at",
        "'expires_at' must be an ISO 8601 date and time, or null.",
    ),
    (
        purchase(duration_days=None, expires_at="9999-12-31T23:59:59-12:00"),
        422,
        "invalid_expires_at",
        "'expires_at' '9999-12-31T23:59:59-12:00' is more than 36500 days ahead; for unlimited "
        'access send "expires_at": null.',
    ),
    (purchase(notify="yes"), 422, "invalid_notify", "'notify' must be true or false."),
]


@pytest.mark.parametrize(("payload", "status", "error", "detail"), REFUSED_PAYLOADS)
def test_refused_payloads_change_nothing(course, buyer, payload, status, error, detail):
    before = state()
    response = post(payload)
    assert (response.status_code, response.json()) == (status, {"error": error, "detail": detail})
    assert state() == before


def test_expires_at_exactly_now_is_in_the_past(course, clock):
    expires = clock.now.replace(microsecond=0)
    clock.now = expires
    response = post(purchase(duration_days=None, expires_at=expires.isoformat()))
    assert (response.status_code, response.json()["error"]) == (422, "expires_in_past")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b" ", "The body is not valid JSON: Expecting value: line 1 column 2 (char 1)."),
        (
            b"{'email': 1}",
            "The body is not valid JSON: Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1).",
        ),
        (
            b'{"email": }',
            "The body is not valid JSON: Expecting value: line 1 column 11 (char 10).",
        ),
        ('{"name": "Jürgen"}'.encode("latin-1"), "The body is not UTF-8 encoded JSON."),
        (b'{"duration_days": NaN}', "The body is not valid JSON."),
        (b"[" * 30_000 + b"]" * 30_000, "The body is not valid JSON."),  # too deep
    ],
)
def test_malformed_json_is_refused(course, body, detail):
    response = post(body=body)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_json", "detail": detail},
    )
    assert Grant.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"[]", "an array"),
        (b'"grant"', "a string"),
        (b"null", "null"),
        (b"42", "a number"),
        (b"true", "a boolean"),
    ],
)
def test_a_body_that_is_not_an_object_is_refused(course, body, kind):
    response = post(body=body)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "payload_not_object", "detail": f"The body must be a JSON object, not {kind}."},
    )
