"""System checks for settings that would make access control unsafe or broken."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .conf import app_settings

__all__ = [
    "check_ratelimit_cache",
    "check_session_engine",
    "check_settings",
    "check_task_backend",
    "check_wagtail_internals",
]

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
                hint="Set SESSION_ENGINE to a server-side backend, e.g. "
                "'django.contrib.sessions.backends.db' or '…backends.cache'.",
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
            checks.Warning(
                f"Rate limits of wagtail-member-access are counted in cache {alias!r} "
                f"({backend}), which {reason}: with several processes or servers the limits "
                "do not hold.",
                hint="Use a shared cache with atomic increment (Redis or Memcached) and point "
                "RATELIMIT_USE_CACHE at it.",
                id="wagtail_member_access.W001",
            )
        ]
    return []


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
    from django_tasks import task_backends
    from django_tasks.backends.immediate import ImmediateBackend

    alias = app_settings.TASK_BACKEND
    try:
        backend = task_backends[alias]
    except Exception:  # reported by django-tasks' own checks
        return []
    if isinstance(backend, ImmediateBackend) and not settings.DEBUG:
        return [
            checks.Warning(
                f"wagtail-member-access sends its emails with the immediate task backend "
                f"({alias!r}): the mail is sent in the web process while the response closes, "
                "so how long a connection stays open can tell whether an address is on an "
                "access list.",
                hint="Run a django-tasks worker backend (database or RQ) and point "
                "WAGTAIL_MEMBER_ACCESS_TASK_BACKEND at it.",
                id="wagtail_member_access.W002",
            )
        ]
    return []


@checks.register(checks.Tags.compatibility)
def check_wagtail_internals(app_configs, **kwargs):
    # Member access is private for Wagtail through a few small overrides of Wagtail's code
    # (docs/protected-channels.md#how-it-works): if Wagtail changed what they wrap, the
    # pages could leak, so refuse to start.
    import wagtail

    from . import compat

    return [
        checks.Error(
            f"wagtail-member-access cannot keep protected pages private with Wagtail "
            f"{wagtail.__version__}: {what}.",
            hint="Pin Wagtail 8.0.x, or upgrade wagtail-member-access.",
            id=f"wagtail_member_access.{code}",
        )
        for code, what in compat.problems()
    ]
