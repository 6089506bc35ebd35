"""Fixtures of the webhook tests: the webhook secrets set, and lists with a default period
or a second list."""

from __future__ import annotations

import pytest

from tests.factories import AccessListFactory
from tests.test_webhooks.support import SECRET, STRIPE_SECRET


@pytest.fixture(autouse=True)
def secret(settings):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_SECRET = SECRET
    settings.WAGTAIL_MEMBER_ACCESS_STRIPE_WEBHOOK_SECRET = STRIPE_SECRET


@pytest.fixture
def monthly(course):
    course.default_days = 30
    course.save()
    return course


@pytest.fixture
def course_b(db):
    return AccessListFactory(name="Course B", slug="course-b")
