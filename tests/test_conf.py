"""Settings (``conf.app_settings``): every default, every override, durations as seconds or
``timedelta``, and the exact message for a bad value. Settings are read on each access, so
pytest-django's ``settings`` fixture changes them at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from wagtail_member_access.conf import AppSettings, app_settings

DEFAULTS = {
    "CODE_LENGTH": 6,
    "CODE_VALIDITY": timedelta(minutes=10),
    "CODE_MAX_ATTEMPTS": 5,
    "THROTTLE_FACTOR": 1,
    "RESEND_COOLDOWN": timedelta(seconds=60),
    "LINK_VALIDITY": timedelta(minutes=30),
    "NOTIFY_LINK_VALIDITY": timedelta(hours=24),
    "RATE_LINK_PER_IP": "60/10m",
    "SIGN_IN_REDIRECT_URL": "/",
    "RATE_SEND_PER_EMAIL": "5/h",
    "RATE_SEND_PER_IP": "20/h",
    "RATE_SEND_PER_SITE": "500/h",
    "RATE_VERIFY_PER_IP": "30/10m",
    "RATELIMIT_CACHE": "default",
    "BASE_TEMPLATE": "wagtail_member_access/base.html",
    "FROM_EMAIL": "site@example.com",  # tests/settings.py's DEFAULT_FROM_EMAIL
    "TASK_BACKEND": "default",
    "LAST_ACCESS_RESOLUTION": timedelta(minutes=15),
    "AUTHENTICATION_BACKEND": None,
}

#: (setting, value set, value read)
OVERRIDES = [
    ("CODE_LENGTH", 8, 8),
    ("CODE_VALIDITY", timedelta(minutes=5), timedelta(minutes=5)),
    ("CODE_MAX_ATTEMPTS", 3, 3),
    ("THROTTLE_FACTOR", 0, 0),
    ("RESEND_COOLDOWN", timedelta(seconds=30), timedelta(seconds=30)),
    ("LINK_VALIDITY", timedelta(minutes=15), timedelta(minutes=15)),
    ("NOTIFY_LINK_VALIDITY", timedelta(days=7), timedelta(days=7)),
    ("RATE_LINK_PER_IP", "10/m", "10/m"),
    ("SIGN_IN_REDIRECT_URL", "/members/", "/members/"),
    ("RATE_SEND_PER_EMAIL", "3/h", "3/h"),
    ("RATE_SEND_PER_IP", "10/h", "10/h"),
    ("RATE_SEND_PER_SITE", "100/h", "100/h"),
    ("RATE_VERIFY_PER_IP", "10/10m", "10/10m"),
    ("BASE_TEMPLATE", "base.html", "base.html"),
    ("FROM_EMAIL", "Courses <courses@example.com>", "Courses <courses@example.com>"),
    ("TASK_BACKEND", "mail", "mail"),
    ("LAST_ACCESS_RESOLUTION", timedelta(hours=1), timedelta(hours=1)),
    (
        "AUTHENTICATION_BACKEND",
        "django.contrib.auth.backends.ModelBackend",
        "django.contrib.auth.backends.ModelBackend",
    ),
]

DURATIONS = [
    "CODE_VALIDITY",
    "RESEND_COOLDOWN",
    "LINK_VALIDITY",
    "NOTIFY_LINK_VALIDITY",
    "LAST_ACCESS_RESOLUTION",
]


def test_every_setting_is_documented():
    names = [name for name, value in vars(AppSettings).items() if isinstance(value, property)]
    assert set(DEFAULTS) <= set(names)
    for name in names:
        assert getattr(AppSettings, name).__doc__, name


def test_every_setting_here_has_an_override():
    assert sorted(name for name, _, _ in OVERRIDES) == sorted(set(DEFAULTS) - {"RATELIMIT_CACHE"})


@pytest.mark.parametrize(("name", "default"), sorted(DEFAULTS.items()))
def test_default(settings, name, default):
    for other in DEFAULTS:
        if hasattr(settings, f"WAGTAIL_MEMBER_ACCESS_{other}"):
            delattr(settings, f"WAGTAIL_MEMBER_ACCESS_{other}")
    if hasattr(settings, "RATELIMIT_USE_CACHE"):
        del settings.RATELIMIT_USE_CACHE
    assert getattr(app_settings, name) == default


@pytest.mark.parametrize(("name", "value", "expected"), OVERRIDES)
def test_override(settings, name, value, expected):
    setattr(settings, f"WAGTAIL_MEMBER_ACCESS_{name}", value)
    assert getattr(app_settings, name) == expected


def test_ratelimit_cache_is_django_ratelimits_own_setting(settings):
    settings.RATELIMIT_USE_CACHE = "ratelimits"
    settings.WAGTAIL_MEMBER_ACCESS_RATELIMIT_CACHE = "ignored"
    assert app_settings.RATELIMIT_CACHE == "ratelimits"


@pytest.mark.parametrize("value", [None, ""])
def test_from_email_falls_back_to_default_from_email(settings, value):
    settings.DEFAULT_FROM_EMAIL = "noreply@example.org"
    settings.WAGTAIL_MEMBER_ACCESS_FROM_EMAIL = value
    assert app_settings.FROM_EMAIL == "noreply@example.org"


#: Wagtail's own settings the package reads through ``app_settings``: (name, default, a value)
WAGTAIL_SETTINGS = [
    ("WAGTAIL_FRONTEND_LOGIN_URL", None, "/login/"),
    ("WAGTAILDOCS_SERVE_METHOD", None, "serve_view"),
    ("WAGTAILADMIN_BASE_URL", "", "https://example.org"),
    ("WAGTAIL_I18N_ENABLED", False, True),
]


@pytest.mark.parametrize(("name", "default", "value"), WAGTAIL_SETTINGS)
def test_wagtails_own_settings_are_read_under_their_own_names(settings, name, default, value):
    if hasattr(settings, name):
        delattr(settings, name)
    assert getattr(app_settings, name) == default
    setattr(settings, name, value)
    assert getattr(app_settings, name) == value


def test_settings_are_read_on_each_access(settings):
    settings.WAGTAIL_MEMBER_ACCESS_CODE_LENGTH = 7
    assert app_settings.CODE_LENGTH == 7
    settings.WAGTAIL_MEMBER_ACCESS_CODE_LENGTH = 8
    assert app_settings.CODE_LENGTH == 8


# --- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (90, timedelta(seconds=90)),
        (1.5, timedelta(seconds=1.5)),
        (0, timedelta(0)),
        (timedelta(minutes=2), timedelta(minutes=2)),
    ],
)
def test_durations_take_seconds_or_a_timedelta(settings, name, value, expected):
    setattr(settings, f"WAGTAIL_MEMBER_ACCESS_{name}", value)
    assert getattr(app_settings, name) == expected


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize(
    ("value", "shown"), [("10m", "'10m'"), (None, "None"), (True, "True"), ([60], "[60]")]
)
def test_bad_durations_are_refused_with_what_to_set(settings, name, value, shown):
    setattr(settings, f"WAGTAIL_MEMBER_ACCESS_{name}", value)
    with pytest.raises(ImproperlyConfigured) as excinfo:
        getattr(app_settings, name)
    assert str(excinfo.value) == (
        f"WAGTAIL_MEMBER_ACCESS_{name} must be a number of seconds or a datetime.timedelta, "
        f"not {shown}."
    )


# --- code length -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, 6.0, None, 0])
def test_code_length_must_be_an_integer_from_6_to_8(settings, value):
    settings.WAGTAIL_MEMBER_ACCESS_CODE_LENGTH = value
    with pytest.raises(ImproperlyConfigured) as excinfo:
        app_settings.CODE_LENGTH  # noqa: B018
    assert str(excinfo.value) == "WAGTAIL_MEMBER_ACCESS_CODE_LENGTH must be an integer from 6 to 8."


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CODE_MAX_ATTEMPTS", "five", "must be an integer of 1 or more."),
        ("CODE_MAX_ATTEMPTS", 0, "must be an integer of 1 or more."),
        ("THROTTLE_FACTOR", None, "must be an integer of 0 or more."),
        ("THROTTLE_FACTOR", -1, "must be an integer of 0 or more."),
    ],
)
def test_bad_attempt_settings_are_refused_with_what_to_set(settings, name, value, message):
    setattr(settings, f"WAGTAIL_MEMBER_ACCESS_{name}", value)
    with pytest.raises(ImproperlyConfigured) as excinfo:
        getattr(app_settings, name)
    assert str(excinfo.value) == f"WAGTAIL_MEMBER_ACCESS_{name} {message}"
