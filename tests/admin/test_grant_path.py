"""What the admin added to the one grant path (grants.py): the list's default access period,
the reminder reset on a new expiry, and the selection functions' refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.factories import AccessListFactory, GrantFactory
from wagtail_member_access import api, grants
from wagtail_member_access.models import Grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def yearly(db):
    return AccessListFactory(default_days=365)


def test_new_grant_without_expiry_gets_the_default_period(yearly, clock):
    obj, _ = grants.grant("ana@example.com", yearly)
    assert obj.expires_at == clock.now + timedelta(days=365)
    start = clock.now + timedelta(days=10)
    obj, _ = grants.grant("bea@example.com", yearly, starts_at=start)
    assert obj.expires_at == start + timedelta(days=365)


def test_existing_grant_keeps_its_expiry_when_none_is_given(yearly, clock):
    GrantFactory(access_list=yearly, email="ana@example.com", expires_at=clock.now)
    obj, created = grants.grant("ana@example.com", yearly, name="Ana")
    assert not created and obj.expires_at == clock.now


def test_explicit_none_is_unlimited_also_in_the_api(yearly):
    assert grants.grant("ana@example.com", yearly, expires_at=None)[0].expires_at is None
    assert api.grant_access("bea@example.com", yearly, expires_at=None).expires_at is None


def test_api_without_expiry_gives_the_default_period_to_every_grant(yearly, course, clock):
    GrantFactory(access_list=yearly, email="ana@example.com", expires_at=None)
    assert api.grant_access("ana@example.com", yearly).expires_at == clock.now + timedelta(days=365)
    # A list without a default period: unlimited, as documented before default_days.
    assert api.grant_access("ana@example.com", course).expires_at is None


def test_expiry_before_an_existing_start_is_refused_and_changes_nothing(course, clock):
    obj = GrantFactory(
        access_list=course, email="ana@example.com", starts_at=clock.now + timedelta(days=5)
    )
    with pytest.raises(ValidationError) as error:
        grants.grant("ana@example.com", course, name="New", expires_at=clock.now)
    assert error.value.code == "expires_before"
    obj.refresh_from_db()
    assert obj.name == "Buyer" and obj.expires_at is None


def test_a_new_expiry_resets_reminder_and_record_an_unchanged_one_does_not(course, clock):
    end = clock.now + timedelta(days=3)
    obj = GrantFactory(
        access_list=course,
        email="ana@example.com",
        expires_at=end,
        reminder_sent_at=clock.now,
        expiry_recorded_at=clock.now,
    )
    grants.grant("ana@example.com", course, expires_at=end, name="Same end")
    obj.refresh_from_db()
    assert obj.reminder_sent_at == clock.now and obj.expiry_recorded_at == clock.now
    grants.grant("ana@example.com", course, expires_at=end + timedelta(days=1))
    obj.refresh_from_db()
    assert obj.reminder_sent_at is None and obj.expiry_recorded_at is None


def test_starts_at_none_clears_unset_keeps(course, clock):
    start = clock.now + timedelta(days=1)
    GrantFactory(access_list=course, email="ana@example.com", starts_at=start)
    assert grants.grant("ana@example.com", course)[0].starts_at == start
    assert api.grant_access("ana@example.com", course).starts_at == start
    assert grants.grant("ana@example.com", course, starts_at=None)[0].starts_at is None


def test_extend_refuses_bad_arguments(course):
    qs = Grant.objects.filter(access_list=course)
    with pytest.raises(ValueError):
        grants.extend(qs)
    with pytest.raises(ValueError):
        grants.extend(qs, days=1, until=timezone.now())
    for days in (0, -1, True, 1.5):
        with pytest.raises(ValidationError):
            grants.extend(qs, days=days)
