"""One identity: email normalisation, masking, who is privileged, and the member account a
proven email signs in as (the default ``auth.User``; see the note at the end)."""

from __future__ import annotations

import logging
import re

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.test import RequestFactory

from tests.factories import UserFactory
from wagtail_member_access import members
from wagtail_member_access.members import (
    NotAllowed,
    get_or_create_member,
    is_privileged,
    mask_email,
    normalize_email,
    sign_in_member,
)

User = get_user_model()


# --- normalize_email -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ana@example.com", "ana@example.com"),
        ("  Ana@Example.COM\t", "ana@example.com"),
        ("ANA.LIMA+course@Sub.Example.org", "ana.lima+course@sub.example.org"),
    ],
)
def test_normalize_email_strips_and_lowercases(value, expected):
    assert normalize_email(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        "",
        "not-an-email",
        "ana@example.com\nBcc: x@evil.com",
        "ana\r@example.com",
        "ana@exa\x00mple.com",
        "ana@example.com, ben@example.com",
        "ana@example.com; ben@example.com",
        "Ana <ana@example.com>",
        "a" * 243 + "@example.com",  # 255 characters
    ],
)
def test_normalize_email_refuses_anything_but_one_plain_address(value):
    with pytest.raises(ValidationError) as excinfo:
        normalize_email(value)
    assert excinfo.value.messages == ["Enter a valid email address."]


def test_normalize_email_accepts_254_characters():
    local = "a" * 64
    email = f"{local}@{'b' * 63}.{'c' * 63}.{'d' * 57}.com"
    assert len(email) == 254
    assert normalize_email(email) == email


def test_normalize_email_keeps_unicode_lookalikes_distinct():
    assert normalize_email("m\u0131ke@example.org") != normalize_email("mike@example.org")


# --- mask_email ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("ana@example.com", "a**@example.com"),
        ("a@example.com", "a**@example.com"),
        ("anabel@example.com", "a*****@example.com"),
        ("not-an-email", "***"),
        ("", "***"),
        (None, "***"),
    ],
)
def test_mask_email(email, masked):
    assert mask_email(email) == masked


# --- is_privileged -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("flags", "privileged"),
    [({}, False), ({"is_staff": True}, True), ({"is_superuser": True}, True)],
)
def test_staff_and_superusers_are_privileged(flags, privileged):
    assert is_privileged(UserFactory(username="u", **flags)) is privileged


@pytest.mark.django_db
def test_admin_access_through_a_group_is_privileged():
    group = Group.objects.create(name="Lesson editors")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    user = UserFactory(username="editor")
    assert is_privileged(user) is False
    user.groups.add(group)
    user = User.objects.get(pk=user.pk)  # a fresh object: permissions are cached per object
    assert is_privileged(user) is True


@pytest.mark.django_db
def test_admin_access_given_directly_is_privileged():
    user = UserFactory(username="editor")
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    assert is_privileged(User.objects.get(pk=user.pk)) is True


def test_anonymous_is_not_privileged():
    assert is_privileged(AnonymousUser()) is False


# --- get_or_create_member ------------------------------------------------------------------------


@pytest.mark.django_db
def test_first_proof_creates_a_member_with_an_unusable_password():
    user = get_or_create_member("ana@example.com")
    user.refresh_from_db()
    assert (user.username, user.email) == ("ana@example.com", "ana@example.com")
    assert not user.has_usable_password()
    assert (user.is_active, user.is_staff, user.is_superuser) == (True, False, False)
    assert list(user.groups.all()) == []
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_existing_member_is_found_case_insensitively():
    existing = UserFactory(username="ana", email="Ana@Example.com")
    assert get_or_create_member("ana@example.com") == existing
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_taken_username_gets_a_random_suffix():
    UserFactory(username="ana@example.com", email="someone.else@example.com")
    user = get_or_create_member("ana@example.com")
    assert re.fullmatch(r"ana@example\.com-[a-z0-9]{6}", user.username)
    assert user.email == "ana@example.com"


@pytest.mark.django_db
def test_username_is_cut_to_the_field_length():
    email = "a" * 140 + "@example.com"  # 152 characters; User.username holds 150
    user = get_or_create_member(email)
    assert user.username == email[:150]
    assert user.email == email


@pytest.mark.django_db
def test_cut_username_that_is_taken_keeps_the_suffix_within_the_length():
    email = "a" * 140 + "@example.com"
    UserFactory(username=email[:150], email="other@example.com")
    user = get_or_create_member(email)
    assert len(user.username) == 150
    assert re.fullmatch(re.escape(email[:143]) + r"-[a-z0-9]{6}", user.username)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "flags",
    [{"is_active": False}, {"is_staff": True}, {"is_superuser": True}],
)
def test_inactive_and_privileged_accounts_are_refused(flags):
    UserFactory(username="ana", email="ana@example.com", **flags)
    with pytest.raises(NotAllowed, match="^privileged or inactive$"):
        get_or_create_member("ana@example.com")


