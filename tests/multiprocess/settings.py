"""The site the multiprocess test runs in real processes (gunicorn workers, a ``db_worker``):
the test suite's settings on PostgreSQL and Redis, every piece of state shared as
docs/deployment.md says, django-tasks-db as the task backend, a real SMTP server.

Everything comes from the environment the test sets (``WMA_MP_*``)."""

import os

import dj_database_url

from tests.settings import *  # noqa: F403

DATABASES = {"default": dj_database_url.parse(os.environ["WMA_MP_DATABASE_URL"])}
DATABASES["default"]["CONN_MAX_AGE"] = 0
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["WMA_MP_REDIS_URL"],
        "KEY_PREFIX": os.environ["WMA_MP_KEY_PREFIX"],
    }
}
# Sessions through the shared cache (and the database): a sign-out on one process holds on all.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SILENCED_SYSTEM_CHECKS = []

# django_tasks_db is in the test settings' INSTALLED_APPS already.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# The proxy in front sets the client's address in this header (docs/deployment.md#client-ip);
# the test sends it to play many clients from one machine.
RATELIMIT_IP_META_KEY = "HTTP_X_CLIENT_IP"
WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_EMAIL = "5/h"
WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_IP = "20/h"
WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_SITE = "10000/h"
WAGTAIL_MEMBER_ACCESS_RATE_VERIFY_PER_IP = "1000/h"
WAGTAIL_MEMBER_ACCESS_SEND_RETRY_DELAY = 1
WAGTAIL_MEMBER_ACCESS_SEND_LEASE = 6

_SMTP = {"host": "127.0.0.1", "port": int(os.environ["WMA_MP_SMTP_PORT"]), "timeout": 3}
if "MAILERS" in globals():  # Django 6.1
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": _SMTP | {"use_tls": False, "use_ssl": False},
        }
    }
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _SMTP["host"]
    EMAIL_PORT = _SMTP["port"]
    EMAIL_TIMEOUT = _SMTP["timeout"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
