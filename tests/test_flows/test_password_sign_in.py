"""Password attempts (``flows/password_sign_in.py``): counted before the password is checked
(docs/security.md#password-guessing).
Runs with any user model (see tests/test_custom_user_models.py)."""

from __future__ import annotations

import pytest

from tests.users import make_user
from wagtail_member_access.flows import common, password_sign_in

pytestmark = pytest.mark.django_db


def test_a_password_attempt_is_counted_before_the_password_is_checked(rf, settings):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_ACCOUNT = "2/h"
    user = make_user("mia@example.com")
    request = rf.post("/", REMOTE_ADDR="10.0.0.1")
    first = password_sign_in.password_attempt(request, "mia@example.com")
    second = password_sign_in.password_attempt(request, user.get_username())
    # Both are still being checked; a third one is refused, whatever it is named.
    assert (first.limited, second.limited) == (False, False)
    assert password_sign_in.password_attempt(request, " MIA@example.com").limited is True
    # A success takes its count back: one more attempt fits again.
    first.succeeded()
    second.succeeded()
    assert password_sign_in.password_attempt(request, "mia@example.com").limited is False


def test_the_change_password_form_counts_against_the_same_account(rf, settings):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_ACCOUNT = "1/h"
    user = make_user("mia@example.com")
    request = rf.post("/", REMOTE_ADDR="10.0.0.1")
    assert password_sign_in.password_attempt(request, user=user).limited is False
    assert password_sign_in.password_attempt(request, "mia@example.com").limited is True


def test_a_cache_that_loses_the_count_refuses(rf, monkeypatch):
    make_user("mia@example.com")
    # The cache refuses the increment (Django raises ValueError when the key vanished).
    cache = common.ratelimit_cache()

    def lost(key, delta=1, version=None):
        raise ValueError(f"Key {key!r} not found")

    monkeypatch.setattr(cache, "incr", lost)
    assert password_sign_in.password_attempt(rf.post("/"), "mia@example.com").limited is True


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
        password_sign_in.password_attempt(rf.post("/"), "mia@example.com")
    assert str(error.value) == (
        'WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_IP must be a rate such as "10/15m", '
        "not 'thirty per hour'."
    )
