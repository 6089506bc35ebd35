"""The signed purchase webhook and its Stripe Checkout adapter (SECURITY 31): valid events
grant and revoke through the one grant path; every forged, replayed or malformed call is a 4xx
with its exact reason and changes nothing."""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse
from wagtail.models import ModelLogEntry

from tests.factories import AccessListFactory
from wagtail_member_access import api, grants, webhooks
from wagtail_member_access.conf import app_settings
from wagtail_member_access.models import Grant, GrantReference

pytestmark = pytest.mark.django_db

SECRET = "global-webhook-secret-0123456789abcdef"
LIST_SECRET = "course-a-own-secret-0123456789abcdef"
STRIPE_SECRET = "whsec_stripe-endpoint-secret-0123456789"
URL = "/access/webhooks/purchase/"
STRIPE_URL = "/access/webhooks/stripe/"
GRANT = "wagtail_member_access.grant"
REVOKE = "wagtail_member_access.revoke"


@pytest.fixture(autouse=True)
def secret(settings):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_SECRET = SECRET
    settings.WAGTAIL_MEMBER_ACCESS_STRIPE_WEBHOOK_SECRET = STRIPE_SECRET


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


# --- granting ---------------------------------------------------------------------------------


def test_a_signed_purchase_grants_access_for_the_duration(course, clock):
    response = post(purchase())

    grant = Grant.objects.get()
    assert (
        grant.email,
        grant.name,
        grant.access_list,
        grant.source,
        grant.reference,
        grant.starts_at,
        grant.expires_at,
        grant.revoked_at,
    ) == (
        "ana@example.com",
        "Ana Lima",
        course,
        "purchase",
        "order-1001",
        None,
        clock.now + timedelta(days=30),
        None,
    )
    assert response.status_code == 200
    assert response.json() == {
        "status": "granted",
        "created": True,
        "grant": {
            "email": "ana@example.com",
            "list": "course-a",
            "reference": "order-1001",
            "starts_at": None,
            "expires_at": iso(clock.now + timedelta(days=30)),
            "revoked_at": None,
            "active": True,
        },
    }
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_a_webhook_grant_is_in_the_audit_log_as_a_purchase(course, clock):
    post(purchase())
    entry = ModelLogEntry.objects.get(action=GRANT)
    assert entry.object_id == str(Grant.objects.get().pk)
    assert entry.data == {
        "email": "ana@example.com",
        "list": "Course A",
        "list_id": course.pk,
        "expires_at": iso(clock.now + timedelta(days=30)),
        "source": "purchase",
        "reference": "order-1001",
        "created": True,
    }


def test_expires_at_with_an_offset(course, clock):
    response = post(purchase(duration_days=None, expires_at="2099-01-31T23:59:59+01:00"))
    assert response.status_code == 200
    assert Grant.objects.get().expires_at == datetime(2099, 1, 31, 22, 59, 59, tzinfo=UTC)


def test_expires_at_without_an_offset_is_read_in_the_site_time_zone(settings, course, clock):
    settings.TIME_ZONE = "Europe/Berlin"
    response = post(purchase(duration_days=None, expires_at="2099-07-01T12:00:00"))
    assert response.status_code == 200
    assert Grant.objects.get().expires_at == datetime(2099, 7, 1, 10, 0, tzinfo=UTC)


def test_no_expiry_grants_unlimited_access_and_lifts_an_old_expiry(course, clock):
    api.grant_access("ana@example.com", course, expires_at=clock.now - timedelta(days=1))
    response = post(purchase(duration_days=None))
    assert response.status_code == 200
    assert response.json()["created"] is False
    grant = Grant.objects.get()
    assert (grant.expires_at, grant.reference, grant.source, grant.is_active()) == (
        None,
        "order-1001",
        "purchase",
        True,
    )


def test_expires_at_null_is_unlimited(course):
    assert post(purchase(duration_days=None, expires_at=None)).status_code == 200
    assert Grant.objects.get().expires_at is None


@pytest.fixture
def monthly(course):
    course.default_days = 30
    course.save()
    return course


