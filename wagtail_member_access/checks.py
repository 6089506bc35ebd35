"""System checks for settings that would make access control unsafe or broken."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .conf import app_settings
from .task_framework import IMMEDIATE_BACKENDS, task_backends

__all__ = [
    "check_deployment",
    "check_ratelimit_cache",
    "check_session_cache",
    "check_session_engine",
    "check_settings",
    "check_task_backend",
]

#: What the hints name: settings that work with several processes and servers.
SHARED_CACHE_HINT = (
    "e.g. CACHES = {{'{alias}': {{'BACKEND': 'django.core.cache.backends.redis.RedisCache', "
    "'LOCATION': 'redis://127.0.0.1:6379/0'}}}}"
)

NOT_SHARED = {
    "django.core.cache.backends.locmem.LocMemCache": "is local to one process",
    "django.core.cache.backends.dummy.DummyCache": "counts nothing",
    "django.core.cache.backends.filebased.FileBasedCache": "has no atomic increment",
    "django.core.cache.backends.db.DatabaseCache": "has no atomic increment",
}


@checks.register(checks.Tags.security)
def check_session_engine(app_configs, **kwargs):
    engine = getattr(settings, "SESSION_ENGINE", "django.contrib.sessions.backends.db")
    if engine == "django.contrib.sessions.backends.signed_cookies":
        return [
            checks.Error(
                "wagtail-member-access cannot use the signed-cookie session backend: a session "
                "stored in the browser cannot be ended when access is revoked, and it would "
                "carry code requests to the client.",
                hint="Set SESSION_ENGINE = 'django.contrib.sessions.backends.db' (or a cache "
                "backend on a cache every process shares, such as Redis).",
                id="wagtail_member_access.E001",
            )
        ]
    return []


@checks.register(checks.Tags.caches)
def check_ratelimit_cache(app_configs, **kwargs):
    alias = app_settings.RATELIMIT_CACHE
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [
            checks.Error(
                f"The rate-limit cache {alias!r} is not in CACHES.",
                hint="Set RATELIMIT_USE_CACHE to a configured cache alias.",
                id="wagtail_member_access.E002",
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    reason = NOT_SHARED.get(backend)
    if reason and not settings.DEBUG:
        return [
            checks.Error(
                f"Rate limits, cooldowns and the mail server's state of wagtail-member-access "
                f"are kept in cache {alias!r} ({backend}), which {reason}: with several "
                "processes or servers the limits do not hold.",
                hint="Point RATELIMIT_USE_CACHE at a cache every process shares, with atomic "
                "increment (Redis or Memcached), " + SHARED_CACHE_HINT.format(alias=alias) + ".",
                id="wagtail_member_access.E006",
            )
        ]
    return []


_CACHE_SESSIONS = (
    "django.contrib.sessions.backends.cache",
    "django.contrib.sessions.backends.cached_db",
)


@checks.register(checks.Tags.security)
def check_session_cache(app_configs, **kwargs):
    """Sessions in a cache local to one process: a code request made on one process is
    unknown to the next, and (``cached_db``) a session ended on one process still opens
    pages on another (docs/security.md#shared-sessions)."""
    engine = getattr(settings, "SESSION_ENGINE", "django.contrib.sessions.backends.db")
    if engine not in _CACHE_SESSIONS or settings.DEBUG:
        return []
    alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    backend = getattr(settings, "CACHES", {}).get(alias, {}).get("BACKEND", "")
    if backend not in NOT_SHARED:
        return []
    return [
        checks.Error(
            f"SESSION_ENGINE {engine!r} keeps sessions in cache {alias!r} ({backend}), which "
            f"{NOT_SHARED[backend]}: with several processes, visitors lose their code request "
            "between requests, and a signed-out session still opens pages on other processes.",
            hint="Set SESSION_ENGINE = 'django.contrib.sessions.backends.db', or keep it and "
            "put SESSION_CACHE_ALIAS on a cache every process shares, "
            + SHARED_CACHE_HINT.format(alias=alias)
            + ".",
            id="wagtail_member_access.E005",
        )
    ]


@checks.register()
def check_settings(app_configs, **kwargs):
    errors = []
    # Every setting validates itself when read: read them all, report each one that is wrong.
    for name, value in vars(type(app_settings)).items():
        if not isinstance(value, property):
            continue
        try:
            getattr(app_settings, name)
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(str(exc), id="wagtail_member_access.E003"))
    backend = app_settings.AUTHENTICATION_BACKEND
    if backend and backend not in settings.AUTHENTICATION_BACKENDS:
        errors.append(
            checks.Error(
                f"WAGTAIL_MEMBER_ACCESS_AUTHENTICATION_BACKEND {backend!r} is not in "
                "AUTHENTICATION_BACKENDS, so signed-in members would be signed out at once.",
                id="wagtail_member_access.E004",
            )
        )
    return errors


