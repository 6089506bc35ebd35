"""System checks for settings that would make access control unsafe or broken."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from . import passwords
from .conf import app_settings
from .task_framework import IMMEDIATE_BACKENDS, task_backends

__all__ = [
    "check_api_basic_authentication",
    "check_deployment",
    "check_document_internals",
    "check_document_serve_method",
    "check_password_rules",
    "check_ratelimit_cache",
    "check_session_cache",
    "check_session_engine",
    "check_settings",
    "check_task_backend",
    "check_wagtail_internals",
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


def _session_engine() -> str:
    return getattr(settings, "SESSION_ENGINE", "django.contrib.sessions.backends.db")


def _cache_backend(alias: str) -> str:
    """The ``BACKEND`` of cache ``alias`` ("" when it is not configured)."""
    return getattr(settings, "CACHES", {}).get(alias, {}).get("BACKEND", "")


@checks.register(checks.Tags.security)
def check_session_engine(app_configs, **kwargs):
    if _session_engine() == "django.contrib.sessions.backends.signed_cookies":
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
    if alias not in getattr(settings, "CACHES", {}):
        return [
            checks.Error(
                f"The rate-limit cache {alias!r} is not in CACHES.",
                hint="Set RATELIMIT_USE_CACHE to a configured cache alias.",
                id="wagtail_member_access.E002",
            )
        ]
    backend = _cache_backend(alias)
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
    engine = _session_engine()
    if engine not in _CACHE_SESSIONS or settings.DEBUG:
        return []
    alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    backend = _cache_backend(alias)
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


# --- documents (docs/security.md#documents) ----------------------------------------------------


@checks.register(checks.Tags.security)
def check_document_serve_method(app_configs, **kwargs):
    """Member access on documents holds only when Wagtail's serve view hands out the file."""
    method = app_settings.WAGTAILDOCS_SERVE_METHOD
    if method == "direct":
        return [
            checks.Error(
                'WAGTAILDOCS_SERVE_METHOD = "direct": documents cannot be protected. Document '
                "links point straight at the storage, so nobody checks member access (or "
                "Wagtail's privacy) before the file is served.",
                hint='Remove WAGTAILDOCS_SERVE_METHOD or set it to "serve_view".',
                id="wagtail_member_access.E011",
            )
        ]
    if method == "redirect":
        return [
            checks.Warning(
                'WAGTAILDOCS_SERVE_METHOD = "redirect": a visitor who passed member access is '
                "redirected to the storage's own URL for the file, which anyone who learns it "
                "can open.",
                hint=_REDIRECT_HINT,
                id="wagtail_member_access.W010",
            )
        ]
    storage = _remote_document_storage() if method is None else None
    if storage is not None:
        return [
            checks.Warning(
                f"The documents' storage ({storage}) keeps no local files and "
                "WAGTAILDOCS_SERVE_METHOD is not set, so Wagtail redirects a visitor who "
                "passed member access to the storage's own URL for the file, which anyone "
                "who learns it can open.",
                hint=_REDIRECT_HINT,
                id="wagtail_member_access.W010",
            )
        ]
    return []


_REDIRECT_HINT = (
    'Set WAGTAILDOCS_SERVE_METHOD = "serve_view", or use a storage that signs short-lived '
    "URLs (e.g. S3 with querystring_auth) and silence wagtail_member_access.W010."
)


def _remote_document_storage() -> str | None:
    """The class path of the documents' storage when Wagtail's serve view would pick
    "redirect" for it (no local path, a URL: S3 and the like), else None."""
    from wagtail.documents import get_document_model

    storage = get_document_model()._meta.get_field("file").storage
    probe = "documents/wagtail-member-access-check.pdf"
    try:
        storage.path(probe)
    except NotImplementedError:
        try:
            storage.url(probe)
        except NotImplementedError:  # served through the view, read from the storage
            return None
        return f"{type(storage).__module__}.{type(storage).__qualname__}"
    return None


def _document_serve_route():
    """The view a document's URL resolves to (None when the URLconf has no
    ``wagtaildocs_serve``: then no document is served through it)."""
    from django.urls import NoReverseMatch, resolve, reverse

    try:
        return resolve(reverse("wagtaildocs_serve", args=[1, "check.pdf"])).func
    except NoReverseMatch:
        return None


def _reaches(view, marked) -> bool:
    # The override itself, or a decorator around it (``functools.wraps`` copies the mark
    # and sets ``__wrapped__``): what the URLconf captured when it was imported.
    for _ in range(10):
        if view is None:
            return False
        if marked(view):
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def _unmatched(level, cannot: str, hint: str, problems) -> list:
    """One message of ``level`` per ``(check id, what no longer matches)`` in ``problems``:
    the same words for every check of Wagtail's internals that the package relies on."""
    return [
        level(
            f"wagtail-member-access cannot {cannot}: {what}.",
            hint=hint,
            id=f"wagtail_member_access.{code}",
        )
        for code, what in problems
    ]