def test_no_period_gives_the_lists_default_period(monthly, clock):
    payload = purchase()
    del payload["duration_days"]
    assert post(payload).json()["grant"]["expires_at"] == iso(clock.now + timedelta(days=30))
    assert Grant.objects.get().expires_at == clock.now + timedelta(days=30)


def test_a_renewal_without_a_period_gets_the_default_period_from_now(monthly, clock):
    """A buyer whose earlier access has ended gets the list's period from the purchase."""
    api.grant_access("ana@example.com", monthly, expires_at=clock.now + timedelta(days=10))
    clock.advance(days=11)
    assert post(purchase(duration_days=None, reference="order-2")).status_code == 200
    grant = Grant.objects.get()
    assert (grant.expires_at, grant.reference) == (clock.now + timedelta(days=30), "order-2")
    assert grant.is_active()


@pytest.mark.parametrize(
    "period",
    [
        {"duration_days": None},
        {"duration_days": 30},
        {"duration_days": None, "expires_at": "2027-01-01T00:00:00Z"},
    ],
    ids=["default period", "duration", "expires_at"],
)
def test_a_shorter_purchase_never_cuts_running_access_short(monthly, clock, period):
    api.grant_access("ana@example.com", monthly, expires_at=clock.now + timedelta(days=400))
    clock.advance(days=1)
    response = post(purchase(reference="order-2", **period))
    assert response.json()["status"] == "granted"
    grant = Grant.objects.get()
    assert (grant.expires_at, grant.reference, grant.source) == (
        clock.now + timedelta(days=399),
        "order-2",
        "purchase",
    )


def test_a_limited_purchase_keeps_unlimited_access_unlimited(course, clock):
    api.grant_access("ana@example.com", course, expires_at=None)
    assert post(purchase(duration_days=30)).json()["status"] == "granted"
    assert Grant.objects.get().expires_at is None


def test_a_longer_purchase_extends_running_access(course, clock):
    post(purchase(duration_days=30))
    clock.advance(days=10)
    post(purchase(reference="order-2", duration_days=365))
    assert Grant.objects.get().expires_at == clock.now + timedelta(days=365)


def test_an_earlier_order_delivered_again_after_a_renewal_changes_nothing(course, clock):
    """Each order grants once, also after a later order has updated the grant."""
    post(purchase(reference="order-1", duration_days=30))
    post(purchase(reference="order-2", duration_days=365))
    before = state()
    response = post(purchase(reference="order-1", duration_days=30))
    assert response.json()["status"] == "already_granted"
    assert response.json()["grant"]["reference"] == "order-2"
    assert state() == before
    assert ModelLogEntry.objects.filter(action=GRANT).count() == 2


def refund(reference):
    return post({"event": "revoke", "list": "course-a", "reference": reference})


def test_a_refund_takes_back_only_that_orders_period(course, clock):
    """A year, then a month: the grant runs for the year. Refunding the year leaves the
    month; refunding the month too ends the access."""
    post(purchase(reference="year", duration_days=365))
    clock.advance(days=1)
    post(purchase(reference="month", duration_days=30))
    grant = Grant.objects.get()
    year_end = grant.expires_at
    assert (grant.reference, year_end) == ("month", clock.now + timedelta(days=364))
    response = refund("year")
    assert (response.status_code, response.json()["status"]) == (200, "shortened")
    grant.refresh_from_db()
    assert (grant.expires_at, grant.is_active()) == (clock.now + timedelta(days=30), True)
    assert response.json()["grant"]["expires_at"] == iso(clock.now + timedelta(days=30))
    entry = ModelLogEntry.objects.filter(action="wagtail_member_access.extend").get()
    assert entry.data["refund"] == "year"
    assert refund("month").json()["status"] == "revoked"
    assert not Grant.objects.get().is_active()
    assert refund("month").json()["status"] == "already_revoked"


def test_refunding_a_shorter_order_the_longer_one_covers_changes_nothing(course, clock):
    post(purchase(reference="year", duration_days=365))
    post(purchase(reference="month", duration_days=30))
    before = Grant.objects.values_list("expires_at", "revoked_at").get()
    response = refund("month")
    assert response.json()["status"] == "unchanged"
    assert Grant.objects.values_list("expires_at", "revoked_at").get() == before
    assert refund("month").json()["status"] == "already_revoked"


