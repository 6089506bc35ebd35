"""Password resets sent by staff and the bulk sender (``flows/password_reset.py``); the
forgotten-password pages are tested in tests/views/test_members.py.
Runs with any user model (see tests/test_custom_user_models.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.test_flows.helpers import INVITE_RE, RESET_RE, entries, find
from tests.users import PASSWORD, make_user
from wagtail_member_access import log_actions
from wagtail_member_access.flows import (
    email_proof,
    invitation,
    password_reset,
)

pytestmark = pytest.mark.django_db


def test_staff_triggered_reset_sends_a_link_without_a_code(mailoutbox, home):
    user = make_user("mia@example.com")
    assert password_reset.send_password_reset(user) is True
    message = mailoutbox[0]
    assert message.subject == "Choose a new password for localhost"
    find(RESET_RE, message)
    assert "Or enter this code" not in message.body  # no browser waits for a code
    assert "within 24 hours" in message.body
    (entry,) = entries(user, log_actions.RESET_SENT)
    assert entry.data == {"email": "m**@example.com"}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)  # works until the new one is set


def test_reset_for_an_email_with_a_grant_but_no_account_creates_it(mailoutbox, buyer):
    assert password_reset.send_password_reset("ana@example.com") is True
    User = get_user_model()
    assert User._default_manager.filter(**{User.get_email_field_name(): "ana@example.com"})


@pytest.mark.parametrize("who", ["staff", "unknown", "inactive"])
def test_no_reset_or_sign_in_link_for_staff_unknown_or_inactive(mailoutbox, home, who):
    if who == "staff":
        make_user("x@example.com", is_staff=True)
    elif who == "inactive":
        make_user("x@example.com", is_active=False)
    assert password_reset.send_password_reset("x@example.com") is False
    assert email_proof.send_sign_in_link("x@example.com") is False
    assert mailoutbox == []


def test_invitation_and_reset_tokens_are_not_magic_links(client, mailoutbox, home):
    make_user("mia@example.com", password=None)
    invitation.send_invitation("mia@example.com")
    password_reset.send_password_reset("mia@example.com")
    invite_token = find(INVITE_RE, mailoutbox[0]).group(2)
    reset_token = find(RESET_RE, mailoutbox[1]).group(2)
    for token in (invite_token, reset_token):
        assert client.get(f"/access/link/{token}/").status_code == 404
    # … and an invitation token is no reset token, nor the other way round.
    assert client.get(f"/access/password/reset/{invite_token}/").status_code == 404
    assert client.get(f"/access/invitation/{reset_token}/").status_code == 404
