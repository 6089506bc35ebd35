"""Member accounts (``accounts.py``): the three staff/bulk entry points (invitation, password
reset, sign-in link), the invitation inside "your access is ready", what a member has access
to, and the tokens' separation from magic links. The pages are tested in
tests/views/test_members.py. Runs with any user model (see tests/test_custom_user_models.py)."""

from __future__ import annotations

import logging
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from wagtail.models import ModelLogEntry, Site

from tests.factories import make_page
from tests.users import PASSWORD, make_user
from wagtail_member_access import accounts, api, log_actions
from wagtail_member_access.models import EmailChallenge, MemberProfile

pytestmark = pytest.mark.django_db

INVITE_RE = r"http://[^/\s]+(/access/invitation/([A-Za-z0-9_-]{43})/)"
RESET_RE = r"http://[^/\s]+(/access/password/reset/([A-Za-z0-9_-]{43})/)"


def find(pattern, message):
    match = re.search(pattern, message.body)
    assert match, message.body
    return match


def entries(user, action):
    return ModelLogEntry.objects.filter(action=action, object_id=str(user.pk))


# --- send_invitation --------------------------------------------------------------------------


def test_invitation_creates_the_account_and_sends_a_single_use_link(mailoutbox, home):
    assert accounts.send_invitation("Ana@Example.com") is True
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
    accounts.send_invitation("ana@example.com")
    assert "https://members.example.org/access/invitation/" in mailoutbox[0].body


def test_a_newer_invitation_cancels_the_older_link(mailoutbox, home):
    accounts.send_invitation("ana@example.com")
    accounts.send_invitation("ana@example.com")
    first, second = EmailChallenge.objects.filter(purpose="invite").order_by("pk")
    assert first.cancel_reason == "replaced"
    assert second.cancelled_at is None


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser", "is_active"])
def test_no_invitation_for_staff_or_inactive_accounts(mailoutbox, home, flag):
    make_user("boss@example.com", **{flag: flag != "is_active"})
    assert accounts.send_invitation("boss@example.com") is False
    assert mailoutbox == []


def test_invitation_refuses_a_malformed_address(home):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        accounts.send_invitation("ana@example.com\nBcc: x@example.com")
    assert not EmailChallenge.objects.exists()


def test_initial_password_works_for_one_sign_in(mailoutbox, home, settings):
    settings.WAGTAIL_MEMBER_ACCESS_INVITATION_INITIAL_PASSWORD = True
    assert accounts.send_invitation("ana@example.com") is True
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
    assert accounts.send_invitation("ana@example.com") is True
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert "initial password" not in mailoutbox[0].body


def test_mail_failure_returns_false_and_keeps_no_initial_password(home, settings, monkeypatch):
    settings.WAGTAIL_MEMBER_ACCESS_INVITATION_INITIAL_PASSWORD = True

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("wagtail_member_access.emails.send_email", broken)
    assert accounts.send_invitation("ana@example.com") is False
    user = get_user_model()._default_manager.get(
        **{get_user_model().get_email_field_name(): "ana@example.com"}
    )
    assert not user.has_usable_password()
    assert not MemberProfile.objects.filter(user=user, must_change_password=True).exists()
    challenge = EmailChallenge.objects.get(purpose="invite")
    assert challenge.cancel_reason == "send_failed" and challenge.send_error
    assert not entries(user, log_actions.INVITE).exists()


# --- send_password_reset / send_sign_in_link -------------------------------------------------


def test_staff_triggered_reset_sends_a_link_without_a_code(mailoutbox, home):
    user = make_user("mia@example.com")
    assert accounts.send_password_reset(user) is True
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
    assert accounts.send_password_reset("ana@example.com") is True
    User = get_user_model()
    assert User._default_manager.filter(**{User.get_email_field_name(): "ana@example.com"})


@pytest.mark.parametrize("who", ["staff", "unknown", "inactive"])
def test_no_reset_or_sign_in_link_for_staff_unknown_or_inactive(mailoutbox, home, who):
    if who == "staff":
        make_user("x@example.com", is_staff=True)
    elif who == "inactive":
        make_user("x@example.com", is_active=False)
    assert accounts.send_password_reset("x@example.com") is False
    assert accounts.send_sign_in_link("x@example.com") is False
    assert mailoutbox == []


def test_sign_in_link_signs_the_member_in_once(mailoutbox, home):
    from tests.views.test_links import confirm

    user = make_user("mia@example.com")
    assert accounts.send_sign_in_link("mia@example.com") is True
    message = mailoutbox[0]
    assert message.subject == "Your sign-in link for localhost"
    assert "within 24 hours" in message.body
    path = re.search(r"http://[^/\s]+(/access/link/[A-Za-z0-9_-]{43}/)", message.body).group(1)
    client = Client()
    assert confirm(client, path).status_code == 303
    assert int(client.session["_auth_user_id"]) == user.pk
    assert Client().get(path).status_code == 410


# --- tokens of one purpose do not work for another -------------------------------------------