def test_refunding_the_order_that_counts_when_the_others_have_ended_ends_the_access(course, clock):
    post(purchase(reference="month", duration_days=30))
    clock.advance(days=40)
    post(purchase(reference="year", duration_days=365))
    assert refund("year").json()["status"] == "revoked"
    assert not Grant.objects.get().is_active()


def test_an_unlimited_order_keeps_the_grant_unlimited_until_it_is_refunded(course, clock):
    post(purchase(reference="lifetime", duration_days=None, expires_at=None))
    post(purchase(reference="month", duration_days=30))
    assert Grant.objects.get().expires_at is None
    assert refund("month").json()["status"] == "unchanged"
    assert refund("lifetime").json()["status"] == "revoked"  # the month was refunded first


def test_a_refund_of_the_unlimited_order_leaves_the_limited_one(course, clock):
    post(purchase(reference="lifetime", duration_days=None, expires_at=None))
    post(purchase(reference="month", duration_days=30))
    assert refund("lifetime").json()["status"] == "shortened"
    assert Grant.objects.get().expires_at == clock.now + timedelta(days=30)


def test_a_purchase_after_a_revocation_by_hand_gets_its_own_period(course, clock):
    # Whether the grant is running is decided under its row lock, in grants.grant.
    post(purchase(reference="year", duration_days=365))
    api.revoke_access("ana@example.com", course)
    post(purchase(reference="month", duration_days=30))
    grant = Grant.objects.get()
    assert (grant.expires_at, grant.is_active()) == (clock.now + timedelta(days=30), True)


def test_a_grant_with_a_reference_but_no_order_row_is_revoked_whole(course):
    Grant.objects.create(
        email="ana@example.com", access_list=course, source="purchase", reference="old-1"
    )
    assert refund("old-1").json()["status"] == "revoked"
    assert refund("old-1").json()["status"] == "already_revoked"


def test_every_reference_is_remembered_with_its_grant(course):
    first, _ = grants.grant("ana@example.com", course, reference="order-1")
    grants.grant("ana@example.com", course, reference="order-2")
    again, created = grants.grant("ana@example.com", course, reference="order-1", name="Changed")
    assert (again.pk, created, again.name, again.reference) == (first.pk, False, "", "order-2")
    assert set(first.references.values_list("reference", flat=True)) == {"order-1", "order-2"}
    assert grants.by_reference(course, "order-1") == grants.by_reference(course, "order-2")
    assert grants.by_reference(course, "") is None
    assert grants.by_reference(AccessListFactory(), "order-1") is None


