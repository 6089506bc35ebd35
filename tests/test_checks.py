"""System checks: settings that would make access control unsafe or broken are reported at
start-up, with the exact id and message."""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.files.storage import Storage
from rest_framework.authentication import BasicAuthentication
from rest_framework.settings import api_settings
from wagtail.documents.api.v2.views import DocumentsAPIViewSet

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


# --- E011 / W010: how documents are served; E012: the document overrides ------------------------


def test_direct_document_serving_is_an_error(settings):
    from wagtail_member_access.checks import check_document_serve_method

    settings.WAGTAILDOCS_SERVE_METHOD = "direct"
    [error] = check_document_serve_method(None)
    assert (error.id, error.level) == ("wagtail_member_access.E011", checks.ERROR)
    assert error.msg.startswith(
        'WAGTAILDOCS_SERVE_METHOD = "direct": documents cannot be protected.'
    )
    assert error.hint == 'Remove WAGTAILDOCS_SERVE_METHOD or set it to "serve_view".'


def test_redirect_document_serving_is_a_warning(settings):
    from wagtail_member_access.checks import check_document_serve_method

    settings.WAGTAILDOCS_SERVE_METHOD = "redirect"
    [warning] = check_document_serve_method(None)
    assert (warning.id, warning.level) == ("wagtail_member_access.W010", checks.WARNING)


@pytest.mark.parametrize("method", [None, "serve_view"])
def test_serve_view_passes(settings, method):
    from wagtail_member_access.checks import check_document_serve_method

    settings.WAGTAILDOCS_SERVE_METHOD = method
    assert check_document_serve_method(None) == []


def test_document_overrides_are_installed():
    from wagtail_member_access.checks import check_document_internals

    assert check_document_internals(None) == []


def test_a_missing_document_override_is_an_error(monkeypatch):
    from wagtail.models import CollectionViewRestriction
    from wagtail.models.view_restrictions import BaseViewRestriction

    from wagtail_member_access.checks import check_document_internals

    monkeypatch.setattr(
        CollectionViewRestriction, "accept_request", BaseViewRestriction.accept_request
    )
    [error] = check_document_internals(None)
    assert error.id == "wagtail_member_access.E012"
    assert error.msg.endswith(": CollectionViewRestriction.accept_request is not overridden.")
    assert error.hint == "Pin Wagtail 8.0.x or upgrade wagtail-member-access."


# --- W010 without WAGTAILDOCS_SERVE_METHOD: a storage without local files -----------------------


class RemoteStorage(Storage):
    """A storage like S3's: URLs, but no local path (``Storage.path`` raises
    ``NotImplementedError``)."""

    def url(self, name):
        return f"https://bucket.example.com/{name}"


class OpaqueStorage(Storage):
    """Neither a local path nor a URL: Wagtail's serve view streams the file itself."""


@pytest.fixture
def document_storage(monkeypatch):
    from wagtail.documents import get_document_model

    field = get_document_model()._meta.get_field("file")

    def use(storage):
        monkeypatch.setattr(field, "storage", storage)

    return use


def test_a_storage_without_local_files_is_a_warning_when_no_method_is_set(
    settings, document_storage
):
    from wagtail_member_access.checks import check_document_serve_method

    settings.WAGTAILDOCS_SERVE_METHOD = None
    document_storage(RemoteStorage())
    [warning] = check_document_serve_method(None)
    assert (warning.id, warning.level) == ("wagtail_member_access.W010", checks.WARNING)
    assert warning.msg == (
        "The documents' storage (tests.test_checks.RemoteStorage) keeps no local files and "
        "WAGTAILDOCS_SERVE_METHOD is not set, so Wagtail redirects a visitor who passed member "
        "access to the storage's own URL for the file, which anyone who learns it can open."
    )
    assert warning.hint == (
        'Set WAGTAILDOCS_SERVE_METHOD = "serve_view", or use a storage that signs short-lived '
        "URLs (e.g. S3 with querystring_auth) and silence wagtail_member_access.W010."
    )
    settings.WAGTAILDOCS_SERVE_METHOD = "serve_view"
    assert check_document_serve_method(None) == []


def test_a_storage_wagtail_streams_from_passes(settings, document_storage):
    from wagtail_member_access.checks import check_document_serve_method

    settings.WAGTAILDOCS_SERVE_METHOD = None
    document_storage(OpaqueStorage())
    assert check_document_serve_method(None) == []


def test_the_warning_matches_what_wagtail_does_with_such_a_storage(
    client, settings, document_storage, tmp_path, course
):
    # The check's premise, measured: with no serve method and a remote storage, Wagtail's
    # serve view answers a visitor who passed with a redirect to the storage's URL.
    from tests.factories import UserFactory, make_collection, make_document
    from wagtail_member_access import api

    settings.MEDIA_ROOT = str(tmp_path)
    settings.WAGTAILDOCS_SERVE_METHOD = None
    collection = make_collection("Course files")
    api.protect_collection(collection, mode="members")
    document = make_document(collection)
    document_storage(RemoteStorage())
    client.force_login(UserFactory(email="ana@example.com"))
    response = client.get(document.url)
    assert (response.status_code, response["Location"]) == (
        302,
        f"https://bucket.example.com/{document.file.name}",
    )


