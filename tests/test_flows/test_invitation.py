"""Invitations (``flows/invitation.py``): the set-your-password link, the optional initial
password, and what happens when the mail server fails.
Runs with any user model (see tests/test_custom_user_models.py)."""

from __future__ import annotations

import logging
import re

import pytest
from django.contrib.auth import get_user_model
from wagtail.models import Site

from tests.test_flows.helpers import INVITE_RE, entries, find
from tests.users import PASSWORD, make_user
from wagtail_member_access import log_actions
from wagtail_member_access.flows import (
    invitation,
)
from wagtail_member_access.models import EmailChallenge, MemberProfile

pytestmark = pytest.mark.django_db


def test_invitation_creates_the_account_and_sends_a_single_use_link(mailoutbox, home):
    assert invitation.send_invitation("Ana@Example.com") is True
    user = get_user_model()._default_manager.get(
        **{f"{get_user_model().get_email_field_name()}": "ana@example.com"}
    )
    assert not user.has_usable_password()
    assert MemberProfile.objects.get(user=user).invited_at is not None
    message = mailoutbox[0]
    assert message.to == ["ana@example.com"]
    assert message.subject == "Your invitation to localhost"
    assert "within 7 days" in message.body
    assert "initial password" not in message.body  # off by default
    find(INVITE_RE, message)
    challenge = EmailChallenge.objects.get(purpose="invite")
    assert challenge.link_hash and not challenge.code_hash
    (entry,) = entries(user, log_actions.INVITE)
    assert entry.data == {"email": "a**@example.com"}


def test_invitation_link_comes_from_the_site_address_not_the_host_header(mailoutbox, home):
    Site.objects.filter(is_default_site=True).update(hostname="members.example.org", port=443)
    invitation.send_invitation("ana@example.com")
    assert "https://members.example.org/access/invitation/" in mailoutbox[0].body


def test_a_newer_invitation_cancels_the_older_link(mailoutbox, home):
    invitation.send_invitation("ana@example.com")
    invitation.send_invitation("ana@example.com")
    first, second = EmailChallenge.objects.filter(purpose="invite").order_by("pk")
    assert first.cancel_reason == "replaced"
    assert second.cancelled_at is None


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser", "is_active"])
def test_no_invitation_for_staff_or_inactive_accounts(mailoutbox, home, flag):
    make_user("boss@example.com", **{flag: flag != "is_active"})
    assert invitation.send_invitation("boss@example.com") is False
    assert mailoutbox == []


def test_invitation_refuses_a_malformed_address(home):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        invitation.send_invitation("ana@example.com\nBcc: x@example.com")
    assert not EmailChallenge.objects.exists()


def test_initial_password_works_for_one_sign_in(mailoutbox, home, settings):
    settings.WAGTAIL_MEMBER_ACCESS_INVITATION_INITIAL_PASSWORD = True
    assert invitation.send_invitation("ana@example.com") is True
    body = mailoutbox[0].body
    password = re.search(r"initial password:\s+([a-z0-9]{12})\s", body).group(1)
    assert not set(password) & set("01ilo")
    user = get_user_model()._default_manager.get(
        **{get_user_model().get_email_field_name(): "ana@example.com"}
    )
    assert user.check_password(password)
    assert MemberProfile.objects.get(user=user).must_change_password


def test_initial_password_never_replaces_an_own_password(mailoutbox, home, settings):
    settings.WAGTAIL_MEMBER_ACCESS_INVITATION_INITIAL_PASSWORD = True
    user = make_user("ana@example.com")
    assert invitation.send_invitation("ana@example.com") is True
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert "initial password" not in mailoutbox[0].body


def test_mail_failure_returns_false_and_keeps_no_initial_password(home, settings, monkeypatch):
    settings.WAGTAIL_MEMBER_ACCESS_INVITATION_INITIAL_PASSWORD = True

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("wagtail_member_access.emails.send_email", broken)
    assert invitation.send_invitation("ana@example.com") is False
    user = get_user_model()._default_manager.get(
        **{get_user_model().get_email_field_name(): "ana@example.com"}
    )
    assert not user.has_usable_password()
    assert not MemberProfile.objects.filter(user=user, must_change_password=True).exists()
    challenge = EmailChallenge.objects.get(purpose="invite")
    assert challenge.cancel_reason == "send_failed" and challenge.send_error
    assert not entries(user, log_actions.INVITE).exists()


def test_an_account_for_a_long_address_fits_the_user_model(mailoutbox, home):
    # The username of a model with a short required username (30 characters in
    # tests.usernameuser) is derived from the address and must fit.
    email = "a.very.long.local.part.indeed@members.example.org"
    assert invitation.send_invitation(email) is True
    User = get_user_model()
    user = User._default_manager.get(**{User.get_email_field_name(): email})
    username_field = User._meta.get_field(User.USERNAME_FIELD)
    assert len(getattr(user, User.USERNAME_FIELD)) <= (username_field.max_length or 254)


def test_tokens_and_passwords_never_reach_the_logs(client, mailoutbox, home, caplog, settings):
    settings.WAGTAIL_MEMBER_ACCESS_INVITATION_INITIAL_PASSWORD = True
    caplog.set_level(logging.DEBUG)
    invitation.send_invitation("mia@example.com")
    match = find(INVITE_RE, mailoutbox[0])
    password = re.search(r"initial password:\s+(\S+)", mailoutbox[0].body).group(1)
    client.get(match.group(1))
    client.get("/access/invitation/" + "x" * 43 + "/")
    for secret in (match.group(2), password, "mia@example.com"):
        assert secret not in caplog.text