def test_the_migration_records_the_references_grants_carry(course):
    from django.apps import apps

    record = importlib.import_module(
        "wagtail_member_access.migrations.0003_grant_references"
    ).record_current_references
    with_reference = Grant.objects.create(
        email="ana@example.com",
        access_list=course,
        source="purchase",
        reference="order-7",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    Grant.objects.create(email="bo@example.com", access_list=course, source="api")
    record(apps, None)
    assert list(
        GrantReference.objects.values_list(
            "grant", "access_list", "reference", "expires_at", "revoked_at"
        )
    ) == [(with_reference.pk, course.pk, "order-7", datetime(2030, 1, 1, tzinfo=UTC), None)]


def test_expires_at_null_is_unlimited_even_with_a_default_period(monthly):
    assert post(purchase(duration_days=None, expires_at=None)).status_code == 200
    assert Grant.objects.get().expires_at is None


def test_an_explicit_period_wins_over_the_default(monthly, clock):
    post(purchase(duration_days=365))
    assert Grant.objects.get().expires_at == clock.now + timedelta(days=365)


def test_stripe_without_a_period_gets_the_default_period(monthly, clock):
    stripe_post(stripe_event())
    assert Grant.objects.get().expires_at == clock.now + timedelta(days=30)


def test_a_new_purchase_restores_access_revoked_after_an_earlier_refund(course, clock):
    post(purchase())
    post({"event": "revoke", "list": "course-a", "reference": "order-1001"})
    response = post(purchase(reference="order-2002", duration_days=10))
    assert response.json()["status"] == "granted"
    grant = Grant.objects.get()
    assert (grant.reference, grant.revoked_at, grant.expires_at) == (
        "order-2002",
        None,
        clock.now + timedelta(days=10),
    )


def test_a_numeric_reference_is_accepted_as_text(course):
    assert post(purchase(reference=1001)).status_code == 200
    assert Grant.objects.get().reference == "1001"


def test_unknown_fields_are_ignored(course):
    assert post(purchase(currency="EUR", amount=4900)).status_code == 200


def test_the_endpoint_needs_no_csrf_token(course):
    response = post(purchase(), client=Client(enforce_csrf_checks=True))
    assert response.status_code == 200


def test_notify_sends_the_access_ready_email(
    course, protected_page, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert post(purchase(notify=True)).status_code == 200
    assert [m.to for m in mailoutbox] == [["ana@example.com"]]


def test_no_email_without_notify(
    course, protected_page, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert post(purchase()).status_code == 200
    assert mailoutbox == []


# --- one reference grants once ------------------------------------------------------------------


def test_the_same_reference_grants_once(course, clock):
    first = post(purchase())
    before = state()
    clock.advance(minutes=1)
    again = post(purchase(duration_days=365, name="Someone else"))
    assert again.status_code == 200
    assert again.json() == {"status": "already_granted", "grant": first.json()["grant"]}
    assert state() == before
    assert Grant.objects.count() == 1
    assert ModelLogEntry.objects.filter(action=GRANT).count() == 1


def test_a_replay_within_the_tolerance_changes_nothing(course, clock):
    body = json.dumps(purchase()).encode()
    signature = webhooks.sign(body, SECRET)
    assert post(body=body, signature=signature).json()["status"] == "granted"
    before = state()
    clock.advance(seconds=299)
    assert post(body=body, signature=signature).json()["status"] == "already_granted"
    assert state() == before


def test_a_reference_used_for_another_email_is_a_conflict(course):
    post(purchase())
    before = state()
    response = post(purchase(email="bob@example.com"))
    assert response.status_code == 409
    assert response.json() == {
        "error": "reference_conflict",
        "detail": "The reference 'order-1001' belongs to a grant for another email on this list.",
    }
    assert state() == before


def test_the_same_reference_on_another_list_is_another_grant(course):
    AccessListFactory(name="Course B", slug="course-b")
    assert post(purchase()).json()["status"] == "granted"
    assert post(purchase(list="course-b")).json()["status"] == "granted"
    assert Grant.objects.count() == 2


# --- revoking (refunds, cancellations) ----------------------------------------------------------


def test_a_revoke_event_ends_the_access_of_that_order(course, clock):
    post(purchase())
    clock.advance(hours=1)
    response = post({"event": "revoke", "list": "course-a", "reference": "order-1001"})
    grant = Grant.objects.get()
    assert response.status_code == 200
    assert response.json() == {
        "status": "revoked",
        "grant": {
            "email": "ana@example.com",
            "list": "course-a",
            "reference": "order-1001",
            "starts_at": None,
            "expires_at": iso(clock.now - timedelta(hours=1) + timedelta(days=30)),
            "revoked_at": iso(clock.now),
            "active": False,
        },
    }
    assert grant.revoked_at == clock.now
    entry = ModelLogEntry.objects.get(action=REVOKE)
    assert (entry.object_id, entry.data["source"], entry.data["reference"]) == (
        str(grant.pk),
        "purchase",
        "order-1001",
    )


def test_revoking_twice_says_already_revoked_and_changes_nothing(course):
    post(purchase())
    post({"event": "revoke", "list": "course-a", "reference": "order-1001"})
    before = state()
    response = post({"event": "revoke", "list": "course-a", "reference": "order-1001"})
    assert response.status_code == 200
    assert response.json()["status"] == "already_revoked"
    assert state() == before


def test_a_replayed_purchase_does_not_restore_refunded_access(course):
    post(purchase())
    post({"event": "revoke", "list": "course-a", "reference": "order-1001"})
    before = state()
    response = post(purchase())
    assert response.json()["status"] == "already_granted"
    assert response.json()["grant"]["active"] is False
    assert state() == before


def test_a_revoke_with_the_matching_email_is_accepted(course):
    post(purchase())
    response = post(
        {
            "event": "revoke",
            "list": "course-a",
            "reference": "order-1001",
            "email": "ANA@example.com",
        }
    )
    assert response.json()["status"] == "revoked"


@pytest.mark.parametrize(
    ("payload", "status", "error", "detail"),
    [
        (
            {"reference": "order-9"},
            404,
            "unknown_reference",
            "No grant on this list has the reference 'order-9': nothing to revoke. (If the "
            "purchase is still on its way, retry later.)",
        ),
        (
            {"reference": "order-1001", "email": "bob@example.com"},
            409,
            "reference_conflict",
            "The reference 'order-1001' belongs to a grant for another email on this list.",
        ),
        ({"reference": ""}, 422, "missing_reference", "'reference' is required."),
        (
            {"reference": "order-1001", "list": "nope"},
            404,
            "unknown_list",
            "There is no access list 'nope'.",
        ),
        (
            {"reference": "order-1001", "email": "not-an-email"},
            422,
            "invalid_email",
            "'email' is not a valid email address.",
        ),
    ],
)
def test_refused_revokes_change_nothing(course, payload, status, error, detail):
    post(purchase())
    before = state()
    response = post({"event": "revoke", "list": "course-a"} | payload)
    assert (response.status_code, response.json()) == (status, {"error": error, "detail": detail})
    assert state() == before
    assert Grant.objects.get().is_active()


def test_revoke_reference_returns_none_when_nothing_matches(course):
    grants.grant("ana@example.com", course, reference="order-1")
    assert grants.revoke_reference(course, "") is None
    assert grants.revoke_reference(course, "order-2") is None
    assert grants.revoke_reference(AccessListFactory(), "order-1") is None
    assert Grant.objects.get().revoked_at is None
    assert grants.revoke_reference(course, "order-1").email == "ana@example.com"
    assert grants.revoke_reference(course, "order-1") is None
    assert ModelLogEntry.objects.filter(action=REVOKE).count() == 1


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
BAD_SIGNATURE = (
    'The signature does not match: sign "<timestamp>.<raw body>" with HMAC-SHA256 and the '
    "secret configured for this list, exactly the bytes you send."
)
HEX = "a" * 64


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


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonp"]
)
def test_a_wrong_content_type_is_refused(course, content_type):
    response = post(purchase(), content_type=content_type)
    assert (response.status_code, response.json()) == (
        415,
        {
            "error": "unsupported_media_type",
            "detail": f"Send the body as application/json, not '{content_type}'.",
        },
    )
    assert Grant.objects.count() == 0


def test_json_with_a_charset_is_accepted(course):
    assert post(purchase(), content_type="application/json; charset=utf-8").status_code == 200


def padded(size: int) -> bytes:
    """A valid signed-able purchase body of exactly ``size`` bytes."""
    base = json.dumps(purchase(padding="")).encode()
    body = json.dumps(purchase(padding="x" * (size - len(base)))).encode()
    assert len(body) == size
    return body


def test_a_body_of_exactly_the_limit_is_accepted(course):
    assert post(body=padded(65536)).status_code == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(course):
    response = post(body=padded(65537))
    assert (response.status_code, response.json()) == (
        413,
        {"error": "body_too_large", "detail": "The body is larger than 65536 bytes."},
    )
    assert Grant.objects.count() == 0


def test_a_huge_body_is_refused(course):
    response = post(body=b"{" + b" " * 5_000_000 + b"}")
    assert (response.status_code, response.json()["error"]) == (413, "body_too_large")


@pytest.mark.parametrize("method", ["put", "patch", "delete", "head", "options"])
def test_other_methods_are_not_allowed(course, method):
    response = getattr(Client(), method)(URL)
    assert (response.status_code, response["Allow"]) == (405, "POST")


def test_get_is_not_allowed(course):
    response = Client().get(URL)
    assert (response.status_code, response["Allow"], response.json()) == (
        405,
        "POST",
        {"error": "method_not_allowed", "detail": "Send the webhook with POST."},
    )


# --- secrets ------------------------------------------------------------------------------------


@pytest.fixture
def course_b(db):
    return AccessListFactory(name="Course B", slug="course-b")


def test_a_lists_own_secret_replaces_the_global_one(settings, course, course_b):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_LIST_SECRETS = {"course-a": LIST_SECRET}
    refused = post(purchase(reference="1"), secret=SECRET)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_signature")
    assert post(purchase(reference="2"), secret=LIST_SECRET).status_code == 200
    # Course B has no secret of its own: the global one, and only it.
    assert post(purchase(list="course-b", reference="3"), secret=SECRET).status_code == 200
    other = post(purchase(list="course-b", reference="4"), secret=LIST_SECRET)
    assert (other.status_code, other.json()["error"]) == (401, "invalid_signature")
    assert sorted(Grant.objects.values_list("access_list__slug", "reference")) == [
        ("course-a", "2"),
        ("course-b", "3"),
    ]


@pytest.mark.parametrize("spelling", [" course-a", "course-a ", "\tcourse-a\n"])
def test_padding_the_slug_does_not_sidestep_a_lists_own_secret(settings, course, spelling):
    # The list is looked up by the stripped slug, so the secret must be chosen by it too.
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_LIST_SECRETS = {"course-a": LIST_SECRET}
    refused = post(purchase(list=spelling), secret=SECRET)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_signature")
    assert not Grant.objects.exists()
    assert post(purchase(list=spelling), secret=LIST_SECRET).status_code == 200


def test_only_lists_with_a_secret_are_open_without_a_global_secret(settings, course, course_b):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_SECRET = None
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_LIST_SECRETS = {"course-a": LIST_SECRET}
    assert post(purchase(), secret=LIST_SECRET).status_code == 200
    response = post(purchase(list="course-b"), secret=LIST_SECRET)
    assert (response.status_code, response.json()) == (
        404,
        {
            "error": "webhook_disabled",
            "detail": "The purchase webhook is not enabled for the list 'course-b': set "
            "WAGTAIL_MEMBER_ACCESS_WEBHOOK_SECRET or WAGTAIL_MEMBER_ACCESS_WEBHOOK_LIST_SECRETS.",
        },
    )
    assert Grant.objects.count() == 1


@pytest.mark.parametrize("value", [None, ""])
def test_without_a_secret_the_webhook_is_off(settings, course, value):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_SECRET = value
    response = post(purchase(), secret="anything-at-all-0123456789")
    assert (response.status_code, response.json()) == (
        404,
        {
            "error": "webhook_disabled",
            "detail": "The purchase webhook is off: set WAGTAIL_MEMBER_ACCESS_WEBHOOK_SECRET to "
            "enable it.",
        },
    )
    assert Grant.objects.count() == 0


def test_an_unknown_list_is_only_revealed_to_a_signed_call(course):
    """Unsigned callers cannot probe which lists exist: the signature is checked first."""
    response = post(purchase(list="nope"), secret="guess-guess-guess-guess")
    assert response.json()["error"] == "invalid_signature"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEBHOOK_SECRET", "short"),
        ("WEBHOOK_SECRET", 1234567890123456789),
        ("WEBHOOK_SECRET", []),
        ("WEBHOOK_SECRET", [SECRET, "short"]),
        ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
    ],
)
def test_weak_or_malformed_secrets_are_refused_without_showing_them(settings, name, value):
    setattr(settings, f"WAGTAIL_MEMBER_ACCESS_{name}", value)
    with pytest.raises(ImproperlyConfigured) as error:
        getattr(app_settings, name)
    assert str(error.value) == (
        f"WAGTAIL_MEMBER_ACCESS_{name} must be a string of at least 16 characters (or a list of "
        "such strings while you rotate secrets); generate one with "
        '`python -c "import secrets; print(secrets.token_urlsafe(32))"`.'
    )