def test_invitation_and_reset_tokens_are_not_magic_links(client, mailoutbox, home):
    make_user("mia@example.com", password=None)
    accounts.send_invitation("mia@example.com")
    accounts.send_password_reset("mia@example.com")
    invite_token = find(INVITE_RE, mailoutbox[0]).group(2)
    reset_token = find(RESET_RE, mailoutbox[1]).group(2)
    for token in (invite_token, reset_token):
        assert client.get(f"/access/link/{token}/").status_code == 404
    # … and an invitation token is no reset token, nor the other way round.
    assert client.get(f"/access/password/reset/{invite_token}/").status_code == 404
    assert client.get(f"/access/invitation/{reset_token}/").status_code == 404


def test_magic_link_tokens_do_not_open_the_set_password_page(client, mailoutbox, home):
    make_user("mia@example.com")
    accounts.send_sign_in_link("mia@example.com")
    token = re.search(r"/access/link/([A-Za-z0-9_-]{43})/", mailoutbox[0].body).group(1)
    assert client.get(f"/access/invitation/{token}/").status_code == 404
    assert client.get(f"/access/password/reset/{token}/").status_code == 404


def test_tokens_and_passwords_never_reach_the_logs(client, mailoutbox, home, caplog, settings):
    settings.WAGTAIL_MEMBER_ACCESS_INVITATION_INITIAL_PASSWORD = True
    caplog.set_level(logging.DEBUG)
    accounts.send_invitation("mia@example.com")
    match = find(INVITE_RE, mailoutbox[0])
    password = re.search(r"initial password:\s+(\S+)", mailoutbox[0].body).group(1)
    client.get(match.group(1))
    client.get("/access/invitation/" + "x" * 43 + "/")
    for secret in (match.group(2), password, "mia@example.com"):
        assert secret not in caplog.text


# --- "your access is ready" carries the invitation -------------------------------------------


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


# --- what a member has access to -------------------------------------------------------------


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
    result = accounts.member_access(user)
    assert [(e.list_name, e.status) for e in result] == [
        ("Active", "active"),
        ("Upcoming", "upcoming"),
        ("Expired", "expired"),
    ]
    assert result[0].pages == (("Lesson", "/lesson/"),)
    assert result[0].expires_at == clock.now - timedelta(hours=2) + timedelta(days=3)


def test_member_access_of_nobody_is_empty():
    from django.contrib.auth.models import AnonymousUser

    assert accounts.member_access(AnonymousUser()) == []
    assert accounts.member_access(None) == []


def test_an_account_for_a_long_address_fits_the_user_model(mailoutbox, home):
    # The username of a model with a short required username (30 characters in
    # tests.usernameuser) is derived from the address and must fit.
    email = "a.very.long.local.part.indeed@members.example.org"
    assert accounts.send_invitation(email) is True
    User = get_user_model()
    user = User._default_manager.get(**{User.get_email_field_name(): email})
    username_field = User._meta.get_field(User.USERNAME_FIELD)
    assert len(getattr(user, User.USERNAME_FIELD)) <= (username_field.max_length or 254)


# --- password attempts (SECURITY 23) ----------------------------------------------------------


def test_a_password_attempt_is_counted_before_the_password_is_checked(rf, settings):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_ACCOUNT = "2/h"
    user = make_user("mia@example.com")
    request = rf.post("/", REMOTE_ADDR="10.0.0.1")
    first = accounts.password_attempt(request, "mia@example.com")
    second = accounts.password_attempt(request, user.get_username())
    # Both are still being checked; a third one is refused, whatever it is named.
    assert (first.limited, second.limited) == (False, False)
    assert accounts.password_attempt(request, " MIA@example.com").limited is True
    # A success takes its count back: one more attempt fits again.
    first.succeeded()
    second.succeeded()
    assert accounts.password_attempt(request, "mia@example.com").limited is False


def test_the_change_password_form_counts_against_the_same_account(rf, settings):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_ACCOUNT = "1/h"
    user = make_user("mia@example.com")
    request = rf.post("/", REMOTE_ADDR="10.0.0.1")
    assert accounts.password_attempt(request, user=user).limited is False
    assert accounts.password_attempt(request, "mia@example.com").limited is True


def test_a_cache_that_loses_the_count_refuses(rf, monkeypatch):
    make_user("mia@example.com")
    monkeypatch.setattr(accounts, "_incr", lambda key, timeout: None)
    assert accounts.password_attempt(rf.post("/"), "mia@example.com").limited is True


@pytest.mark.parametrize("value", [0, 101, "100", True, None])
def test_password_max_failures_must_be_one_to_one_hundred(settings, value):
    from django.core.exceptions import ImproperlyConfigured

    from wagtail_member_access.conf import app_settings

    settings.WAGTAIL_MEMBER_ACCESS_PASSWORD_MAX_FAILURES = value
    with pytest.raises(ImproperlyConfigured) as error:
        app_settings.PASSWORD_MAX_FAILURES
    assert str(error.value) == (
        "WAGTAIL_MEMBER_ACCESS_PASSWORD_MAX_FAILURES must be a whole number from 1 to 100 "
        "(NIST SP 800-63B allows at most 100 failed attempts in a row)."
    )


def test_a_malformed_password_rate_is_a_clear_error(rf, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_IP = "thirty per hour"
    with pytest.raises(ImproperlyConfigured) as error:
        accounts.password_attempt(rf.post("/"), "mia@example.com")
    assert str(error.value) == (
        'WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_IP must be a rate such as "10/15m", '
        "not 'thirty per hour'."
    )
