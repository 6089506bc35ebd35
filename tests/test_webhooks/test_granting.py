"""Applying a purchase to the grants (webhooks/granting.py): the period a purchase gives, one
reference grants once, and a revoke refunds that order's period only; valid events grant and
revoke through the one grant path (docs/security.md#webhook-signature)."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from wagtail.models import ModelLogEntry

from tests.factories import AccessListFactory
from tests.test_webhooks.support import (
    GRANT,
    REVOKE,
    SECRET,
    iso,
    post,
    purchase,
    refund,
    state,
    stripe_event,
    stripe_post,
)
from wagtail_member_access import api, grants, webhooks
from wagtail_member_access.models import Grant, GrantReference

pytestmark = pytest.mark.django_db


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