def test_a_weak_list_secret_is_refused(settings):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_LIST_SECRETS = {"course-a": "short"}
    with pytest.raises(ImproperlyConfigured, match=r"WEBHOOK_LIST_SECRETS\['course-a'\] must be"):
        app_settings.WEBHOOK_LIST_SECRETS
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_LIST_SECRETS = ["course-a"]
    with pytest.raises(ImproperlyConfigured, match="must be a dict of access-list slug to secret"):
        app_settings.WEBHOOK_LIST_SECRETS


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WEBHOOK_TOLERANCE", 0, "WEBHOOK_TOLERANCE must be positive."),
        ("WEBHOOK_TOLERANCE", "5m", "WEBHOOK_TOLERANCE must be a number of seconds"),
        ("WEBHOOK_MAX_BODY_SIZE", 0, "WEBHOOK_MAX_BODY_SIZE must be a positive number of bytes."),
        (
            "WEBHOOK_MAX_BODY_SIZE",
            "64k",
            "WEBHOOK_MAX_BODY_SIZE must be a positive number of bytes.",
        ),
    ],
)
def test_bad_webhook_settings_say_what_to_set(settings, name, value, message):
    setattr(settings, f"WAGTAIL_MEMBER_ACCESS_{name}", value)
    with pytest.raises(ImproperlyConfigured, match=message):
        getattr(app_settings, name)


