"""Settings for the test suite: SQLite by default, PostgreSQL with DATABASE_URL, Redis for the
rate-limit cache with REDIS_URL."""

import importlib.util
import os

import dj_database_url
import django

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
USE_I18N = True

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "sqlite:///" + os.path.join(BASE_DIR, "test.sqlite3"))
    )
}
# Test databases on PostgreSQL get a per-process name, so that two runs (CI, a developer,
# the benchmarks) never fight over one.
DATABASES["default"]["TEST"] = (
    {"NAME": f"test_wma_{os.getpid()}"}
    if DATABASES["default"]["ENGINE"].endswith("postgresql")
    else {}
)

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"wma-tests-{os.getpid()}",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

INSTALLED_APPS = [
    "wagtail_member_access",
    "django_otp",
    # The worker backend's task rows (docs/deployment.md): wagtail_member_access.worker_rows.
    "django_tasks_db",
    "tests.testapp",
    "wagtail_localize",
    "wagtail_localize.locales",
    "wagtail.contrib.simple_translation",
    "wagtail.contrib.sitemaps",
    "wagtail.api.v2",
    "rest_framework",
    "django.contrib.sitemaps",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

# Wagtail's API v3 is new in Wagtail 8 (the suite also runs on 7.4, which has none).
if importlib.util.find_spec("wagtail.api.v3") is not None:
    INSTALLED_APPS += ["wagtail.api.v3"]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "tests.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(BASE_DIR, "static")
MEDIA_ROOT = os.path.join(BASE_DIR, "media")
WAGTAIL_SITE_NAME = "Test site"
WAGTAILADMIN_BASE_URL = "http://testserver"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if django.VERSION >= (6, 1):
    # Django 6.1 replaces EMAIL_BACKEND and the other EMAIL_* settings with MAILERS (the old
    # ones warn, and may not be set beside it).
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = "site@example.com"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if "REDIS_URL" not in os.environ:
    # The test suite runs in one process; CI also runs it against Redis.
    SILENCED_SYSTEM_CHECKS = ["wagtail_member_access.E006"]