# --- E012: the URL of a document leads to the overridden serve view -----------------------------


def test_a_document_url_that_skips_the_override_is_an_error(settings):
    from wagtail_member_access.checks import check_document_internals

    settings.ROOT_URLCONF = "tests.urlconfs.unwrapped_documents"
    [error] = check_document_internals(None)
    assert error.id == "wagtail_member_access.E012"
    assert error.msg.endswith(
        ': the URL "wagtaildocs_serve" does not lead to the overridden document serve view.'
    )


def test_a_decorated_override_in_the_urlconf_passes(settings):
    from wagtail_member_access.checks import check_document_internals

    settings.ROOT_URLCONF = "tests.urlconfs.decorated_documents"
    assert check_document_internals(None) == []


def test_a_urlconf_without_wagtails_document_urls_passes(settings):
    from wagtail_member_access.checks import check_document_internals

    settings.ROOT_URLCONF = "tests.urlconfs.without_documents"
    assert check_document_internals(None) == []


# --- W020: Django REST framework's basic authentication ----------------------------------------

SESSION_ONLY = ["rest_framework.authentication.SessionAuthentication"]


def test_drfs_default_basic_authentication_is_a_warning(settings):
    from wagtail_member_access.checks import check_api_basic_authentication

    if hasattr(settings, "REST_FRAMEWORK"):
        del settings.REST_FRAMEWORK
    [warning] = check_api_basic_authentication(None)
    assert (warning.id, warning.level) == ("wagtail_member_access.W020", checks.WARNING)
    assert warning.msg.startswith(
        "Django REST framework authenticates API requests with "
        "rest_framework.authentication.BasicAuthentication (in REST_FRAMEWORK's "
        "DEFAULT_AUTHENTICATION_CLASSES, or by its default): "
    )
    assert warning.hint == (
        'Set REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": '
        '["rest_framework.authentication.SessionAuthentication"]}, or rate-limit the '
        "API's basic authentication yourself and silence wagtail_member_access.W020."
    )
    assert "wagtail_member_access.W020" in ids(checks.run_checks())


def test_a_subclass_of_basic_authentication_is_a_warning(settings):
    from wagtail_member_access.checks import check_api_basic_authentication

    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [*SESSION_ONLY, "tests.test_checks.BasicOrToken"]
    }
    [warning] = check_api_basic_authentication(None)
    assert "with tests.test_checks.BasicOrToken (in" in warning.msg


def test_session_only_authentication_passes(settings):
    from wagtail_member_access.checks import check_api_basic_authentication

    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": SESSION_ONLY}
    assert check_api_basic_authentication(None) == []


def test_without_drf_or_wagtails_api_nothing_is_checked(settings, monkeypatch):
    from django.apps import apps

    from wagtail_member_access.checks import check_api_basic_authentication

    if hasattr(settings, "REST_FRAMEWORK"):
        del settings.REST_FRAMEWORK
    installed = apps.is_installed
    api_apps = ("rest_framework", "wagtail.api.v2")
    monkeypatch.setattr(apps, "is_installed", lambda name: name not in api_apps and installed(name))
    assert check_api_basic_authentication(None) == []


@pytest.mark.django_db
def test_the_hint_closes_the_door(client, settings, course, tmp_path, monkeypatch):
    # Why W020 matters, measured on Wagtail's documents API v2: DRF's default basic
    # authentication takes a password from any request (no sign-in limits apply); with the
    # hint's setting, the same header is ignored.
    import base64

    from tests.factories import GrantFactory, UserFactory, make_collection, make_document
    from wagtail_member_access import api

    settings.MEDIA_ROOT = str(tmp_path)
    collection = make_collection("Course files")
    api.protect_collection(collection, mode="code", access_lists=[course])
    document = make_document(collection)
    GrantFactory(access_list=course, email="ana@example.com")
    member = UserFactory(email="ana@example.com", username="ana")
    member.set_password("right horse battery")
    member.save()
    header = base64.b64encode(b"ana:right horse battery").decode()

    def listed(**extra):
        response = client.get("/api/v2/documents/", **extra)
        return [item["id"] for item in response.json()["items"]]

    if hasattr(settings, "REST_FRAMEWORK"):
        del settings.REST_FRAMEWORK
    wrong = [f"Basic {base64.b64encode(f'ana:guess {n}'.encode()).decode()}" for n in range(119)]
    # 119 wrong guesses, each refused (403) and none limited; then the right one works.
    statuses = {client.get("/api/v2/documents/", HTTP_AUTHORIZATION=h).status_code for h in wrong}
    assert statuses == {403}
    assert document.pk in listed(HTTP_AUTHORIZATION=f"Basic {header}")
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": SESSION_ONLY}
    # DRF reads the setting when a view class is defined, as a site's views are at start-up.
    monkeypatch.setattr(
        DocumentsAPIViewSet, "authentication_classes", api_settings.DEFAULT_AUTHENTICATION_CLASSES
    )
    assert document.pk not in listed(HTTP_AUTHORIZATION=f"Basic {header}")
    assert document.pk not in listed()


class BasicOrToken(BasicAuthentication):
    """A site's own basic authentication (for W020's subclass test)."""


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