def test_webhook_setting_defaults():
    defaults = (
        app_settings.WEBHOOK_TOLERANCE,
        app_settings.WEBHOOK_MAX_BODY_SIZE,
        app_settings.RATE_WEBHOOK_PER_IP,
        app_settings.WEBHOOK_LIST_SECRETS,
    )
    assert defaults == (timedelta(minutes=5), 65536, "30/10m", {})


# --- logs ---------------------------------------------------------------------------------------


def ours(caplog) -> list[tuple[str, str]]:
    """Our log lines (Django's own "Unauthorized: /access/…" lines are left as they are)."""
    return [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "wagtail_member_access"
    ]


def test_refusals_are_logged_with_the_reason_and_a_masked_email_only(course, caplog):
    body = json.dumps(purchase(list="nope")).encode()
    signature = webhooks.sign(body, SECRET)
    bad = json.dumps(purchase(email="bob@example.com")).encode()
    bad_signature = webhooks.sign(bad, "not-the-secret-0123456789")
    with caplog.at_level(logging.DEBUG, logger="wagtail_member_access"):
        post(body=body, signature=signature)
        post(body=bad, signature=bad_signature)
    assert ours(caplog) == [
        (
            "WARNING",
            "Webhook purchase refused from 192.0.2.10: unknown_list (There is no access list "
            "'nope'.) for a**@example.com",
        ),
        (
            "WARNING",
            f"Webhook purchase refused from 192.0.2.10: invalid_signature ({BAD_SIGNATURE}) for "
            "b**@example.com",
        ),
    ]
    for secret_value in (
        SECRET,
        signature,
        signature.split("v1=")[1],
        bad_signature.split("v1=")[1],
    ):
        assert secret_value not in caplog.text
    assert "ana@example.com" not in caplog.text.lower()
    assert "bob@example.com" not in caplog.text


