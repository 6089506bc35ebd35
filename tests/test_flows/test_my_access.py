"""What a member has access to (``flows/my_access.py``).
Runs with any user model (see tests/test_custom_user_models.py)."""

from __future__ import annotations

import pytest

from tests.factories import make_page
from tests.users import make_user
from wagtail_member_access import api
from wagtail_member_access.flows import (
    my_access,
)

pytestmark = pytest.mark.django_db


def test_member_access_lists_active_upcoming_and_expired_lists(home, clock):
    from datetime import timedelta

    from tests.factories import AccessListFactory

    user = make_user("ana@example.com")
    active, upcoming, expired, revoked = (
        AccessListFactory(name=n) for n in ("Active", "Upcoming", "Expired", "Revoked")
    )
    lesson = make_page(home, title="Lesson", slug="lesson")
    api.protect(lesson, mode="members", access_lists=[active, expired])
    api.grant_access("ana@example.com", active, expires_at=clock.now + timedelta(days=3))
    api.grant_access("ana@example.com", upcoming, starts_at=clock.now + timedelta(days=1))
    api.grant_access("ana@example.com", expired, expires_at=clock.now + timedelta(hours=1))
    api.grant_access("ana@example.com", revoked)
    api.revoke_access("ana@example.com", revoked)
    clock.advance(hours=2)
    result = my_access.member_access(user)
    assert [(e.list_name, e.status) for e in result] == [
        ("Active", "active"),
        ("Upcoming", "upcoming"),
        ("Expired", "expired"),
        ("Revoked", "revoked"),
    ]
    assert result[0].pages == (("Lesson", "/lesson/"),)
    assert result[0].expires_at == clock.now - timedelta(hours=2) + timedelta(days=3)


def test_member_access_of_nobody_is_empty():
    from django.contrib.auth.models import AnonymousUser

    assert my_access.member_access(AnonymousUser()) == []
    assert my_access.member_access(None) == []