@checks.register(checks.Tags.security)
def check_task_backend(app_configs, **kwargs):
    # With the immediate backend the email is sent while the server closes the response:
    # the first byte is as fast for listed and unlisted addresses, but the connection (and,
    # with keep-alive, the next request on it) ends later for a listed one.
    alias = app_settings.TASK_BACKEND
    try:
        backend = task_backends[alias]
    except Exception:  # reported by django-tasks' own checks
        return []
    if isinstance(backend, IMMEDIATE_BACKENDS) and not settings.DEBUG:
        return [
            checks.Warning(
                f"wagtail-member-access sends its emails with the immediate task backend "
                f"({alias!r}): the mail is sent in the web process while the response closes, "
                "so how long a connection stays open tells whether an address is on an "
                "access list (measured with a slow mail server: 3.3 s for a listed address, "
                "0.48 s for an unlisted one), and a failed send is only retried by "
                "manage.py member_access_retry.",
                hint="Install wagtail-member-access[worker], add 'django_tasks_db' to "
                "INSTALLED_APPS, set TASKS = {'default': {'BACKEND': "
                "'django_tasks_db.DatabaseBackend'}} and run manage.py db_worker "
                "(docs/deployment.md).",
                id="wagtail_member_access.W002",
            )
        ]
    return []


def _email_timeout():
    mailers = getattr(settings, "MAILERS", None)
    if mailers:  # Django 6.1
        return mailers.get("default", {}).get("OPTIONS", {}).get("timeout")
    return getattr(settings, "EMAIL_TIMEOUT", None)


@checks.register(checks.Tags.security, deploy=True)
def check_deployment(app_configs, **kwargs):
    """``manage.py check --deploy``: what a site on several processes and servers still
    needs (docs/deployment.md)."""
    found = []
    timeout = _email_timeout()
    lease = app_settings.SEND_LEASE.total_seconds()
    if timeout is None:
        found.append(
            checks.Warning(
                "No mail timeout is set: a mail server that stops answering holds a task "
                "worker for good, and its email is only sent again after "
                "WAGTAIL_MEMBER_ACCESS_SEND_LEASE.",
                hint=f"Set EMAIL_TIMEOUT (or the mailer's 'timeout' option) to a number of "
                f"seconds below WAGTAIL_MEMBER_ACCESS_SEND_LEASE ({lease:.0f} s), e.g. 30.",
                id="wagtail_member_access.W003",
            )
        )
    elif timeout >= lease:
        found.append(
            checks.Error(
                f"The mail timeout ({timeout} s) is not below WAGTAIL_MEMBER_ACCESS_SEND_LEASE "
                f"({lease:.0f} s): an attempt still waiting for the mail server would be "
                "counted as lost and the email sent twice.",
                hint="Lower the mail timeout or raise WAGTAIL_MEMBER_ACCESS_SEND_LEASE.",
                id="wagtail_member_access.E007",
            )
        )
    if getattr(settings, "RATELIMIT_IP_META_KEY", None) is None:
        found.append(
            checks.Warning(
                "RATELIMIT_IP_META_KEY is not set, so rate limits per IP address use "
                "REMOTE_ADDR: behind a proxy or load balancer that is the proxy's address, "
                "and every visitor shares one limit.",
                hint="Behind a proxy, set RATELIMIT_IP_META_KEY to the header your proxy "
                "sets (e.g. 'HTTP_X_REAL_IP'), or a callable that reads the client address "
                "from the last trusted X-Forwarded-For hop (docs/deployment.md#client-ip). "
                "Without a proxy, set it to 'REMOTE_ADDR' to silence this.",
                id="wagtail_member_access.W004",
            )
        )
    return found
