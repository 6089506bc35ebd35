"""System checks: settings that would make access control unsafe or broken are reported at
start-up, with the exact id and message."""

from __future__ import annotations

import pytest
from django.core import checks

from tests.task_settings import DUMMY, IMMEDIATE
from wagtail_member_access.checks import (
    check_deployment,
    check_ratelimit_cache,
    check_session_cache,
    check_session_engine,
    check_settings,
)

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
REDIS = "django.core.cache.backends.redis.RedisCache"


def ids(messages):
    return [m.id for m in messages]


# --- E001: sessions ------------------------------------------------------------------------------


def test_signed_cookie_sessions_are_an_error(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    [error] = check_session_engine(None)
    assert error.id == "wagtail_member_access.E001"
    assert error.level == checks.ERROR
    assert error.msg == (
        "wagtail-member-access cannot use the signed-cookie session backend: a session stored "
        "in the browser cannot be ended when access is revoked, and it would carry code "
        "requests to the client."
    )
    assert error.hint == (
        "Set SESSION_ENGINE = 'django.contrib.sessions.backends.db' (or a cache backend on a "
        "cache every process shares, such as Redis)."
    )


@pytest.mark.parametrize(
    "engine",
    [
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cache",
        "django.contrib.sessions.backends.cached_db",
    ],
)
def test_server_side_sessions_pass(settings, engine):
    settings.SESSION_ENGINE = engine
    assert check_session_engine(None) == []


# --- E002 / E006: the rate-limit cache ---------------------------------------------------------


def test_unknown_ratelimit_cache_alias_is_an_error(settings):
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    settings.RATELIMIT_USE_CACHE = "ratelimits"
    [error] = check_ratelimit_cache(None)
    assert error.id == "wagtail_member_access.E002"
    assert error.level == checks.ERROR
    assert error.msg == "The rate-limit cache 'ratelimits' is not in CACHES."
    assert error.hint == "Set RATELIMIT_USE_CACHE to a configured cache alias."


def test_locmem_ratelimit_cache_is_an_error_in_production(settings):
    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    [error] = check_ratelimit_cache(None)
    assert error.id == "wagtail_member_access.E006"
    assert error.level == checks.ERROR
    assert error.msg == (
        "Rate limits, cooldowns and the mail server's state of wagtail-member-access are kept "
        f"in cache 'default' ({LOCMEM}), which is local to one process: with several "
        "processes or servers the limits do not hold."
    )
    assert error.hint == (
        "Point RATELIMIT_USE_CACHE at a cache every process shares, with atomic increment "
        "(Redis or Memcached), e.g. CACHES = {'default': {'BACKEND': "
        "'django.core.cache.backends.redis.RedisCache', 'LOCATION': "
        "'redis://127.0.0.1:6379/0'}}."
    )


@pytest.mark.parametrize(
    ("backend", "reason"),
    [
        ("django.core.cache.backends.dummy.DummyCache", "counts nothing"),
        ("django.core.cache.backends.filebased.FileBasedCache", "has no atomic increment"),
        ("django.core.cache.backends.db.DatabaseCache", "has no atomic increment"),
    ],
)
def test_other_unshared_caches_are_errors_with_their_reason(settings, backend, reason):
    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": LOCMEM}, "limits": {"BACKEND": backend}}
    settings.RATELIMIT_USE_CACHE = "limits"
    [error] = check_ratelimit_cache(None)
    assert error.id == "wagtail_member_access.E006"
    assert error.level == checks.ERROR
    assert f"in cache 'limits' ({backend}), which {reason}:" in error.msg


# --- E005: sessions on a per-process cache (docs/security.md#shared-sessions) --------------------


@pytest.mark.parametrize(
    "engine",
    ["django.contrib.sessions.backends.cache", "django.contrib.sessions.backends.cached_db"],
)
def test_sessions_on_a_local_memory_cache_are_an_error_in_production(settings, engine):
    settings.DEBUG = False
    settings.SESSION_ENGINE = engine
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    [error] = check_session_cache(None)
    assert error.id == "wagtail_member_access.E005"
    assert error.level == checks.ERROR
    assert error.msg == (
        f"SESSION_ENGINE {engine!r} keeps sessions in cache 'default' ({LOCMEM}), which is "
        "local to one process: with several processes, visitors lose their code request "
        "between requests, and a signed-out session still opens pages on other processes."
    )
    assert error.hint == (
        "Set SESSION_ENGINE = 'django.contrib.sessions.backends.db', or keep it and put "
        "SESSION_CACHE_ALIAS on a cache every process shares, e.g. CACHES = {'default': "
        "{'BACKEND': 'django.core.cache.backends.redis.RedisCache', 'LOCATION': "
        "'redis://127.0.0.1:6379/0'}}."
    )


def test_sessions_on_the_session_cache_alias_are_checked(settings):
    settings.DEBUG = False
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    settings.CACHES = {"default": {"BACKEND": REDIS}, "sessions": {"BACKEND": LOCMEM}}
    settings.SESSION_CACHE_ALIAS = "sessions"
    assert ids(check_session_cache(None)) == ["wagtail_member_access.E005"]
    settings.CACHES = {"default": {"BACKEND": LOCMEM}, "sessions": {"BACKEND": REDIS}}
    assert check_session_cache(None) == []


@pytest.mark.parametrize(
    ("engine", "debug", "backend"),
    [
        ("django.contrib.sessions.backends.db", False, LOCMEM),
        ("django.contrib.sessions.backends.cache", True, LOCMEM),
        ("django.contrib.sessions.backends.cached_db", False, REDIS),
    ],
)
def test_shared_or_database_sessions_pass(settings, engine, debug, backend):
    settings.DEBUG = debug
    settings.SESSION_ENGINE = engine
    settings.CACHES = {"default": {"BACKEND": backend}}
    assert check_session_cache(None) == []


# --- W003, E007, W004: manage.py check --deploy --------------------------------------------------


@pytest.fixture
def deploy_settings(settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    if hasattr(settings, "MAILERS"):
        settings.MAILERS = {"default": {"BACKEND": "x", "OPTIONS": {"timeout": 30}}}
    else:
        settings.EMAIL_TIMEOUT = 30
    return settings


def _set_timeout(settings, value):
    if hasattr(settings, "MAILERS"):
        settings.MAILERS = {"default": {"BACKEND": "x", "OPTIONS": {"timeout": value}}}
    else:
        settings.EMAIL_TIMEOUT = value


def test_deploy_checks_pass_when_a_multi_server_site_has_what_it_needs(deploy_settings):
    assert check_deployment(None) == []


def test_deploy_check_no_mail_timeout(deploy_settings):
    _set_timeout(deploy_settings, None)
    [warning] = check_deployment(None)
    assert (warning.id, warning.level) == ("wagtail_member_access.W003", checks.WARNING)
    assert warning.hint == (
        "Set EMAIL_TIMEOUT (or the mailer's 'timeout' option) to a number of seconds below "
        "WAGTAIL_MEMBER_ACCESS_SEND_LEASE (300 s), e.g. 30."
    )


def test_deploy_check_mail_timeout_not_below_the_lease(deploy_settings):
    _set_timeout(deploy_settings, 300)
    [error] = check_deployment(None)
    assert (error.id, error.level) == ("wagtail_member_access.E007", checks.ERROR)
    assert error.msg.startswith("The mail timeout (300 s) is not below ")


def test_deploy_check_client_ip_behind_a_proxy(deploy_settings):
    del deploy_settings.RATELIMIT_IP_META_KEY
    [warning] = check_deployment(None)
    assert (warning.id, warning.level) == ("wagtail_member_access.W004", checks.WARNING)
    assert "every visitor shares one limit" in warning.msg


def test_deploy_checks_run_only_with_deploy():
    registered = checks.registry.registry
    assert check_deployment in registered.get_checks(include_deployment_checks=True)
    assert check_deployment not in registered.get_checks(include_deployment_checks=False)


def test_locmem_ratelimit_cache_is_fine_with_debug(settings):
    settings.DEBUG = True
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    assert check_ratelimit_cache(None) == []


def test_redis_ratelimit_cache_passes(settings):
    settings.DEBUG = False
    settings.CACHES = {
        "default": {"BACKEND": LOCMEM},
        "shared": {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:6379/0"},
    }
    settings.RATELIMIT_USE_CACHE = "shared"
    assert check_ratelimit_cache(None) == []


def test_the_ratelimit_cache_is_the_default_alias_unless_set(settings):
    settings.DEBUG = False
    settings.CACHES = {
        "default": {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:6379/0"},
        "local": {"BACKEND": LOCMEM},
    }
    del settings.RATELIMIT_USE_CACHE
    assert check_ratelimit_cache(None) == []


# --- E003 / E004: our own settings ---------------------------------------------------------


def test_valid_settings_pass(settings):
    assert check_settings(None) == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CODE_LENGTH", 4, "WAGTAIL_MEMBER_ACCESS_CODE_LENGTH must be an integer from 6 to 8."),
        ("CODE_LENGTH", "6", "WAGTAIL_MEMBER_ACCESS_CODE_LENGTH must be an integer from 6 to 8."),
        (
            "CODE_VALIDITY",
            "10m",
            "WAGTAIL_MEMBER_ACCESS_CODE_VALIDITY must be a number of seconds or a "
            "datetime.timedelta, not '10m'.",
        ),
        (
            "RESEND_COOLDOWN",
            None,
            "WAGTAIL_MEMBER_ACCESS_RESEND_COOLDOWN must be a number of seconds or a "
            "datetime.timedelta, not None.",
        ),
    ],
)
def test_bad_code_settings_are_an_error(settings, name, value, message):
    setattr(settings, f"WAGTAIL_MEMBER_ACCESS_{name}", value)
    [error] = check_settings(None)
    assert error.id == "wagtail_member_access.E003"
    assert error.level == checks.ERROR
    assert error.msg == message


@pytest.mark.parametrize("name", ["RATE_PASSWORD_PER_ACCOUNT", "RATE_PASSWORD_PER_IP"])
@pytest.mark.parametrize("value", ["thirty per hour", "10/15x", 10, None])
def test_a_malformed_password_rate_is_reported_before_the_first_sign_in(settings, name, value):
    # The same message the first password sign-in would raise (tests/test_flows).
    setattr(settings, f"WAGTAIL_MEMBER_ACCESS_{name}", value)
    [error] = check_settings(None)
    assert error.id == "wagtail_member_access.E003"
    assert error.level == checks.ERROR
    assert error.msg == (
        f'WAGTAIL_MEMBER_ACCESS_{name} must be a rate such as "10/15m", not {value!r}.'
    )


def test_authentication_backend_not_in_authentication_backends_is_an_error(settings):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    settings.WAGTAIL_MEMBER_ACCESS_AUTHENTICATION_BACKEND = "myproject.auth.MemberBackend"
    [error] = check_settings(None)
    assert error.id == "wagtail_member_access.E004"
    assert error.level == checks.ERROR
    assert error.msg == (
        "WAGTAIL_MEMBER_ACCESS_AUTHENTICATION_BACKEND 'myproject.auth.MemberBackend' is not in "
        "AUTHENTICATION_BACKENDS, so signed-in members would be signed out at once."
    )


def test_authentication_backend_listed_passes(settings):
    settings.AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "myproject.auth.MemberBackend",
    ]
    settings.WAGTAIL_MEMBER_ACCESS_AUTHENTICATION_BACKEND = "myproject.auth.MemberBackend"
    assert check_settings(None) == []


def test_bad_code_length_and_backend_are_both_reported(settings):
    settings.WAGTAIL_MEMBER_ACCESS_CODE_LENGTH = 9
    settings.WAGTAIL_MEMBER_ACCESS_AUTHENTICATION_BACKEND = "myproject.auth.MemberBackend"
    assert ids(check_settings(None)) == [
        "wagtail_member_access.E003",
        "wagtail_member_access.E004",
    ]


# --- registration ------------------------------------------------------------------------------


def test_checks_are_registered_with_their_tags():
    registered = checks.registry.registry.get_checks()
    assert check_session_engine in registered
    assert check_ratelimit_cache in registered
    assert check_settings in registered
    assert checks.Tags.security in check_session_engine.tags
    assert checks.Tags.caches in check_ratelimit_cache.tags


def test_run_checks_reports_our_errors(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    settings.WAGTAIL_MEMBER_ACCESS_CODE_LENGTH = 5
    found = ids(checks.run_checks())
    assert "wagtail_member_access.E001" in found
    assert "wagtail_member_access.E003" in found


def test_every_invalid_setting_is_reported_not_only_the_first(settings):
    settings.WAGTAIL_MEMBER_ACCESS_CODE_LENGTH = 4
    settings.WAGTAIL_MEMBER_ACCESS_BULK_EMAIL_INTERVAL = -1
    errors = [e for e in check_settings(None) if e.id == "wagtail_member_access.E003"]
    assert [e.msg for e in errors] == [
        "WAGTAIL_MEMBER_ACCESS_CODE_LENGTH must be an integer from 6 to 8.",
        "WAGTAIL_MEMBER_ACCESS_BULK_EMAIL_INTERVAL must not be negative.",
    ]


def test_the_immediate_task_backend_is_flagged_in_production(settings):
    from wagtail_member_access.checks import check_task_backend

    settings.DEBUG = False
    settings.TASKS = {"default": IMMEDIATE}
    assert [w.id for w in check_task_backend(None)] == ["wagtail_member_access.W002"]
    settings.DEBUG = True
    assert check_task_backend(None) == []
    settings.DEBUG = False
    settings.TASKS = {"default": DUMMY}
    assert check_task_backend(None) == []


def test_the_backport_immediate_backend_is_flagged_on_every_django(settings):
    # A site upgraded to Django 6 may still name django-tasks' immediate backend in TASKS:
    # django.tasks loads it, and it sends the email in the web process all the same.
    from wagtail_member_access.checks import check_task_backend

    settings.DEBUG = False
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    assert [w.id for w in check_task_backend(None)] == ["wagtail_member_access.W002"]


def test_the_immediate_backend_warning_explains_the_timing_side_channel(settings):
    from wagtail_member_access.checks import check_task_backend

    settings.DEBUG = False
    settings.TASKS = {"default": IMMEDIATE}
    [warning] = check_task_backend(None)
    assert warning.msg == (
        "wagtail-member-access sends its emails with the immediate task backend ('default'): "
        "the mail is sent in the web process while the response closes, so how long a "
        "connection stays open tells whether an address is on an access list (measured with "
        "a slow mail server: 3.3 s for a listed address, 0.48 s for an unlisted one), and a "
        "failed send is only retried by manage.py member_access_retry."
    )
    assert warning.hint == (
        "Install wagtail-member-access[worker], add 'django_tasks_db' to INSTALLED_APPS, set "
        "TASKS = {'default': {'BACKEND': 'django_tasks_db.DatabaseBackend'}} and run "
        "manage.py db_worker (docs/deployment.md)."
    )