def test_a_forged_email_cannot_write_log_lines(course, caplog):
    with caplog.at_level(logging.WARNING, logger="wagtail_member_access"):
        post(purchase(email="x@example.com\nINFO fake line"), secret="not-the-secret-0123456789")
    assert ours(caplog) == [
        (
            "WARNING",
            "Webhook purchase refused from 192.0.2.10: invalid_signature "
            f"({BAD_SIGNATURE}) for ***",
        )
    ]
    assert "fake line" not in caplog.text


def test_a_grant_is_logged_without_the_email_or_signature(course, caplog):
    body = json.dumps(purchase()).encode()
    signature = webhooks.sign(body, SECRET)
    with caplog.at_level(logging.DEBUG, logger="wagtail_member_access"):
        post(body=body, signature=signature)
    assert ours(caplog) == [
        ("INFO", f"Access granted to a**@example.com on list {course.pk}."),
        ("INFO", "Webhook purchase: granted for reference 'order-1001' on list 'course-a'."),
    ]
    assert signature.split("v1=")[1] not in caplog.text
    assert SECRET not in caplog.text


# --- rate limit ---------------------------------------------------------------------------------


def test_refused_unsigned_calls_are_rate_limited_per_ip(settings, course):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_WEBHOOK_PER_IP = "3/h"
    statuses = [post(purchase(), secret="wrong-secret-0123456789").status_code for _ in range(3)]
    statuses += [post(body=b"junk").status_code]
    # Now even a correctly signed call from that IP waits; another IP does not.
    statuses += [post(purchase()).status_code]
    assert statuses == [401, 401, 401, 429, 429]
    assert post(purchase()).json() == {
        "error": "rate_limited",
        "detail": "Too many refused webhook calls from this address; try again later.",
    }
    assert post(purchase(), ip="192.0.2.99").status_code == 200


