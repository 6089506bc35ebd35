"""The "your access is ready" email (``flows/access_ready.py``) and the invitation it carries.
Runs with any user model (see tests/test_custom_user_models.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.factories import make_page
from tests.test_flows.helpers import INVITE_RE, entries, find
from tests.users import make_user
from wagtail_member_access import api, log_actions
from wagtail_member_access.models import EmailChallenge

pytestmark = pytest.mark.django_db


def test_access_ready_email_invites_members_without_a_password(
    course, mailoutbox, home, django_capture_on_commit_callbacks
):
    page = make_page(home, title="Lesson", slug="lesson")
    api.protect(page, mode="members", access_lists=[course])
    with django_capture_on_commit_callbacks(execute=True):
        api.grant_access("ana@example.com", course, notify=True)
    (message,) = mailoutbox
    assert message.subject == "Your access to Course A is ready"
    assert "You can also choose a password for ana@example.com" in message.body
    find(INVITE_RE, message)
    user = get_user_model()._default_manager.get(
        **{get_user_model().get_email_field_name(): "ana@example.com"}
    )
    assert entries(user, log_actions.INVITE).count() == 1


def test_access_ready_email_does_not_invite_members_with_a_password(
    course, mailoutbox, home, django_capture_on_commit_callbacks
):
    make_user("ana@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        api.grant_access("ana@example.com", course, notify=True)
    (message,) = mailoutbox
    assert "choose a password" not in message.body
    assert not EmailChallenge.objects.filter(purpose="invite").exists()