@checks.register(checks.Tags.compatibility, checks.Tags.urls)
def check_document_internals(app_configs, **kwargs):
    """The overrides of ``compat_documents`` are in place and Wagtail still asks what they
    answer: otherwise documents of protected collections would show in Wagtail's API."""
    import wagtail
    from wagtail.admin.views import collection_privacy, collections
    from wagtail.api.v2 import utils as v2_utils
    from wagtail.documents.views import serve
    from wagtail.models import Collection, CollectionViewRestriction

    from .compat import code_names
    from .compat_documents import OVERRIDE_MARK

    def marked(obj) -> bool:
        return bool(getattr(obj, OVERRIDE_MARK, False))

    problems = []
    if not marked(CollectionViewRestriction.accept_request):
        problems.append("CollectionViewRestriction.accept_request is not overridden")
    if not marked(Collection.get_view_restrictions):
        problems.append("Collection.get_view_restrictions is not overridden")
    if not marked(serve.serve):
        problems.append("the document serve view is not overridden")
    elif (route := _document_serve_route()) is not None and not _reaches(route, marked):
        problems.append(
            'the URL "wagtaildocs_serve" does not lead to the overridden document serve view'
        )
    if not marked(collection_privacy.set_privacy):
        problems.append("collection_privacy.set_privacy is not overridden")
    if not marked(collections.Edit.__dict__.get("header_more_buttons")):
        problems.append("the collection edit view's header_more_buttons is not overridden")
    if "accept_request" not in code_names(v2_utils.get_restricted_collection_ids):
        problems.append("the documents API v2 no longer asks accept_request")
    try:  # Wagtail 8 has an API v3; Wagtail 7.4 has none to check
        from wagtail.api.v3 import permissions as v3_permissions
    except ImportError:
        v3_permissions = None
    if v3_permissions and "accept_request" not in code_names(
        v3_permissions.get_restricted_collection_ids
    ):
        problems.append("the documents API v3 no longer asks accept_request")
    return _unmatched(
        checks.Error,
        f"protect documents with Wagtail {wagtail.__version__}",
        "Pin Wagtail 8.0.x or upgrade wagtail-member-access.",
        [("E012", problem) for problem in problems],
    )


# --- password guessing (docs/security.md#password-guessing) ------------------------------------


@checks.register(checks.Tags.security)
def check_api_basic_authentication(app_configs, **kwargs):
    """Django REST framework's ``BasicAuthentication`` (on by default) checks a password on
    every API request, outside the package's per-account and per-IP limits."""
    from django.apps import apps

    if not (apps.is_installed("rest_framework") or apps.is_installed("wagtail.api.v2")):
        return []
    try:
        from rest_framework.authentication import BasicAuthentication
        from rest_framework.settings import api_settings

        classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    except ImportError:  # not installed, or a class that cannot be imported: DRF says so
        return []
    basic = [c for c in classes if isinstance(c, type) and issubclass(c, BasicAuthentication)]
    if not basic:
        return []
    names = ", ".join(f"{c.__module__}.{c.__qualname__}" for c in basic)
    return [
        checks.Warning(
            f"Django REST framework authenticates API requests with {names} (in "
            "REST_FRAMEWORK's DEFAULT_AUTHENTICATION_CLASSES, or by its default): every "
            "request with an Authorization header checks a password, without the limits of "
            "wagtail-member-access's password sign-in, so passwords can be guessed through "
            "the API (Wagtail's /api/v2/ included).",
            hint='Set REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": '
            '["rest_framework.authentication.SessionAuthentication"]}, or rate-limit the '
            "API's basic authentication yourself and silence wagtail_member_access.W020.",
            id="wagtail_member_access.W020",
        )
    ]


@checks.register(checks.Tags.security)
def check_password_rules(app_configs, **kwargs):
    # docs/security.md#password-rules: members' passwords follow the site's validators, or
    # the package's own when the site has none. Say which, so nobody is surprised.
    if passwords.uses_fallback():
        return [
            checks.Info(
                "AUTH_PASSWORD_VALIDATORS is empty: members' passwords follow "
                f"wagtail-member-access's rules ({passwords.describe()}; at least 10 "
                "characters).",
                hint="Set AUTH_PASSWORD_VALIDATORS to choose the rules yourself.",
                id="wagtail_member_access.I001",
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

    return _unmatched(
        checks.Error,
        f"keep protected pages private with Wagtail {wagtail.__version__}",
        "Pin Wagtail 8.0.x, or upgrade wagtail-member-access.",
        compat.problems(),
    )


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


@checks.register(checks.Tags.compatibility)
def check_privacy_status(app_configs, **kwargs):
    # Not a leak when these no longer match (the page stays private for Wagtail): the status
    # panel, the padlock and the listing filters only stop naming the member access
    # (docs/editor-guide.md#privacy-status).
    from .admin import privacy_status

    return _unmatched(
        checks.Warning,
        "show member access in Wagtail's status panel or explorer",
        "Upgrade wagtail-member-access; pages stay private meanwhile.",
        [("W030", what) for what in privacy_status.problems()],
    )