def test_the_rate_limit_can_be_switched_off(settings, course):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_WEBHOOK_PER_IP = None
    statuses = {post(purchase(), secret="wrong-secret-0123456789").status_code for _ in range(40)}
    assert statuses == {401}
    assert post(purchase()).status_code == 200


def test_signed_calls_never_count_towards_the_limit(settings, course):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_WEBHOOK_PER_IP = "2/h"
    statuses = [post(purchase(reference=str(i))).status_code for i in range(5)]
    # Refusals of a signed call (the secret's holder made a mistake) do not count either.
    statuses += [post(purchase(list="nope")).status_code for _ in range(3)]
    statuses += [post(purchase(reference="last")).status_code]
    assert statuses == [200] * 5 + [404] * 3 + [200]


# --- Stripe Checkout adapter --------------------------------------------------------------------


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


def test_the_url_names():
    assert reverse("wagtail_member_access:purchase_webhook") == URL
    assert reverse("wagtail_member_access:stripe_webhook") == STRIPE_URL


# --- the recipes in docs/webhooks.md work as printed ------------------------------------------


def recipe(title: str) -> str:
    """The code block with ``title="…"`` in docs/webhooks.md."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "webhooks.md").read_text()
    match = re.search(rf'```\w+ title="{re.escape(title)}"\n(.*?)\n```', text, re.DOTALL)
    assert match, title
    return match.group(1)


@pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("curl")), reason="no openssl")
@pytest.mark.django_db(transaction=True)
def test_the_shell_recipe_grants(live_server, secret):
    AccessListFactory(name="Course A", slug="course-a")
    result = subprocess.run(
        ["bash", "-c", recipe("send-purchase.sh")],
        env={"PATH": os.environ["PATH"], "SECRET": SECRET, "WEBHOOK_URL": live_server.url + URL},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(result.stdout)["status"] == "granted"
    grant = Grant.objects.get()
    assert (grant.email, grant.reference, grant.source) == (
        "ana@example.com",
        "order-1001",
        "purchase",
    )


@pytest.mark.django_db(transaction=True)
def test_the_python_recipe_grants_and_reports_refusals(live_server, secret):
    AccessListFactory(name="Course A", slug="course-a")
    namespace: dict = {}
    exec(recipe("send_purchase.py"), namespace)
    send_purchase = namespace["send_purchase"]
    status, answer = send_purchase(live_server.url + URL, SECRET, purchase())
    assert (status, answer["status"]) == (200, "granted")
    assert send_purchase(live_server.url + URL, SECRET, purchase(list="nope")) == (
        404,
        {"error": "unknown_list", "detail": "There is no access list 'nope'."},
    )
    assert Grant.objects.count() == 1


# --- concurrent deliveries (PostgreSQL) -------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL (DATABASE_URL)",
)
@pytest.mark.parametrize("same_email", [True, False])
def test_one_order_delivered_eight_times_at_once_grants_once(transactional_db, secret, same_email):
    from tests.test_concurrency import run_together

    AccessListFactory(name="Course A", slug="course-a")

    def deliver(i):
        email = "ana@example.com" if same_email else f"buyer{i}@example.com"
        response = post(purchase(email=email))
        return response.status_code, response.json().get("status") or response.json()["error"]

    results = run_together(8, deliver)
    if same_email:
        assert sorted(results) == [(200, "already_granted")] * 7 + [(200, "granted")]
    else:
        assert sorted(results) == [(200, "granted")] + [(409, "reference_conflict")] * 7
    assert Grant.objects.count() == 1
    assert ModelLogEntry.objects.filter(action=GRANT).count() == 1