@pytest.mark.django_db
def test_admin_users_are_refused():
    user = UserFactory(username="ana", email="ana@example.com")
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    with pytest.raises(NotAllowed, match="^privileged or inactive$"):
        get_or_create_member("ana@example.com")


@pytest.mark.django_db
def test_two_accounts_with_the_same_email_are_refused(caplog):
    UserFactory(username="ana1", email="ana@example.com")
    UserFactory(username="ana2", email="ANA@example.com")
    with (
        caplog.at_level(logging.WARNING, logger="wagtail_member_access"),
        pytest.raises(NotAllowed, match="^ambiguous$"),
    ):
        get_or_create_member("ana@example.com")
    assert caplog.messages == [
        "Several accounts share a**@example.com; none is signed in by email."
    ]
    assert User.objects.count() == 2


@pytest.mark.django_db
def test_concurrent_creation_returns_the_account_the_other_request_made(monkeypatch):
    """Another request created the account between our lookup and our insert: the insert
    fails with IntegrityError and we sign in as the account it made."""
    other = UserFactory(username="ana@example.com", email="ana@example.com")
    real_find = members.find_member
    lookups = []

    def find_member(email):
        lookups.append(email)
        return None if len(lookups) == 1 else real_find(email)

    def create_member(email):
        raise IntegrityError("UNIQUE constraint failed: auth_user.username")

    monkeypatch.setattr(members, "find_member", find_member)
    monkeypatch.setattr(members, "_create_member", create_member)
    assert get_or_create_member("ana@example.com") == other
    assert lookups == ["ana@example.com", "ana@example.com"]


@pytest.mark.django_db
def test_integrity_error_without_an_account_is_raised(monkeypatch):
    def create_member(email):
        raise IntegrityError("something else")

    monkeypatch.setattr(members, "_create_member", create_member)
    with pytest.raises(IntegrityError, match="^something else$"):
        get_or_create_member("ana@example.com")


@pytest.mark.django_db
def test_concurrently_created_privileged_account_is_still_refused(monkeypatch):
    UserFactory(username="ana@example.com", email="ana@example.com", is_staff=True)
    real_find = members.find_member
    calls = []

    def find_member(email):
        calls.append(email)
        return None if len(calls) == 1 else real_find(email)

    def create_member(email):
        raise IntegrityError("UNIQUE constraint failed: auth_user.username")

    monkeypatch.setattr(members, "find_member", find_member)
    monkeypatch.setattr(members, "_create_member", create_member)
    with pytest.raises(NotAllowed, match="^privileged or inactive$"):
        get_or_create_member("ana@example.com")


# --- sign_in_member ---------------------------------------------------------------------------


def session_request():
    request = RequestFactory().post("/")
    request.session = SessionStore()
    request.session.save()
    request.user = AnonymousUser()
    return request


@pytest.mark.django_db
def test_sign_in_member_logs_in_with_the_first_backend_and_cycles_the_session():
    request = session_request()
    before = request.session.session_key
    user = sign_in_member(request, "ana@example.com")
    assert request.user == user
    assert request.session[SESSION_KEY] == str(user.pk)
    assert request.session[BACKEND_SESSION_KEY] == "django.contrib.auth.backends.ModelBackend"
    assert request.session.session_key != before


@pytest.mark.django_db
def test_sign_in_member_uses_the_configured_backend(settings):
    settings.AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "django.contrib.auth.backends.AllowAllUsersModelBackend",
    ]
    settings.WAGTAIL_MEMBER_ACCESS_AUTHENTICATION_BACKEND = (
        "django.contrib.auth.backends.AllowAllUsersModelBackend"
    )
    request = session_request()
    sign_in_member(request, "ana@example.com")
    assert request.session[BACKEND_SESSION_KEY] == (
        "django.contrib.auth.backends.AllowAllUsersModelBackend"
    )


@pytest.mark.django_db
def test_sign_in_member_signs_nobody_in_for_staff():
    UserFactory(username="boss", email="boss@example.com", is_staff=True)
    request = session_request()
    with pytest.raises(NotAllowed):
        sign_in_member(request, "boss@example.com")
    assert SESSION_KEY not in request.session
    assert request.user.is_authenticated is False


# Custom user models (email as USERNAME_FIELD, no username field) take a different branch of
# ``members._create_member``. AUTH_USER_MODEL is fixed when Django starts, so covering them
# needs a second settings module and a second test run; this suite covers ``auth.User``.


def test_find_member_ignores_look_alikes_that_the_database_folds_together(db):
    # PostgreSQL's UPPER() folds "ı" (dotless i) to "I", so iexact matches "mıke" to "mike";
    # SQLite does not. Either way only the exact normalised address is the member.
    from wagtail_member_access.members import find_member

    mike = UserFactory(username="mike", email="Mike@Example.com")
    assert find_member("mike@example.com") == mike
    assert find_member("MIKE@example.com") == mike
    assert find_member("m\u0131ke@example.com") is None
